"""Who may do what: the role -> permission table and the view decorators.

Admin accounts hold no data permission at all (P2.1, P2.2): they manage facilities and
accounts, and read account and security events only. Every question about a role is
answered here (or elsewhere in ``vaxportal.policy``), never by comparing ``account.role``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps

from blinker import Namespace
from flask import abort, request

from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account, Role
from vaxportal.extensions import login_manager
from vaxportal.facilities.models import Facility, FacilityKind

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
    manage_targets = "manage_targets"
    issue_certificates = "issue_certificates"


DATA_PERMS = frozenset({
    Perm.read_recipients, Perm.write_recipients, Perm.record_doses, Perm.export_recipients,
    Perm.import_recipients, Perm.cross_facility_lookup, Perm.resolve_duplicates,
    Perm.read_data_audit, Perm.read_reports, Perm.manage_targets, Perm.issue_certificates,
})

_ENTRY = frozenset({
    Perm.read_recipients, Perm.write_recipients, Perm.record_doses, Perm.export_recipients,
    Perm.import_recipients, Perm.cross_facility_lookup,
})

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.admin: frozenset({Perm.manage_facilities, Perm.manage_accounts,
                           Perm.read_security_audit, Perm.decide_account_actions}),
    # vaccination certificates: the data-entry account of the recipient's facility only;
    # reports: its own facility's coverage and the people due there (issue 15)
    Role.data_entry: _ENTRY | {Perm.issue_certificates, Perm.decide_account_actions,
                               Perm.read_reports},
    # target populations are entered by the supervisor of the facilities below it
    Role.supervisor: _ENTRY | {Perm.resolve_duplicates, Perm.read_data_audit, Perm.read_reports,
                               Perm.manage_targets, Perm.decide_account_actions},
    Role.reviewer: frozenset({Perm.read_recipients, Perm.export_recipients,
                              Perm.read_data_audit, Perm.read_reports}),
}

#: roles whose scope is the whole subtree below their facility; others see their own facility
SUBTREE_ROLES = frozenset({Role.supervisor, Role.reviewer})
#: the kinds of facility whose IT unit may hold an administrator account (P4.1)
ADMIN_KINDS = frozenset({FacilityKind.ministry, FacilityKind.provincial_doh})


def has_perm(account: Account | None, perm: Perm) -> bool:
    if account is None or not getattr(account, "is_authenticated", False):
        return False
    return perm in ROLE_PERMS.get(account.role, frozenset())


def may(perm: Perm) -> bool:
    """The signed-in account holds ``perm`` (templates call it as ``has_perm(Perm.x)``)."""
    return has_perm(current_account(), perm)


def is_role(value: object) -> bool:
    """``value`` names one of the roles (a form's or a stored change's value)."""
    return isinstance(value, str) and value in ROLE_PERMS


def is_admin(account: Account | None) -> bool:
    """An administrator account: manages accounts, never recipient data (P2.1, P2.2)."""
    return account is not None and account.role == Role.admin


def has_subtree_scope(account: Account) -> bool:
    """Supervisors and reviewers read (and supervisors write) their whole subtree."""
    return account.role in SUBTREE_ROLES


def may_confirm_day(facility_id: int | None, account: Account | None = None) -> bool:
    """A facility's daily report is confirmed by the facility's own data-entry account only
    (issue 15): not by a supervisor or reviewer above it, nor by a support unit's account
    delegated to it (the view answers 404 to anyone else, as for another scope)."""
    account = current_account() if account is None else account
    return (has_perm(account, Perm.record_doses) and not has_subtree_scope(account)
            and facility_id is not None and facility_id == account.facility_id)


def role_fits_facility(role: str, facility: Facility) -> bool:
    """The administrator role only on the IT unit of the Ministry or of a Department of
    Health (P4.1), never on a station; every other role on any facility."""
    return role != Role.admin or facility.kind in ADMIN_KINDS


def _refuse(permission: str):
    permission_refused.send(current_account(), permission=permission, endpoint=request.endpoint)
    abort(403)


def _guarded(view: Callable, refused: Callable[[Account], str | None]) -> Callable:
    """``view`` behind the sign-in and ``refused(account)``: the permission it lacks (the
    request answers 403 and the refusal is traced), or None to go on."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        account = current_account()
        if account is None:
            return login_manager.unauthorized()
        missing = refused(account)
        if missing is not None:
            _refuse(missing)
        return view(*args, **kwargs)

    return wrapped


def permission_required(*perms: Perm) -> Callable:
    """Refuse (403) unless the signed-in account holds every permission named."""

    def decorator(view: Callable) -> Callable:
        wrapped = _guarded(view, lambda account: next(
            (perm for perm in perms if not has_perm(account, perm)), None))
        wrapped.required_perms = perms  # read by the authorization-matrix test
        return wrapped

    return decorator


def any_permission_required(*perms: Perm) -> Callable:
    """Refuse (403) unless the signed-in account holds at least one permission named
    (the audit trail: data-audit readers and security-audit readers share one page)."""

    def decorator(view: Callable) -> Callable:
        wrapped = _guarded(view, lambda account: None if any(
            has_perm(account, perm) for perm in perms) else "|".join(perms))
        wrapped.any_of_perms = perms  # read by the authorization-matrix test
        return wrapped

    return decorator
