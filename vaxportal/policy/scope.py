"""Which facilities' recipient data an account reads or writes: one ``Scope`` per account
and request (``scope()``, kept on ``g``), and the thin functions the views call.

A scope is its own facility, plus for supervisors and reviewers everything below it (the
facility tree's materialized path: one range scan), plus for a support unit's account its
active delegations. Reviewers write nothing; admins read nothing (P2.1, P2.2). Another
scope's object answers 404, never 403, so ids of other facilities reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa
from flask import abort, g, has_app_context

from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, Facility
from vaxportal.facilities.tree import path_range_ids, subtree_bounds, subtree_ids
from vaxportal.policy.delegation import delegated_facility_ids, may_receive_delegation
from vaxportal.policy.roles import Perm, has_perm, has_subtree_scope
from vaxportal.timeutil import local_today

#: more facilities than this in scope and the scope is "wide" (a district, a province):
#: searches walk the name index instead of gathering the scope (``RegisterFilter._scoped``)
WIDE_SCOPE = 3
_CACHE = "_policy_scopes"
#: the values of a scope's condition, by name: literal in ``condition`` / ``filter``, named
#: parameters in ``bound_filter``
_VALUE_TYPES = {"scope_facility": Facility.id.type, "scope_low": Facility.path.type,
                "scope_high": Facility.path.type, "scope_account": Delegation.account_id.type,
                "scope_today": Delegation.starts_on.type}


class Scope:
    """The facilities whose recipient data one account reads (or, for ``writable``, writes).

    Nothing is queried when it is made: ``filter`` adds a condition to a statement, and
    ``contains`` / ``contains_many`` ask once for a set of facility ids and remember the
    answers for the rest of the request."""

    def __init__(self, account: Account | None, *, write: bool = False) -> None:
        need = Perm.write_recipients if write else Perm.read_recipients
        self.account = account
        self.write = write
        self.allowed = has_perm(account, need)
        self.facility_id = account.facility_id if self.allowed else None
        self.subtree = self.allowed and has_subtree_scope(account)
        self._known: dict[int, bool] = {}
        self._wide: bool | None = None
        self._form_found: str | None = None
        self._choices: list[tuple[int, str]] | None = None
        self._writable: Scope | None = self if write else None

    @property
    def ids(self) -> sa.Select:
        """``SELECT id`` of the facilities in scope (none without the permission)."""
        return self._ids(self._literal(self._form()))

    def condition(self, facility_column) -> sa.ColumnElement[bool]:
        """The WHERE clause "``facility_column`` lies in the scope": for a scope of one
        facility (``shape``), an equality the facility index can seek (and serve the ORDER
        BY from), not a sub-select the planner cannot see into."""
        if not self.allowed:
            return sa.false()
        if self.shape == "one":
            return facility_column == self._literal("one")("scope_facility")
        return facility_column.in_(self.ids)

    def filter(self, stmt: sa.Select, facility_column) -> sa.Select:
        """``stmt`` restricted to rows whose ``facility_column`` lies in the scope."""
        return stmt.where(self.condition(facility_column))

    @property
    def shape(self) -> str:
        """The form ``filter`` gives the condition: ``none`` (no permission, or no such
        facility: nothing), ``one`` (one facility: an equality; the account's own facility
        when it holds no delegation, or the one facility ``remember_choices`` learnt),
        ``subtree`` (a range of paths) or ``own`` (a support unit's account: its facility
        and its active delegations). ``bound_filter`` writes the same SQL for every scope of
        one shape, so a hot query may be built once per shape and run with
        ``parameters()``."""
        if self._choices is not None and len(self._choices) == 1 and self.allowed:
            return "one"
        form = self._form()
        return "one" if form == "alone" else form

    def parameters(self) -> dict[str, object]:
        """The values of ``bound_filter``'s named parameters for this scope."""
        return self._values(self.shape)

    def bound_filter(self, stmt: sa.Select, facility_column) -> sa.Select:
        """``filter`` with the scope's values as named parameters (``scope_*``), the same
        statement for every scope of the same ``shape``."""
        shape = self.shape
        if shape == "none":
            return stmt.where(sa.false())
        if shape == "one":
            return stmt.where(facility_column == self._named("scope_facility"))
        return stmt.where(facility_column.in_(self._ids(self._named)))

    def _form(self) -> str:
        """The form of ``condition``: ``none``, ``subtree``, ``own`` (the facility and the
        active delegations of an account that may receive them) or ``alone`` (the account's
        facility, the whole scope of an account no delegation is given to: the planner then
        sees the one facility, and seeks its rows in name order by the ``(facility_id,
        name_key, id)`` index instead of walking the province's names)."""
        if self._form_found is None:  # asked several times a request (shape, values, ids)
            if not self.allowed:
                self._form_found = "none"
            elif self.subtree:
                self._form_found = ("subtree" if subtree_bounds(self.facility_id) is not None
                                    else "none")
            else:
                self._form_found = "own" if may_receive_delegation(self.account) else "alone"
        return self._form_found

    def _values(self, shape: str) -> dict[str, object]:
        if shape == "one" and self._choices is not None and len(self._choices) == 1:
            return {"scope_facility": self._choices[0][0]}
        if shape in ("one", "alone"):  # the account's facility, its whole scope
            return {"scope_facility": self.facility_id}
        if shape == "subtree":
            low, high = subtree_bounds(self.facility_id)
            return {"scope_low": low, "scope_high": high}
        if shape == "own":
            return {"scope_facility": self.facility_id, "scope_account": self.account.id,
                    "scope_today": local_today()}
        return {}

    def _ids(self, value: Callable[[str], sa.BindParameter]) -> sa.Select:
        """The one form of ``SELECT id`` of the facilities in scope; ``value(name)`` gives
        each of its values as SQL (a literal of this scope, or a named parameter)."""
        form = self._form()
        if form == "none":
            return sa.select(Facility.id).where(sa.false())
        if form == "subtree":
            return path_range_ids(value("scope_low"), value("scope_high"))
        own = sa.select(value("scope_facility").label("id"))
        if form == "alone":
            return own
        return sa.union(own, delegated_facility_ids(value("scope_account"),
                                                    value("scope_today")))

    def _literal(self, shape: str) -> Callable[[str], sa.BindParameter]:
        values = self._values(shape)
        return lambda name: sa.bindparam(name, values[name], type_=_VALUE_TYPES[name],
                                         unique=True)

    @staticmethod
    def _named(name: str) -> sa.BindParameter:
        return sa.bindparam(name, type_=_VALUE_TYPES[name])

    def filter_below(self, stmt: sa.Select, facility_column, node_id: int) -> sa.Select:
        """``stmt`` restricted to the scope and, within it, to the facilities at or below
        ``node_id`` (a report drilled down to one branch of the tree)."""
        return self.filter(stmt.where(at_or_below(facility_column, node_id)), facility_column)

    def covers_below(self, node_id: int) -> bool:
        """Is every facility at or below ``node_id`` in scope? (then a figure summed over
        the whole branch, like the coverage tally, is the scope's figure). A subtree scope
        holding the node holds its branch; any other asks whether one lies outside."""
        if not self.contains(node_id):
            return False
        if self.subtree:
            return True
        outside = sa.select(Facility.id).where(at_or_below(Facility.id, node_id),
                                               sa.not_(self.condition(Facility.id)))
        return not db.session.scalar(sa.select(outside.exists()))

    def contains(self, facility_id: int | None) -> bool:
        return facility_id is not None and facility_id in self.contains_many([facility_id])

    def contains_many(self, facility_ids: Iterable[int | None]) -> set[int]:
        """Those of ``facility_ids`` that lie in the scope, in at most one query."""
        asked = {fid for fid in facility_ids if fid is not None}
        if not self.allowed:
            return set()
        if self._choices is not None:  # the whole scope is known
            return asked & {fid for fid, _name in self._choices}
        unknown = asked - self._known.keys()
        if self.facility_id in unknown:
            self._known[self.facility_id] = True  # one's own facility is always in scope
            unknown.discard(self.facility_id)
        if unknown:
            found = set(db.session.scalars(sa.select(Facility.id).where(
                Facility.id.in_(sorted(unknown)), self.condition(Facility.id))))
            self._known.update({fid: fid in found for fid in unknown})
        return {fid for fid in asked if self._known.get(fid)}

    @property
    def is_wide(self) -> bool:
        """More than a few facilities (``WIDE_SCOPE``) lie in the scope."""
        if self._wide is None:
            self._wide = self.allowed and self._count(limit=WIDE_SCOPE + 1) > WIDE_SCOPE
        return self._wide

    @property
    def writable(self) -> Scope:
        """The facilities whose data the same account may change."""
        if self._writable is None:
            self._writable = Scope(self.account, write=True)
        return self._writable

    def facility_choices(self) -> list[tuple[int, str]]:
        """(id, name) of the facilities in scope, by name: a form's choices."""
        if self._choices is None:
            rows = db.session.execute(self.choices_statement().order_by(Facility.name))
            self.remember_choices([(row.id, row.name) for row in rows])
        return list(self._choices)

    def choices_statement(self) -> sa.Select:
        """``SELECT id, name`` of the facilities in scope, to run alone or in a caller's
        union (then hand the rows back with ``remember_choices``)."""
        return self.filter(sa.select(Facility.id, Facility.name), Facility.id)

    def remember_choices(self, choices: Iterable[tuple[int, str]]) -> None:
        """The rows ``choices_statement`` gave: from now on the scope answers ``is_wide``,
        ``contains`` and one-facility filters without asking the database again."""
        self._choices = sorted(choices, key=lambda choice: choice[1])
        self._wide = len(self._choices) > WIDE_SCOPE

    def known_facility_ids(self) -> list[int]:
        """The facilities in scope as ``remember_choices`` learnt them (none before)."""
        return [fid for fid, _name in self._choices or ()]

    def facility_ids(self) -> set[int]:
        return set(db.session.scalars(self.ids)) if self.allowed else set()

    def facility_count(self) -> int:
        return self._count() if self.allowed else 0

    def _count(self, limit: int | None = None) -> int:
        ids = self.ids if limit is None else sa.select(self.ids.subquery()).limit(limit)
        return db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0


def at_or_below(facility_column, node_id: int) -> sa.ColumnElement[bool]:
    """The WHERE clause "``facility_column`` is ``node_id`` or a facility below it" (a report
    or a due list of one branch of the tree); the account's scope is applied apart."""
    return facility_column.in_(subtree_ids(node_id))


def scope(account: Account | None = None) -> Scope:
    """The read scope of ``account`` (default: the signed-in one), made once per request;
    its write scope is ``scope().writable``."""
    account = current_account() if account is None else account
    if not has_app_context():
        return Scope(account)
    cache = g.setdefault(_CACHE, {})
    key = getattr(account, "id", None)
    if key not in cache:
        cache[key] = Scope(account)
    return cache[key]


def forget_scopes() -> None:
    """Drop the scopes kept for this request (a benchmark's "new request")."""
    if has_app_context():
        g.pop(_CACHE, None)


def _chosen(account: Account | None, write: bool) -> Scope:
    read = scope(account)
    return read.writable if write else read


def scope_facility_ids(account: Account, *, write: bool = False) -> sa.Select:
    """``SELECT id`` of the facilities whose recipient data the account may read (or write)."""
    return _chosen(account, write).ids


def scoped(stmt: sa.Select, facility_column, account: Account | None = None,
           *, write: bool = False) -> sa.Select:
    """Restrict a query on recipient data to the account's scope."""
    return _chosen(account, write).filter(stmt, facility_column)


def in_scope(facility_id: int, account: Account | None = None, *, write: bool = False) -> bool:
    return _chosen(account, write).contains(facility_id)


def get_in_scope_or_404(model, object_id: int, *, write: bool = False, account=None,
                        options=()):
    """Load one object of recipient data; another scope's object answers 404, not 403, so
    ids of other facilities reveal nothing. ``options``: what the page shows with it
    (``selectinload`` ...), loaded now, since a template loads nothing."""
    obj = db.session.get(model, object_id, options=options, populate_existing=bool(options))
    if obj is None or not _chosen(account, write).contains(obj.facility_id):
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
    account = current_account() if account is None else account
    obj = db.session.get(model, object_id)
    if obj is None or obj.account_id != getattr(account, "id", None):
        abort(404)
    return obj
