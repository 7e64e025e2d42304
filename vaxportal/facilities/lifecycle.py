"""The account lifecycle (P4.1 to P4.3c): issue, and the admin actions that follow it.

Functions here change the database and send SMS but never commit: the caller (a view or a
CLI command) commits once, so an SMS gateway failure leaves nothing half-done. Every action
after the issue rests on a written request (``RequestRef``): it is kept as a
``WrittenRequest`` and recorded as an account event for the audit trail, with the admin who
acted. An admin never acts on their own account nor makes themselves an account's holder
(P2.1-P2.3): another admin must.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from vaxportal.audit import events
from vaxportal.auth import lockout, sessions
from vaxportal.auth.models import Account, AccountStatus, Custodian, WrittenRequest
from vaxportal.auth.passwords import generate_initial_password, hash_password
from vaxportal.extensions import db
from vaxportal.facilities import tree
from vaxportal.facilities.models import Delegation, Facility, FacilityKind
from vaxportal.policy import delegation as delegations
from vaxportal.policy import is_role, role_fits_facility
from vaxportal.sms import send_sms
from vaxportal.timeutil import local_today, utcnow
from vaxportal.validators import format_date_vn, normalize_phone

CUSTODIAN_FIELDS = ("full_name", "gender", "unit", "position", "email", "phone")
CUSTODIAN_MAX = {"full_name": 120, "gender": 16, "unit": 200, "position": 120, "email": 200}
GENDERS = ("male", "female", "other")
#: what ``change_details`` may change: the account's own fields, then the custodian's
ACCOUNT_DETAILS = ("phone", "role")
CUSTODIAN_DETAILS = {"gender": "gender", "unit": "unit", "position": "position",
                     "email": "email", "custodian_phone": "phone"}
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
NAME_MAX = 200
REF_MAX = 64
REASON_MAX = 500
REASON_MIN = 10
#: an official letter's number: ``123/SYT-NVY``, ``997/CNTT-DLYT``, ``45/QĐ-UBND``,
#: ``12/2024/TT-BYT`` (digits, an optional year, then upper-case groups joined by hyphens)
REF_NUMBER_RE = re.compile(r"[0-9]{1,6}(?:/[0-9]{4})?/[^\W\d_]+(?:-[^\W\d_]+)*")

#: the account lifecycle's actions, as the written request, the pages and the audit name them
ACTION_LABELS = {
    "hand_over": _l("Bàn giao"),
    "revoke": _l("Thu hồi"),
    "reissue_password": _l("Cấp lại mật khẩu"),
    "change_details": _l("Thay đổi thông tin"),
    "unlock": _l("Mở khoá"),
    "delegate": _l("Uỷ quyền nhập liệu"),
    "end_delegation": _l("Kết thúc uỷ quyền"),
}


class LifecycleError(ValueError):
    """A refusal whose message can be shown to the operator as it is; ``field`` names the
    form field at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RequestRef:
    """The written request an action rests on (P4.2, P4.3c), and the admin acting on it."""

    number: str
    date: date
    reason: str
    actor: Account | None = None


# -- the tree -------------------------------------------------------------------------------


def create_facility(code: str, name: str, kind: str, parent_code: str | None = None) -> Facility:
    """Check and create a facility (the admin page and ``vaxportal create-facility``)."""
    code = tree.normalize_code(code)
    if not CODE_RE.fullmatch(code):
        raise LifecycleError(_("Mã cơ sở dài 1-32 ký tự, gồm chữ không dấu, chữ số, dấu chấm, "
                               "gạch ngang hoặc gạch dưới."), field="code")
    if tree.by_code(code):
        raise LifecycleError(_("Mã cơ sở %(code)s đã tồn tại.", code=code), field="code")
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise LifecycleError(_("Tên cơ sở dài 1-%(n)s ký tự.", n=NAME_MAX), field="name")
    if kind not in FacilityKind.__members__:
        raise LifecycleError(_("Loại cơ sở không hợp lệ."), field="kind")
    parent = None
    if parent_code:
        parent = tree.by_code(tree.normalize_code(parent_code))
        if parent is None:
            raise LifecycleError(_("Không có cơ sở cấp trên mã %(code)s.",
                                   code=tree.normalize_code(parent_code)), field="parent_code")
    facility = tree.add_facility(code, name, kind, parent)
    events.record("create_facility", category="account", entity="facility",
                  entity_id=facility.id, facility_id=facility.id,
                  details={"code": code, "parent": parent.code if parent else None})
    return facility


# -- issue (P4.1, P3.2, P3.3) -------------------------------------------------------------------


def live_account(facility_id: int) -> Account | None:
    return db.session.scalar(
        sa.select(Account).where(
            Account.facility_id == facility_id, Account.status != AccountStatus.revoked
        ).limit(1)
    )


def check_issue(facility: Facility, username: str, role: str, phone: str, custodian: dict,
                actor: Account | None = None) -> dict:
    """Every rule of an issue, nothing changed: the checked values, ready to store while the
    issue waits for its approval."""
    username = _check_username(username)
    if not is_role(role):
        raise LifecycleError(_("Vai trò không hợp lệ: %(role)s.", role=role), field="role")
    _check_role_for(facility, role)
    phone = _phone(phone)
    details = _custodian(custodian)
    _not_the_actor(actor, phone, details)
    if current_app.config["ONE_LIVE_ACCOUNT_PER_FACILITY"] and live_account(facility.id):
        raise LifecycleError(_("Cơ sở %(code)s đã có một tài khoản đang hoạt động "
                               "(mỗi đơn vị một tài khoản).", code=facility.code))
    _phone_free(phone)
    return {"username": username, "role": role, "phone": phone, "custodian": details}


def issue_account(facility: Facility, username: str, role: str, phone: str,
                  custodian: dict, *, actor: Account | None = None) -> Account:
    """Issue the unit's account (P4.1) to its custodian (P3.3); the initial password goes by
    SMS to the registered phone only (P3.2), so nobody else ever sees it."""
    _lock_facility(facility)
    checked = check_issue(facility, username, role, phone, custodian, actor)
    username, role = checked["username"], checked["role"]
    account = Account(username=username, role=role, facility_id=facility.id,
                      phone=checked["phone"], status=AccountStatus.pending,
                      password_hash="!")  # noqa: S106  (matches no password; set below)
    db.session.add(account)
    db.session.add(Custodian(account=account, **checked["custodian"]))
    db.session.flush()
    events.record("issue_account", category="account", entity="account", entity_id=account.id,
                  facility_id=facility.id, details={"username": username, "role": role},
                  account=actor)
    send_initial_password(account)
    return account


def send_initial_password(account: Account) -> None:
    """A new random initial password that must be changed at first sign-in (P4.3b) and
    expires if unused."""
    password = generate_initial_password()
    days = int(current_app.config["INITIAL_PASSWORD_DAYS"])
    account.password_hash = hash_password(password)
    account.must_change_password = True
    account.initial_password_expires_at = utcnow() + timedelta(days=days)
    with force_locale("vi"):
        body = _("vaxportal: mật khẩu ban đầu của tài khoản %(username)s là %(password)s. "
                 "Đổi mật khẩu ngay khi đăng nhập; mật khẩu hết hạn sau %(days)s ngày.",
                 username=account.username, password=password, days=days)
    send_sms(account.phone, "initial_password", body, secret=password)


# -- the actions on a written request (P4.2, P4.3a, P4.3c) ----------------------------------


def check_hand_over(account: Account, new_custodian: dict, new_phone: str | None,
                    request: RequestRef) -> dict:
    """Every rule of a hand-over, nothing changed: the new custodian's checked details and
    the registered phone after it."""
    _check_actionable(account, request)
    details = _custodian(new_custodian)
    phone = _phone(new_phone) if new_phone else account.phone
    _phone_free(phone, account)
    _not_the_actor(request.actor, phone, details)
    return {"custodian": details, "phone": phone}


def hand_over(account: Account, new_custodian: dict, new_phone: str | None,
              request: RequestRef) -> Custodian:
    """A new person holds the account (P4.3a, P4.2): the old custodian's period closes and
    their sessions end; a new initial password and the phone's activation follow."""
    checked = check_hand_over(account, new_custodian, new_phone, request)
    _sms_cap(account)
    phone = checked["phone"]
    now = utcnow()
    previous = account.current_custodian
    told = {account.phone, previous.phone if previous is not None else None}
    if previous is not None:
        previous.to_at = now
    custodian = Custodian(account=account, from_at=now, **checked["custodian"])
    db.session.add(custodian)
    phone_changed = phone != account.phone
    account.phone = phone
    _restart_activation(account)
    ended = sessions.end_all(account.id, "handover")
    db.session.flush()
    _record(account, "hand_over", request, previous_custodian_id=previous and previous.id,
            custodian_id=custodian.id, phone_changed=phone_changed, sessions_ended=ended)
    send_initial_password(account)
    with force_locale("vi"):
        body = _("vaxportal: tài khoản %(username)s đã được bàn giao cho người quản lý mới "
                 "theo văn bản số %(ref)s. Nếu đơn vị không đề nghị việc này, hãy báo ngay cho "
                 "Sở Y tế.", username=account.username, ref=request.number)
    _notify(told - {phone}, _facility_of(account), body)
    return custodian


def revoke(account: Account, request: RequestRef) -> None:
    """Revoke the account (P4.2): it can no longer sign in, its sessions and delegations end,
    and its facility may be issued a new account."""
    _check_actionable(account, request)
    now = utcnow()
    account.status = AccountStatus.revoked
    account.revoked_at = now
    custodian = account.current_custodian
    if custodian is not None:
        custodian.to_at = now
    for delegation in _open_delegations(account.id):
        delegation.ended_at = now
    ended = sessions.end_all(account.id, "revoked")
    _record(account, "revoke", request, sessions_ended=ended)
    db.session.flush()


def reissue_password(account: Account, request: RequestRef) -> None:
    """A forgotten password (P4.3c): a new initial password by SMS, changed at next sign-in;
    every session ends."""
    _check_actionable(account, request)
    _sms_cap(account)
    ended = sessions.end_all(account.id, "password_reissued")
    _record(account, "reissue_password", request, sessions_ended=ended)
    db.session.flush()
    send_initial_password(account)


def check_change_details(account: Account, changes: dict, request: RequestRef) -> dict:
    """Every rule of a change of details, nothing changed: the checked values wanted."""
    unknown = set(changes) - set(ACCOUNT_DETAILS) - set(CUSTODIAN_DETAILS)
    if unknown:
        raise ValueError(f"change_details cannot change {sorted(unknown)}")
    _check_actionable(account, request)
    wanted = _clean_changes(changes)
    if "role" in wanted:
        _check_role_for(_facility_of(account), wanted["role"])
    if "phone" in wanted:
        _phone_free(wanted["phone"], account)
    _not_the_actor(request.actor, wanted.get("phone"), {"phone": wanted.get("custodian_phone"),
                                                         "email": wanted.get("email")})
    return wanted


def gives_access(account: Account, wanted: dict) -> bool:
    """True when checked changes move who can reach the account's data: its role or the
    phone that receives its codes (these wait for a second person's approval)."""
    return any(key in wanted and wanted[key] != getattr(account, key) for key in ("role", "phone"))


def change_details(account: Account, changes: dict, request: RequestRef) -> list[str]:
    """Change the registered phone, the role or the custodian's details (P4.3c); returns the
    names of what changed. A new registered phone must be proven again (P3.2). Changing the
    person is a hand-over, not a change of details."""
    wanted = check_change_details(account, changes, request)
    old_phone = account.phone
    changed = _apply_account_changes(account, wanted) + _apply_custodian_changes(account, wanted)
    if not changed:
        raise LifecycleError(_("Không có thông tin nào thay đổi."))
    if "phone" in changed:
        _sms_cap(account)
    _record(account, "change_details", request, fields=sorted(changed))
    db.session.flush()
    if "phone" in changed:
        with force_locale("vi"):
            body = _("vaxportal: số điện thoại đăng ký của tài khoản %(username)s đã được đổi "
                     "sang số kết thúc bằng %(tail)s theo văn bản số %(ref)s. Nếu đơn vị không "
                     "đề nghị việc này, hãy báo ngay cho Sở Y tế.", username=account.username,
                     tail=account.phone[-3:], ref=request.number)
        _notify({old_phone}, _facility_of(account), body)
    return changed


def unlock(account: Account, request: RequestRef) -> None:
    """Lift a lock-out (and the wait of unknown browsers) before it ends by itself; the
    doubling of later locks starts over."""
    _check_actionable(account, request)
    if not lockout.is_locked(account):
        raise LifecycleError(_("Tài khoản %(username)s không bị khoá.",
                               username=account.username))
    lockout.unlock(account)
    _record(account, "unlock", request)
    db.session.flush()


def check_delegate(support_account: Account, facility: Facility, starts_on: date,
                   ends_on: date, request: RequestRef) -> None:
    """Every rule of a delegation, nothing changed."""
    _check_actionable(support_account, request)
    if not delegations.may_receive_delegation(support_account):
        raise LifecycleError(_("Chỉ tài khoản nhập liệu của đơn vị hỗ trợ mới được uỷ quyền."))
    if not delegations.may_be_delegated(support_account, facility):
        raise LifecycleError(_("Không uỷ quyền được cho chính đơn vị hỗ trợ."),
                             field="facility_code")
    _check_period(starts_on, ends_on)
    if _overlapping(support_account.id, facility.id, starts_on, ends_on):
        raise LifecycleError(_("Tài khoản đã được uỷ quyền cho cơ sở này trong khoảng thời gian "
                               "đó."), field="facility_code")


def delegate(support_account: Account, facility: Facility, starts_on: date, ends_on: date,
             request: RequestRef) -> Delegation:
    """Give a support unit's data-entry account data-entry scope over ``facility`` from
    ``starts_on`` to ``ends_on`` included (letter item 3); it ends by itself after that."""
    check_delegate(support_account, facility, starts_on, ends_on, request)
    delegation = Delegation(
        account_id=support_account.id, facility_id=facility.id, starts_on=starts_on,
        ends_on=ends_on, request_ref=request.number, request_date=request.date,
        reason=request.reason, granted_by_id=request.actor.id if request.actor else None,
    )
    db.session.add(delegation)
    db.session.flush()
    _record(support_account, "delegate", request, delegation_id=delegation.id,
            delegated_facility_id=facility.id, starts_on=format_date_vn(starts_on),
            ends_on=format_date_vn(ends_on))
    with force_locale("vi"):
        body = _("vaxportal: tài khoản %(username)s của %(unit)s được uỷ quyền nhập liệu cho "
                 "%(facility)s từ %(start)s đến hết %(end)s theo văn bản số %(ref)s.",
                 username=support_account.username, unit=_facility_of(support_account).name,
                 facility=facility.name, start=format_date_vn(starts_on),
                 end=format_date_vn(ends_on), ref=request.number)
    _notify(set(), facility, body)
    return delegation


def end_delegation(delegation: Delegation, request: RequestRef) -> None:
    """End a delegation before its last day."""
    account = db.session.get(Account, delegation.account_id)
    _check_request(request)
    if delegations.state(delegation) in ("ended", "expired"):
        raise LifecycleError(_("Uỷ quyền này đã kết thúc."))
    delegation.ended_at = utcnow()
    _record(account, "end_delegation", request, delegation_id=delegation.id,
            delegated_facility_id=delegation.facility_id)
    db.session.flush()


# -- notices and the SMS cap --------------------------------------------------------------

#: written requests whose action sends the account an SMS (an initial password)
SMS_ACTIONS = ("hand_over", "reissue_password", "change_details")


def _facility_of(account: Account) -> Facility:
    """The account's facility: the session's object, or one query (no relationship loads
    itself)."""
    return db.session.get(Facility, account.facility_id)


def _notify(phones: set, facility: Facility, body: str) -> None:
    """Tell the previous holder's phones and the supervising (parent) facility's live
    account that an account changed hands, changed phone or got a delegation."""
    supervisor = live_account(facility.parent_id) if facility.parent_id else None
    targets = {p for p in phones if p}
    if supervisor is not None:
        targets.add(supervisor.phone)
    for phone in sorted(targets):
        send_sms(phone, "account_notice", body)


def _sms_cap(account: Account) -> None:
    """Admin actions send an account no more SMS an hour than its own codes may have
    (``OTP_RESEND_PER_HOUR``), so that they cannot flood a phone."""
    limit = int(current_app.config["OTP_RESEND_PER_HOUR"])
    sent = db.session.scalar(sa.select(sa.func.count(WrittenRequest.id)).where(
        WrittenRequest.account_id == account.id, WrittenRequest.action.in_(SMS_ACTIONS),
        WrittenRequest.created_at > utcnow() - timedelta(hours=1)))
    if sent >= limit:
        raise LifecycleError(_("Tài khoản %(username)s đã nhận %(n)s tin nhắn do quản trị viên "
                               "gửi trong một giờ qua; vui lòng thử lại sau.",
                               username=account.username, n=sent))


# -- helpers --------------------------------------------------------------------------------


def _record(account: Account, action: str, request: RequestRef, **extra) -> WrittenRequest:
    """Keep the written request and record the account event (the audit trail's row)."""
    written = WrittenRequest(
        account_id=account.id, action=action, ref_number=request.number,
        ref_date=request.date, reason=request.reason,
        actor_id=request.actor.id if request.actor else None,
    )
    db.session.add(written)
    details = {"request_ref": request.number, "request_date": format_date_vn(request.date),
               "reason": request.reason, **extra}
    events.record(action, category="account", entity="account", entity_id=account.id,
                  facility_id=account.facility_id, details=details, account=request.actor)
    return written


def _check_actionable(account: Account, request: RequestRef) -> None:
    _check_request(request)
    if account.status == AccountStatus.revoked:
        raise LifecycleError(_("Tài khoản %(username)s đã bị thu hồi.",
                               username=account.username))
    if request.actor is not None and request.actor.id == account.id:
        raise LifecycleError(_("Không thể tự thực hiện thao tác này trên tài khoản của chính "
                               "mình: một quản trị viên khác phải làm việc đó."))


def _check_request(request: RequestRef) -> None:
    """The written request is a real official letter: its number in the official form, a
    recent date, and a reason that says something."""
    number = (request.number or "").strip()
    if not number or len(number) > REF_MAX:
        raise LifecycleError(_("Số văn bản dài 1-%(n)s ký tự.", n=REF_MAX), field="ref_number")
    if not REF_NUMBER_RE.fullmatch(number) or number != number.upper():
        raise LifecycleError(_("Số văn bản phải theo mẫu văn bản hành chính, ví dụ 123/SYT-NVY "
                               "hoặc 45/QĐ-UBND."), field="ref_number")
    today = local_today()
    if not isinstance(request.date, date) or request.date > today:
        raise LifecycleError(_("Ngày văn bản không được sau hôm nay."), field="ref_date")
    max_age = int(current_app.config["WRITTEN_REQUEST_MAX_AGE_DAYS"])
    if request.date < today - timedelta(days=max_age):
        raise LifecycleError(_("Văn bản đã quá %(n)s ngày; cần văn bản đề nghị mới.", n=max_age),
                             field="ref_date")
    reason = " ".join((request.reason or "").split())
    if len(reason) < REASON_MIN or len(reason) > REASON_MAX:
        raise LifecycleError(_("Lý do dài %(min)s-%(max)s ký tự, nói rõ vì sao cần thao tác này.",
                               min=REASON_MIN, max=REASON_MAX), field="reason")


def _check_role_for(facility: Facility, role: str) -> None:
    """The administrator role only on the IT unit of the Ministry or of a Department of
    Health (P4.1: the Ministry's IT Department issues accounts), never on a station."""
    if not role_fits_facility(role, facility):
        raise LifecycleError(_("Vai trò quản trị chỉ dành cho đơn vị công nghệ thông tin của Bộ "
                               "Y tế hoặc Sở Y tế."), field="role")


def _phone_free(phone: str, account: Account | None = None) -> None:
    """A live phone number belongs to one live account at a time (P4.1)."""
    stmt = sa.select(Account.id).where(Account.phone == phone,
                                       Account.status != AccountStatus.revoked)
    if account is not None:
        stmt = stmt.where(Account.id != account.id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise LifecycleError(_("Số điện thoại này đang gắn với một tài khoản khác còn hoạt động; "
                               "mỗi số chỉ gắn với một tài khoản."), field="phone")


def _not_the_actor(actor: Account | None, phone: str | None, custodian: dict) -> None:
    """An admin never makes themselves the holder of an account (P2.1: no using a user's
    account): not their phone, not their e-mail."""
    if actor is None:
        return
    own = actor.current_custodian
    own_phones = {actor.phone} | ({own.phone} if own is not None and own.phone else set())
    own_email = (own.email or "").lower() if own is not None else ""
    refusal = _("Quản trị viên không được tự nhận tài khoản cho chính mình.")
    if phone and phone in own_phones:
        raise LifecycleError(refusal, field="phone")
    if custodian.get("phone") and custodian["phone"] in own_phones:
        raise LifecycleError(refusal, field="custodian_phone")
    if own_email and (custodian.get("email") or "").lower() == own_email:
        raise LifecycleError(refusal, field="email")


def _lock_facility(facility: Facility) -> None:
    """Serialize issues to one facility (PostgreSQL row lock; SQLite writes one at a time)."""
    db.session.execute(
        sa.select(Facility.id).where(Facility.id == facility.id).with_for_update()
    )


def _restart_activation(account: Account) -> None:
    """Back to a new holder's first sign-in: phone to prove, no authenticator, no lock."""
    account.status = AccountStatus.pending
    account.phone_verified_at = None
    account.totp_secret = None
    account.totp_last_step = None
    lockout.unlock(account)


def _clean_changes(changes: dict) -> dict:
    wanted = {key: (value.strip() if isinstance(value, str) else value) or None
              for key, value in changes.items()}
    if "phone" in wanted:
        if not wanted["phone"]:
            raise LifecycleError(_("Cần số điện thoại đăng ký."), field="phone")
        wanted["phone"] = _phone(wanted["phone"])
    if "role" in wanted and not is_role(wanted["role"]):
        raise LifecycleError(_("Vai trò không hợp lệ: %(role)s.", role=wanted["role"]),
                             field="role")
    if wanted.get("custodian_phone"):
        wanted["custodian_phone"] = _phone(wanted["custodian_phone"], "custodian_phone")
    checked = _custodian_values({CUSTODIAN_DETAILS[k]: v for k, v in wanted.items()
                                 if k in CUSTODIAN_DETAILS and k != "custodian_phone"})
    wanted.update(checked)
    return wanted


def _apply_account_changes(account: Account, wanted: dict) -> list[str]:
    changed = []
    for key in ACCOUNT_DETAILS:
        if key in wanted and wanted[key] != getattr(account, key):
            setattr(account, key, wanted[key])
            changed.append(key)
    if "phone" in changed:
        account.phone_verified_at = None  # the new number receives a new activation (P3.2)
    return changed


def _apply_custodian_changes(account: Account, wanted: dict) -> list[str]:
    custodian = account.current_custodian
    changed = []
    for key, column in CUSTODIAN_DETAILS.items():
        if key in wanted and custodian is not None and wanted[key] != getattr(custodian, column):
            setattr(custodian, column, wanted[key])
            changed.append(key)
    return changed


def _open_delegations(account_id: int) -> list[Delegation]:
    return list(db.session.scalars(sa.select(Delegation).where(
        Delegation.account_id == account_id, delegations.is_open())))


def _overlapping(account_id: int, facility_id: int, starts_on: date, ends_on: date) -> bool:
    return db.session.scalar(sa.select(sa.func.count(Delegation.id)).where(
        delegations.overlaps(account_id, facility_id, starts_on, ends_on))) > 0


def _check_period(starts_on: date, ends_on: date) -> None:
    if not isinstance(starts_on, date):
        raise LifecycleError(_("Cần ngày bắt đầu."), field="starts_on")
    if not isinstance(ends_on, date):
        raise LifecycleError(_("Cần ngày kết thúc."), field="ends_on")
    if ends_on < starts_on:
        raise LifecycleError(_("Ngày kết thúc không được trước ngày bắt đầu."), field="ends_on")
    if ends_on < local_today():
        raise LifecycleError(_("Ngày kết thúc không được trước hôm nay."), field="ends_on")


def _check_username(username: str) -> str:
    username = (username or "").strip().lower()
    if not (3 <= len(username) <= 64) or not all(c.isalnum() or c in "._-" for c in username):
        raise LifecycleError(_("Tên đăng nhập phải dài 3-64 ký tự, gồm chữ, số, dấu chấm, "
                               "gạch ngang hoặc gạch dưới."), field="username")
    if not username.isascii():
        raise LifecycleError(_("Tên đăng nhập không được có dấu tiếng Việt."), field="username")
    if db.session.scalar(sa.select(Account.id).where(Account.username == username)):
        raise LifecycleError(_("Tên đăng nhập %(username)s đã được dùng.", username=username),
                             field="username")
    return username


def _phone(phone: str, field: str = "phone") -> str:
    try:
        return normalize_phone(phone)
    except ValueError as error:
        raise LifecycleError(str(error), field=field) from None


def _custodian(details: dict) -> dict:
    data = {key: (str(details.get(key) or "").strip() or None) for key in CUSTODIAN_FIELDS}
    if not data["full_name"]:
        raise LifecycleError(_("Cần họ và tên người quản lý tài khoản."), field="full_name")
    data.update(_custodian_values({k: v for k, v in data.items() if k != "phone"}))
    if data["phone"]:
        data["phone"] = _phone(data["phone"], "custodian_phone")
    return data


def _custodian_values(values: dict) -> dict:
    """Lengths, gender and e-mail of custodian details (keys are Custodian columns)."""
    for key, value in values.items():
        if value and len(value) > CUSTODIAN_MAX[key]:
            raise LifecycleError(_("Tối đa %(max)d ký tự.", max=CUSTODIAN_MAX[key]), field=key)
    if values.get("gender") and values["gender"] not in GENDERS:
        raise LifecycleError(_("Giới tính không hợp lệ."), field="gender")
    if values.get("email"):
        values["email"] = values["email"].lower()
        if not EMAIL_RE.fullmatch(values["email"]):
            raise LifecycleError(_("Địa chỉ email không hợp lệ."), field="email")
    return values
