"""What the admin pages show: the tree a page at a time, and each facility's accounts.

Nothing here reads recipient data (P2.1): only facilities, accounts, custodians, sessions and
written requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased, joinedload, selectinload

from vaxportal.auth.models import Account, AccountStatus, UserSession, WrittenRequest
from vaxportal.extensions import db
from vaxportal.facilities import tree
from vaxportal.facilities.models import Delegation, Facility
from vaxportal.text import fold, prefix_range
from vaxportal.timeutil import utcnow

DEFAULT_LEVELS = 2


@dataclass
class TreeQuery:
    """The tree's filter: a subtree (``root``), code prefix or folded name part, kind."""

    q: str = ""
    kind: str = ""
    root: Facility | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.kind)

    def statement(self) -> sa.Select:
        """Facilities in tree order (the materialized path). Unfiltered, only the top
        ``DEFAULT_LEVELS`` levels below the root show; a row's link opens its own subtree."""
        stmt = sa.select(Facility).order_by(Facility.path)
        if self.root is not None:
            low, high = prefix_range(self.root.path)
            stmt = stmt.where(Facility.path >= low, Facility.path < high)
        if self.q:
            code = tree.normalize_code(self.q)
            stmt = stmt.where(sa.or_(
                sa.and_(Facility.code >= code, Facility.code < code + "\uffff"),
                Facility.name_key.contains(fold(self.q), autoescape=True),
            ))
        if self.kind:
            stmt = stmt.where(Facility.kind == self.kind)
        if not self.filtered:
            stmt = stmt.where(tree.depth_column() <= self.top_depth + DEFAULT_LEVELS)
        return stmt

    @property
    def top_depth(self) -> int:
        """The depth shown without indentation: the root's, or the tree's first level."""
        return self.root.depth if self.root is not None else 1


@dataclass
class Row:
    facility: Facility
    level: int
    children: int
    accounts: list[Account]


def tree_rows(facilities: list[Facility], top_depth: int) -> list[Row]:
    ids = [f.id for f in facilities]
    children = child_counts(ids)
    accounts = shown_accounts(ids)
    return [Row(f, max(f.depth - top_depth, 0), children.get(f.id, 0), accounts.get(f.id, []))
            for f in facilities]


def child_counts(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Facility.parent_id, sa.func.count(Facility.id))
        .where(Facility.parent_id.in_(ids)).group_by(Facility.parent_id)
    )
    return dict(rows.all())


#: what a page of one account shows with it
ACCOUNT_PAGE = (joinedload(Account.facility), selectinload(Account.custodians))


def reload(obj, *options):
    """``obj`` loaded again with what its page shows (a commit or a rollback expired it)."""
    model = type(obj)
    return db.session.scalars(
        sa.select(model).where(model.id == obj.id).options(*options)
        .execution_options(populate_existing=True)
    ).one()


def shown_accounts(ids: list[int]) -> dict[int, list[Account]]:
    """Per facility: its live accounts or, when it has none, its last revoked one."""
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(Account).where(Account.facility_id.in_(ids))
        .options(selectinload(Account.custodians))
        .order_by(Account.facility_id, Account.id.desc())
    )
    grouped: dict[int, list[Account]] = {}
    for account in rows:
        grouped.setdefault(account.facility_id, []).append(account)
    return {fid: [a for a in accounts if a.status != AccountStatus.revoked] or accounts[:1]
            for fid, accounts in grouped.items()}


def facility_accounts(facility_id: int) -> list[Account]:
    return list(db.session.scalars(
        sa.select(Account).where(Account.facility_id == facility_id)
        .options(selectinload(Account.custodians))
        .order_by(Account.id.desc())
    ))


def open_sessions(account_id: int) -> int:
    """Sessions not ended and not idle past the time-out."""
    idle = timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))
    return db.session.scalar(
        sa.select(sa.func.count(UserSession.id)).where(
            UserSession.account_id == account_id, UserSession.ended_at.is_(None),
            UserSession.last_seen_at > utcnow() - idle,
        )
    )


def written_requests(account_id: int) -> list[sa.Row]:
    """The account's written requests, newest first, with the acting admin's username."""
    actor = aliased(Account)
    return list(db.session.execute(
        sa.select(WrittenRequest, actor.username)
        .outerjoin(actor, actor.id == WrittenRequest.actor_id)
        .where(WrittenRequest.account_id == account_id)
        .order_by(WrittenRequest.created_at.desc(), WrittenRequest.id.desc())
    ).all())


def delegations(account_id: int) -> list[Delegation]:
    return list(db.session.scalars(
        sa.select(Delegation).where(Delegation.account_id == account_id)
        .options(joinedload(Delegation.facility))
        .order_by(Delegation.ends_on.desc(), Delegation.id.desc())
    ))
