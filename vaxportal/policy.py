"""Who may do what, to which data: the ONE place that answers it.

Views stack ``permission_required`` and pass queries through ``scoped``; nothing else decides
access. Admin accounts hold no data permission at all (P2.1, P2.2): they manage facilities and
accounts, and read account and security events only.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from blinker import Namespace
from flask import abort, current_app, request
from flask_login import current_user

from vaxportal.auth.models import Account, Role
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, Facility, PendingAction
from vaxportal.facilities.tree import subtree_ids
from vaxportal.validators import local_today

signals = Namespace()
#: sent with (account, permission, endpoint) whenever a signed-in account is refused
permission_refused = signals.signal("permission-refused")


class Perm(enum.StrEnum):
    # account and platform management (P2.3: the only things an admin account is for)
    manage_facilities = "manage_facilities"
    manage_accounts = "manage_accounts"
    read_security_audit = "read_security_audit"
    # two people for access (P2.1): decide another person's pending account action
    decide_account_actions = "decide_account_actions"
    # recipient data
    read_recipients = "read_recipients"
    write_recipients = "write_recipients"
    record_doses = "record_doses"
    export_recipients = "export_recipients"
    import_recipients = "import_recipients"
    cross_facility_lookup = "cross_facility_lookup"
    resolve_duplicates = "resolve_duplicates"
    read_data_audit = "read_data_audit"
    read_reports = "read_reports"
    issue_certificates = "issue_certificates"


DATA_PERMS = frozenset({
    Perm.read_recipients, Perm.write_recipients, Perm.record_doses, Perm.export_recipients,
    Perm.import_recipients, Perm.cross_facility_lookup, Perm.resolve_duplicates,
    Perm.read_data_audit, Perm.read_reports, Perm.issue_certificates,
})

_ENTRY = frozenset({
    Perm.read_recipients, Perm.write_recipients, Perm.record_doses, Perm.export_recipients,
    Perm.import_recipients, Perm.cross_facility_lookup,
})

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.admin: frozenset({Perm.manage_facilities, Perm.manage_accounts,
                           Perm.read_security_audit, Perm.decide_account_actions}),
    # vaccination certificates: the data-entry account of the recipient's facility only
    Role.data_entry: _ENTRY | {Perm.issue_certificates, Perm.decide_account_actions},
    Role.supervisor: _ENTRY | {Perm.resolve_duplicates, Perm.read_data_audit, Perm.read_reports,
                               Perm.decide_account_actions},
    Role.reviewer: frozenset({Perm.read_recipients, Perm.export_recipients,
                              Perm.read_data_audit, Perm.read_reports}),
}

# Roles whose scope is the whole subtree below their facility; others see their own facility.
SUBTREE_ROLES = frozenset({Role.supervisor, Role.reviewer})


def has_perm(account: Account | None, perm: Perm) -> bool:
    if account is None or not getattr(account, "is_authenticated", False):
        return False
    return perm in ROLE_PERMS.get(account.role, frozenset())


# -- who sees a recipient's identifiers in full (P1) ---------------------------------------

#: a recipient's identifiers: shown in full only to accounts that need them
IDENTITY_FIELDS = ("national_id", "insurance_number", "phone")


def sees_full_identity(account: Account | None = None) -> bool:
    """Accounts that write recipient data see identifiers in full; read-only accounts
    (reviewers) see them masked unless the platform allows it (REVIEWER_SEES_FULL_IDS).
    The register, the export and the audit trail all ask here."""
    account = current_user if account is None else account
    return has_perm(account, Perm.write_recipients) or bool(
        current_app.config.get("REVIEWER_SEES_FULL_IDS")
    )


def mask_identifier(value: str | None) -> str:
    """``*********789``: the ONE masked form of an identifier (or of a search term holding
    one), on every screen, in every export and in the audit trail."""
    if not value:
        return ""
    if len(value) < 2:
        return "*" * len(value)
    keep = 3 if len(value) > 6 else 1
    return "*" * (len(value) - keep) + value[-keep:]


def shown_identifier(value: str | None, account: Account | None = None) -> str:
    """An identifier as ``account`` (default: the signed-in one) may see it."""
    return (value or "") if sees_full_identity(account) else mask_identifier(value)


def permission_required(*perms: Perm) -> Callable:
    """Refuse (403) unless the signed-in account holds every permission named."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from vaxportal.extensions import login_manager
                return login_manager.unauthorized()
            for perm in perms:
                if not has_perm(current_user, perm):
                    permission_refused.send(
                        current_user._get_current_object(), permission=perm,
                        endpoint=request.endpoint,
                    )
                    abort(403)
            return view(*args, **kwargs)

        wrapped.required_perms = perms  # read by the authorization-matrix test
        return wrapped

    return decorator


def any_permission_required(*perms: Perm) -> Callable:
    """Refuse (403) unless the signed-in account holds at least one permission named
    (the audit trail: data-audit readers and security-audit readers share one page)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from vaxportal.extensions import login_manager
                return login_manager.unauthorized()
            if not any(has_perm(current_user, perm) for perm in perms):
                permission_refused.send(
                    current_user._get_current_object(), permission="|".join(perms),
                    endpoint=request.endpoint,
                )
                abort(403)
            return view(*args, **kwargs)

        wrapped.any_of_perms = perms  # read by the authorization-matrix test
        return wrapped

    return decorator


def scope_facility_ids(account: Account, *, write: bool = False) -> sa.Select:
    """``SELECT id`` of the facilities whose recipient data the account may read (or write)."""
    need = Perm.write_recipients if write else Perm.read_recipients
    if not has_perm(account, need):
        return sa.select(Facility.id).where(sa.false())
    if account.role in SUBTREE_ROLES:
        return subtree_ids(account.facility_id)
    today = local_today()  # delegation days are days in Vietnam, not on the server's clock
    delegated = sa.select(Delegation.facility_id).where(
        Delegation.account_id == account.id,
        Delegation.starts_on <= today,
        Delegation.ends_on >= today,
        Delegation.ended_at.is_(None),
    )
    return sa.union(sa.select(sa.literal(account.facility_id).label("id")), delegated)


def scoped(stmt: sa.Select, facility_column, account: Account | None = None,
           *, write: bool = False) -> sa.Select:
    """Restrict a query on recipient data to the account's scope."""
    account = account or current_user
    return stmt.where(facility_column.in_(scope_facility_ids(account, write=write)))


def in_scope(facility_id: int, account: Account | None = None, *, write: bool = False) -> bool:
    account = account or current_user
    ids = scope_facility_ids(account, write=write).subquery()
    stmt = sa.select(sa.literal(True)).where(sa.literal(facility_id).in_(sa.select(ids)))
    return bool(db.session.scalar(stmt))


def get_in_scope_or_404(model, object_id: int, *, write: bool = False, account=None,
                        options=()):
    """Load one object of recipient data; another scope's object answers 404, not 403, so
    ids of other facilities reveal nothing. ``options``: what the page shows with it
    (``selectinload`` ...), loaded now, since a template loads nothing."""
    obj = db.session.get(model, object_id, options=options, populate_existing=bool(options))
    if obj is None or not in_scope(obj.facility_id, account, write=write):
        abort(404)
    return obj


def scope_loader(model, arg: str, *, write: bool = False) -> Callable[..., object]:
    """A loader for ``fresh_otp_required(load=...)``: ``model`` by the view's URL argument
    ``arg``, through ``get_in_scope_or_404`` (404 outside the account's scope)."""

    def load(**view_args):
        return get_in_scope_or_404(model, view_args[arg], write=write)

    return load


def get_own_or_404(model, object_id, account: Account | None = None):
    """Load an object that only the account that made it may use (an export or import job,
    by its ``account_id``); anyone else's answers 404."""
    account = account or current_user
    obj = db.session.get(model, object_id)
    if obj is None or obj.account_id != getattr(account, "id", None):
        abort(404)
    return obj


# -- two people for access (P2.1) --------------------------------------------------------------

#: pending actions a second admin decides; a delegation is decided by the data owner
DELEGATION = "delegate"


def decidable(stmt: sa.Select, account: Account | None = None) -> sa.Select:
    """Restrict a query on ``PendingAction`` to those the account may approve or refuse:
    undecided ones, never its own request; an admin decides issues, hand-overs and role or
    phone changes; a delegation is decided by the delegated facility's own account (the data
    owner)."""
    account = account or current_user
    if not has_perm(account, Perm.decide_account_actions):
        return stmt.where(sa.false())
    stmt = stmt.where(PendingAction.status == "pending",
                      PendingAction.requested_by_id != account.id)
    if account.role == Role.admin:
        return stmt.where(PendingAction.kind != DELEGATION)
    return stmt.where(PendingAction.kind == DELEGATION,
                      PendingAction.facility_id == account.facility_id)


def get_decidable_or_404(pending_id: int, account: Account | None = None) -> PendingAction:
    """One pending action the account may decide; any other answers 404."""
    stmt = decidable(sa.select(PendingAction).where(PendingAction.id == pending_id), account)
    obj = db.session.scalar(stmt)
    if obj is None:
        abort(404)
    return obj
