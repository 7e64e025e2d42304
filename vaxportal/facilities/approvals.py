"""Two people for access (P2.1): an account action that gives a person access to recipient
data waits for a second person's approval.

The actions are an issue, a hand-over, a change of role or registered phone, and a
delegation. With ``ACCOUNT_APPROVAL = "two_admins"`` (the default) the admin's request is
checked by the same rules as the action (``lifecycle.check_*``) and kept as a
``PendingAction``; it takes effect only when another person approves it with their own fresh
OTP: a different admin, or for a delegation the delegated facility's own account (the data
owner). Who may decide what is ``policy.decidable``. The requester never decides their own
request. Each request, approval, refusal and expiry is an account event. ``none`` applies the
action at once (a one-person trial; a warning is logged at start).

Like ``lifecycle``, nothing here commits: the view commits once.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from vaxportal.audit import events
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.facilities import lifecycle
from vaxportal.facilities.lifecycle import LifecycleError, RequestRef
from vaxportal.facilities.models import Facility, PendingAction, PendingStatus
from vaxportal.policy import decidable
from vaxportal.timeutil import utcnow
from vaxportal.validators import format_date_vn

MODES = ("two_admins", "none")

#: the kinds of account action that wait for a second person's approval
KIND_LABELS = {
    "issue": _l("Cấp tài khoản"),
    "hand_over": _l("Bàn giao tài khoản"),
    "change_details": _l("Đổi vai trò hoặc số điện thoại đăng ký"),
    "delegate": _l("Uỷ quyền nhập liệu"),
}


def init_app(app: Flask) -> None:
    mode = app.config["ACCOUNT_APPROVAL"]
    if mode not in MODES:
        raise RuntimeError(f"VAXPORTAL_ACCOUNT_APPROVAL must be one of {MODES}, not {mode!r}")
    if mode == "none":
        app.logger.warning(
            "VAXPORTAL_ACCOUNT_APPROVAL=none: account issues, hand-overs, role and phone "
            "changes and delegations take effect without a second person's approval. Use it "
            "only for a one-person trial, never in production (P2.1).")


def required() -> bool:
    return current_app.config["ACCOUNT_APPROVAL"] != "none"


# -- requests --------------------------------------------------------------------------------


def issue(facility: Facility, username: str, role: str, phone: str, custodian: dict,
          actor: Account):
    """Issue an account, or ask for it: the ``Account``, or the ``PendingAction``."""
    if not required():
        return lifecycle.issue_account(facility, username, role, phone, custodian, actor=actor)
    checked = lifecycle.check_issue(facility, username, role, phone, custodian, actor)
    return _request("issue", actor, facility, None, checked, None)


def _facility_of(account: Account) -> Facility:
    return db.session.get(Facility, account.facility_id)  # held already, or one query


def hand_over(account: Account, custodian: dict, new_phone: str | None, ref: RequestRef):
    if not required():
        return lifecycle.hand_over(account, custodian, new_phone, ref)
    checked = lifecycle.check_hand_over(account, custodian, new_phone, ref)
    params = {"custodian": checked["custodian"], "new_phone": checked["phone"]}
    return _request("hand_over", ref.actor, _facility_of(account), account, params, ref)


def change_details(account: Account, changes: dict, ref: RequestRef):
    """A change of role or registered phone waits for approval (with whatever else the same
    request changes); other details change at once."""
    if required():
        wanted = lifecycle.check_change_details(account, changes, ref)
        if lifecycle.gives_access(account, wanted):
            return _request("change_details", ref.actor, _facility_of(account), account,
                            {"changes": changes}, ref)
    return lifecycle.change_details(account, changes, ref)


def delegate(account: Account, facility: Facility, starts_on: date, ends_on: date,
             ref: RequestRef):
    if not required():
        return lifecycle.delegate(account, facility, starts_on, ends_on, ref)
    lifecycle.check_delegate(account, facility, starts_on, ends_on, ref)
    params = {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()}
    return _request("delegate", ref.actor, facility, account, params, ref)


def _request(kind: str, requester: Account, facility: Facility, account: Account | None,
             params: dict, ref: RequestRef | None) -> PendingAction:
    pending = PendingAction(
        kind=kind, account_id=account.id if account else None, facility_id=facility.id,
        params=params, requested_by_id=requester.id,
        ref_number=ref.number if ref else None, ref_date=ref.date if ref else None,
        reason=" ".join(ref.reason.split()) if ref else None,
    )
    db.session.add(pending)
    db.session.flush()
    _event(pending, "request", requester)
    return pending


# -- decisions -------------------------------------------------------------------------------


def expired(pending: PendingAction) -> bool:
    hours = int(current_app.config["ACCOUNT_APPROVAL_HOURS"])
    return pending.requested_at < utcnow() - timedelta(hours=hours)


def approve(pending: PendingAction, approver: Account) -> str:
    """Run the action as requested, approved by ``approver`` (already checked by
    ``policy.get_decidable_or_404``). Returns the new status: ``approved`` or ``expired``;
    a rule the action no longer meets raises ``LifecycleError`` (nothing changes)."""
    if _closed(pending, approver):
        return pending.status
    requester = db.session.get(Account, pending.requested_by_id)
    ref = RequestRef(pending.ref_number, pending.ref_date, pending.reason, requester)
    result = APPLY[pending.kind](pending, ref, approver)
    if pending.kind == "issue":
        pending.account_id = result.id
    _decided(pending, PendingStatus.approved, approver)
    return pending.status


def refuse(pending: PendingAction, approver: Account) -> str:
    if _closed(pending, approver):
        return pending.status
    _decided(pending, PendingStatus.refused, approver)
    return pending.status


def _closed(pending: PendingAction, approver: Account) -> bool:
    if pending.status != PendingStatus.pending:
        raise LifecycleError(_("Yêu cầu này đã được xử lý."))
    if expired(pending):
        _decided(pending, PendingStatus.expired, approver)
        return True
    return False


def _decided(pending: PendingAction, status: str, approver: Account) -> None:
    pending.status = status
    pending.decided_by_id = approver.id
    pending.decided_at = utcnow()
    db.session.flush()
    verb = {"approved": "approve", "refused": "refuse", "expired": "expire"}[status]
    _event(pending, verb, approver)


def _event(pending: PendingAction, verb: str, account: Account) -> None:
    details = {"pending_id": pending.id, "kind": pending.kind,
               "account_id": pending.account_id, "requested_by_id": pending.requested_by_id}
    if pending.ref_number:
        details.update(request_ref=pending.ref_number,
                       request_date=format_date_vn(pending.ref_date), reason=pending.reason)
    events.record(f"{verb}_{pending.kind}", category="account", entity="pending_action",
                  entity_id=pending.id, facility_id=pending.facility_id, details=details,
                  account=account)


def _apply_issue(pending: PendingAction, ref: RequestRef, approver: Account) -> Account:
    p = pending.params
    # the approver is held to the same rules: never approving an account for themselves
    facility = db.session.get(Facility, pending.facility_id)  # held already, or one query
    lifecycle.check_issue(facility, p["username"], p["role"], p["phone"], p["custodian"],
                          approver)
    return lifecycle.issue_account(facility, p["username"], p["role"], p["phone"],
                                   p["custodian"], actor=ref.actor)


def _apply_hand_over(pending: PendingAction, ref: RequestRef, approver: Account):
    p, account = pending.params, _target(pending)
    lifecycle.check_hand_over(account, p["custodian"], p["new_phone"], _as(ref, approver))
    return lifecycle.hand_over(account, p["custodian"], p["new_phone"], ref)


def _apply_change_details(pending: PendingAction, ref: RequestRef, approver: Account):
    changes, account = pending.params["changes"], _target(pending)
    lifecycle.check_change_details(account, changes, _as(ref, approver))
    return lifecycle.change_details(account, changes, ref)


def _apply_delegate(pending: PendingAction, ref: RequestRef, _approver: Account):
    p = pending.params
    return lifecycle.delegate(_target(pending), db.session.get(Facility, pending.facility_id),
                              date.fromisoformat(p["starts_on"]),
                              date.fromisoformat(p["ends_on"]), ref)


def _as(ref: RequestRef, approver: Account) -> RequestRef:
    return RequestRef(ref.number, ref.date, ref.reason, approver)


def _target(pending: PendingAction) -> Account:
    return db.session.get(Account, pending.account_id)


APPLY = {"issue": _apply_issue, "hand_over": _apply_hand_over,
         "change_details": _apply_change_details, "delegate": _apply_delegate}


# -- what the pages show ---------------------------------------------------------------------


def _open(stmt: sa.Select) -> sa.Select:
    hours = int(current_app.config["ACCOUNT_APPROVAL_HOURS"])
    return stmt.where(PendingAction.status == PendingStatus.pending,
                      PendingAction.requested_at >= utcnow() - timedelta(hours=hours))


def waiting_for(account: Account) -> list[PendingAction]:
    """Open requests the account may decide, oldest first."""
    stmt = _open(decidable(sa.select(PendingAction).options(joinedload(PendingAction.facility)),
                           account))
    return list(db.session.scalars(stmt.order_by(PendingAction.requested_at, PendingAction.id)))


def count_waiting_for(account: Account) -> int:
    stmt = _open(decidable(sa.select(sa.func.count(PendingAction.id)), account))
    return db.session.scalar(stmt) or 0


def requested_by(account: Account, limit: int = 20) -> list[PendingAction]:
    """The account's own recent requests, newest first."""
    return list(db.session.scalars(
        sa.select(PendingAction).where(PendingAction.requested_by_id == account.id)
        .options(joinedload(PendingAction.facility))
        .order_by(PendingAction.requested_at.desc(), PendingAction.id.desc()).limit(limit)))


def accounts_of(actions: list[PendingAction]) -> dict[int, Account]:
    """The accounts named by the actions (acted on, requester, decider), by id."""
    ids = {i for a in actions for i in (a.account_id, a.requested_by_id, a.decided_by_id) if i}
    if not ids:
        return {}
    return {a.id: a for a in db.session.scalars(sa.select(Account).where(Account.id.in_(ids)))}


def open_for_account(account_id: int) -> list[PendingAction]:
    return list(db.session.scalars(_open(sa.select(PendingAction).where(
        PendingAction.account_id == account_id)).order_by(PendingAction.id)))
