"""The account lifecycle on written requests: hand over (P4.3a, P4.2), revoke (P4.2),
re-issue password and change details (P4.3c), unlock. Each records its written request and
an account event naming the admin."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from tests.helpers import (
    PASSWORD,
    RECENT,
    RECENT_DATE,
    REQUEST,
    approve_pending,
    field_error,
    html,
    input_value,
    reload,
    written,
)
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, AccountStatus, UserSession
from vaxportal.auth.passwords import verify_password
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

CUSTODIANS = selectinload(Account.custodians)
NEW_CUSTODIAN = {"full_name": "Lý Văn Tâm", "gender": "male", "unit": "Trạm Y tế Mỹ Bình",
                 "position": "Trưởng trạm", "email": "tam.lv@example.vn",
                 "custodian_phone": "0987 654 321"}


def _post(admin, account, action, **data):
    """Request the action; when it is accepted and waits for a second person, they approve
    it (P2.1)."""
    response = admin.post(f"/facilities/accounts/{account.id}/{action}", data=REQUEST | data)
    if response.status_code == 303:
        approve_pending(admin.application)
    return response


def _sessions(account) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(UserSession).where(UserSession.account_id == account.id)
    ))


def _event(action) -> AuditEvent:
    return db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == action))


def _assert_recorded(admin, account, action) -> None:
    rows = written(account)
    assert [r.action for r in rows] == [action]
    assert (rows[0].ref_number, rows[0].ref_date, rows[0].reason) == (
        "123/SYT-NVY", RECENT_DATE, "Theo công văn đề nghị của đơn vị")
    assert rows[0].actor_id == admin.account.id
    event = _event(action)
    assert event.category == "account" and event.entity == "account"
    assert event.entity_id == str(account.id) and event.account_id == admin.account.id
    assert event.details["request_ref"] == "123/SYT-NVY"
    assert event.details["request_date"] == RECENT
    assert event.details["reason"] == "Theo công văn đề nghị của đơn vị"


def _signed_out(client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and "/auth/login" in response.headers["Location"]


def _initial_passwords(outbox):
    return [m for m in outbox() if m["kind"] == "initial_password"]


# -- hand over ------------------------------------------------------------------------------


def test_p4_3a_hand_over_changes_the_custodian_and_keeps_the_history(admin, holder, outbox):
    account = holder.account
    old = account.current_custodian
    response = _post(admin, account, "hand-over", **NEW_CUSTODIAN)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/facilities/accounts/{account.id}")
    account = reload(account, CUSTODIANS)
    assert [c.full_name for c in account.custodians] == ["Nguyễn Thị Thử", "Lý Văn Tâm"]
    previous, current = account.custodians
    assert previous.id == old.id and previous.to_at is not None
    assert current.to_at is None and current.from_at == previous.to_at
    assert (current.position, current.email, current.phone) == (
        "Trưởng trạm", "tam.lv@example.vn", "+84987654321")
    _assert_recorded(admin, account, "hand_over")
    page = html(admin.get(f"/facilities/accounts/{account.id}"))
    assert "Nguyễn Thị Thử" in page and "Lý Văn Tâm" in page and "123/SYT-NVY" in page


def test_p4_2_hand_over_ends_the_old_custodians_sessions(admin, holder):
    assert holder.get("/").status_code == 200
    _post(admin, holder.account, "hand-over", **NEW_CUSTODIAN)
    assert all(s.ended_at is not None and s.end_reason == "handover"
               for s in _sessions(holder.account))
    assert _signed_out(holder)


def test_p4_3a_hand_over_restarts_activation_with_a_new_initial_password(admin, holder,
                                                                          outbox):
    account = holder.account
    account.totp_secret, account.totp_last_step = "encrypted", 123
    db.session.commit()
    _post(admin, account, "hand-over", **NEW_CUSTODIAN, new_phone="0977 000 111")
    account = reload(account)
    assert account.status == AccountStatus.pending and account.must_change_password
    assert account.phone == "+84977000111" and account.phone_verified_at is None
    assert account.totp_secret is None and account.totp_last_step is None
    sms = _initial_passwords(outbox)
    assert len(sms) == 1 and sms[0]["to"] == "+84977000111"
    assert verify_password(account.password_hash, sms[0]["secret"])
    assert sms[0]["secret"] not in html(admin.get(f"/facilities/accounts/{account.id}"))


def test_p4_3a_hand_over_form_errors_keep_what_was_typed(admin, holder):
    data = NEW_CUSTODIAN | {"email": "sai", "ref_date": "31/02/2024"}
    response = _post(admin, holder.account, "hand-over", **data)
    page = html(response)
    assert response.status_code == 200
    assert "email không hợp lệ" in field_error(page, "email")
    assert "không có trên lịch" in field_error(page, "ref_date")
    assert input_value(page, "full_name") == "Lý Văn Tâm"
    assert input_value(page, "ref_date") == "31/02/2024"
    assert input_value(page, "reason") == "Theo công văn đề nghị của đơn vị"
    assert len(reload(holder.account, CUSTODIANS).custodians) == 1
    assert written(holder.account) == []


def test_p4_3a_admin_cannot_hand_an_account_over_to_themselves(admin, holder):
    own = {"custodian_phone": "0" + admin.account.phone[3:]}
    page = html(_post(admin, holder.account, "hand-over", **NEW_CUSTODIAN | own))
    assert "không được tự nhận tài khoản" in field_error(page, "custodian_phone")
    assert len(reload(holder.account, CUSTODIANS).custodians) == 1


# -- revoke ----------------------------------------------------------------------------------


def test_p4_2_revoke_ends_sessions_and_the_account(admin, holder):
    assert holder.get("/").status_code == 200
    response = _post(admin, holder.account, "revoke")
    assert response.status_code == 303
    account = reload(holder.account)
    assert account.status == AccountStatus.revoked and account.revoked_at is not None
    assert account.current_custodian is None  # the custodian's period closes too
    assert all(s.end_reason == "revoked" for s in _sessions(account))
    assert _signed_out(holder)
    _assert_recorded(admin, account, "revoke")
    assert "Đã thu hồi" in html(admin.get(response.headers["Location"]))


def test_p4_2_a_revoked_account_is_refused_even_with_a_new_session(admin, holder, app):
    _post(admin, holder.account, "revoke")
    token = "t" * 43
    db.session.add(UserSession(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                               account_id=holder.account.id, stage="full"))
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["sid"] = token
    assert _signed_out(client)


def test_p4_2_a_revoked_account_cannot_sign_in(admin, holder, app):
    _post(admin, holder.account, "revoke")
    client = app.test_client()
    response = client.post("/auth/login", data={"username": "tyt.mybinh", "password": PASSWORD})
    assert response.status_code == 200 and "đã bị thu hồi" in html(response)
    assert _signed_out(client)


def test_p4_3a_after_hand_over_only_the_new_initial_password_signs_in(admin, holder, app,
                                                                       outbox):
    _post(admin, holder.account, "hand-over", **NEW_CUSTODIAN)
    (sms,) = _initial_passwords(outbox)
    client = app.test_client()
    old = client.post("/auth/login", data={"username": "tyt.mybinh", "password": PASSWORD})
    assert old.status_code == 200
    new = client.post("/auth/login", data={"username": "tyt.mybinh", "password": sms["secret"]})
    assert new.status_code == 303 and new.headers["Location"].endswith("/auth/otp")
    activation = [m for m in outbox() if m["kind"] != "initial_password"]
    assert activation and activation[-1]["to"] == reload(holder.account).phone


def test_p4_2_revoke_frees_the_facility_for_a_new_account(admin, holder, province, outbox):
    issue = {"username": "tyt.mybinh.moi", "role": "data_entry", "phone": "0912 345 678",
             "full_name": "Lý Văn Tâm", "gender": "male", "unit": "Trạm", "position": "Y sĩ",
             "email": "tam@example.vn", "custodian_phone": "0912 345 678"}
    url = f"/facilities/{province['S1'].id}/accounts/new"
    assert admin.post(url, data=issue).status_code == 200  # the live account blocks it
    _post(admin, holder.account, "revoke")
    assert admin.post(url, data=issue).status_code == 303


def test_p4_2_a_revoked_account_takes_no_further_action(admin, holder):
    _post(admin, holder.account, "revoke")
    response = _post(admin, holder.account, "reissue-password")
    assert response.status_code == 200 and "đã bị thu hồi" in html(response)
    assert [r.action for r in written(holder.account)] == ["revoke"]


# -- re-issue password ------------------------------------------------------------------------


def test_p4_3c_reissue_password_by_sms_ends_sessions(admin, holder, outbox):
    account = holder.account
    before = account.password_hash
    response = _post(admin, account, "reissue-password")
    assert response.status_code == 303
    account = reload(account)
    assert account.password_hash != before and account.must_change_password
    assert account.initial_password_expires_at is not None
    sms = _initial_passwords(outbox)
    assert len(sms) == 1 and sms[0]["to"] == account.phone
    assert verify_password(account.password_hash, sms[0]["secret"])
    for page in (response, admin.get(response.headers["Location"])):
        assert sms[0]["secret"] not in html(page)
    assert all(s.end_reason == "password_reissued" for s in _sessions(account))
    assert _signed_out(holder)
    _assert_recorded(admin, account, "reissue_password")


# -- change details ---------------------------------------------------------------------------


def _details(admin, account) -> dict:
    page = html(admin.get(f"/facilities/accounts/{account.id}/details"))
    names = ("role", "phone", "unit", "position", "email", "custodian_phone")
    data = {name: input_value(page, name) for name in names}
    data["role"] = account.role
    data["gender"] = ""
    return {k: v or "" for k, v in data.items()}


def test_p4_3c_change_details_of_phone_and_custodian(admin, holder):
    account = holder.account
    data = _details(admin, account) | {"phone": "0966 123 456", "email": "moi@example.vn",
                                       "position": "Phó trạm", "gender": "female"}
    response = _post(admin, account, "details", **data)
    assert response.status_code == 303
    account = reload(account, CUSTODIANS)
    assert account.phone == "+84966123456"
    assert account.phone_verified_at is None  # the new number is proven again (P3.2)
    custodian = account.current_custodian
    assert (custodian.email, custodian.position, custodian.gender) == (
        "moi@example.vn", "Phó trạm", "female")
    assert len(account.custodians) == 1  # the same person: no new custodian period
    _assert_recorded(admin, account, "change_details")
    assert _event("change_details").details["fields"] == ["email", "gender", "phone",
                                                          "position"]


def test_p4_3c_change_details_of_the_role(admin, holder):
    data = _details(admin, holder.account) | {"role": "supervisor"}
    assert _post(admin, holder.account, "details", **data).status_code == 303
    assert reload(holder.account).role == "supervisor"


def test_p4_3c_change_details_without_a_change_is_refused(admin, holder):
    response = _post(admin, holder.account, "details", **_details(admin, holder.account))
    assert response.status_code == 200 and "Không có thông tin nào thay đổi" in html(response)
    assert written(holder.account) == []


def test_p2_3_admin_cannot_change_their_own_role(admin, signed_in):
    data = _details(admin, admin.account) | {"role": "data_entry"}
    response = _post(admin, admin.account, "details", **data)
    assert response.status_code == 200
    assert "tài khoản của chính mình" in html(response)
    assert reload(admin.account).role == "admin"


@pytest.mark.parametrize("action", ["revoke", "reissue-password"])
def test_p2_admin_cannot_act_on_their_own_account(admin, action):
    response = _post(admin, admin.account, action)
    assert response.status_code == 200 and "tài khoản của chính mình" in html(response)
    assert reload(admin.account).status == AccountStatus.active
    assert written(admin.account) == []


# -- unlock ------------------------------------------------------------------------------------


def test_unlock_lifts_a_lock_out(admin, holder):
    account = holder.account
    account.locked_until = utcnow() + timedelta(minutes=15)
    account.failed_password_count = 3
    account.lock_count = 1
    db.session.commit()
    page = html(admin.get(f"/facilities/accounts/{account.id}"))
    assert "Đang bị khoá" in page and "/unlock" in page
    assert _post(admin, account, "unlock").status_code == 303
    account = reload(account)
    assert not account.is_locked() and account.failed_password_count == 0
    _assert_recorded(admin, account, "unlock")


def test_unlock_of_an_account_not_locked_is_refused(admin, holder):
    response = _post(admin, holder.account, "unlock")
    assert response.status_code == 200 and "không bị khoá" in html(response)
    assert written(holder.account) == []


# -- the account page --------------------------------------------------------------------------


def test_account_page_shows_history_requests_sessions_and_lock(admin, holder):
    _post(admin, holder.account, "reissue-password", reason="Quên mật khẩu")
    page = html(admin.get(f"/facilities/accounts/{holder.account.id}"))
    assert "Cấp lại mật khẩu" in page and "Quên mật khẩu" in page and RECENT in page
    assert "admin.cntt" in page  # the admin who acted
    assert "Không bị khoá" in page
    assert "Nguyễn Thị Thử" in page


def test_account_page_counts_open_sessions(admin, holder):
    page = html(admin.get(f"/facilities/accounts/{holder.account.id}"))
    assert "Phiên đăng nhập đang mở</dt><dd>1</dd>" in page
    _post(admin, holder.account, "revoke")
    page = html(admin.get(f"/facilities/accounts/{holder.account.id}"))
    assert "Phiên đăng nhập đang mở</dt><dd>0</dd>" in page


def test_actions_post_redirect_get_with_303(admin, holder):
    response = _post(admin, holder.account, "reissue-password")
    assert response.status_code == 303
    follow = admin.get(response.headers["Location"])
    assert "Đã cấp lại mật khẩu" in html(follow)


@pytest.mark.parametrize("number", ["123/SYT-NVY", "997/CNTT-DLYT", "45/QĐ-UBND",
                                    "12/2024/TT-BYT"])
def test_p4_3c_official_letter_numbers_are_accepted(admin, holder, number):
    response = admin.post(f"/facilities/accounts/{holder.account.id}/reissue-password",
                          data=REQUEST | {"ref_number": number})
    assert response.status_code == 303, html(response)
    assert [w.ref_number for w in written(holder.account)] == [number]
