"""Signing in: a password, then a code, for every role (P3.4)."""

from __future__ import annotations

import pyotp
import pytest

from tests.helpers import (
    PASSWORD,
    audit,
    html,
    login_through_forms,
    reload,
    sent_code,
    session_row,
    sid,
    submit_password,
)
from vaxportal.auth import passwords, totp
from vaxportal.auth.models import AccountStatus
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

GENERIC = "nhập sai nhiều lần liên tiếp sẽ khoá tài khoản trong một thời gian"


@pytest.mark.parametrize("role", ["admin", "data_entry", "supervisor", "reviewer"])
def test_p3_4_every_role_passes_an_otp_after_the_password(client, factory, outbox, role):
    account = factory.account(role)
    before = len(outbox())
    response = submit_password(client, account.username, PASSWORD)
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/otp")
    (sms,) = outbox()[before:]
    assert sms["kind"] == "login" and sms["to"] == account.phone
    assert len(sms["secret"]) == 6 and sms["secret"].isdigit() and sms["secret"] in sms["body"]
    # the password alone signs nobody in
    assert client.get("/").headers["Location"].startswith("/auth/login")
    assert session_row(client).stage == "otp"
    response = client.post("/auth/otp", data={"code": sms["secret"]})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and account.username in html(page)
    row = session_row(client)
    assert row.stage == "full" and row.otp_verified_at and row.step_up_at
    assert [e.account_id for e in audit("login_ok")] == [account.id]


def test_p3_4_a_new_session_id_at_each_step_none_set_before_survives(client, nurse_account, outbox):
    client.get("/auth/login")
    with client.session_transaction() as sess:
        sess["sid"] = "planted-by-an-attacker"
    before = len(outbox())
    submit_password(client, nurse_account.username, PASSWORD)
    after_password = sid(client)
    assert after_password and after_password != "planted-by-an-attacker"
    client.post("/auth/otp", data={"code": sent_code(outbox, before)})
    after_code = sid(client)
    assert after_code not in (after_password, "planted-by-an-attacker")
    assert session_row(client).stage == "full"
    with client.session_transaction() as sess:  # the password-stage token is dead
        sess["sid"] = after_password
    assert client.get("/").status_code == 302


def test_p3_4_a_wrong_code_does_not_sign_in(client, nurse_account, outbox):
    before = len(outbox())
    submit_password(client, nurse_account.username, PASSWORD)
    code = sent_code(outbox, before)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post("/auth/otp", data={"code": wrong})
    assert response.status_code == 200 and "Mã không đúng" in html(response)
    assert session_row(client).stage == "otp"
    assert [e.details["purpose"] for e in audit("otp_failed")] == ["login"]
    assert reload(nurse_account).failed_code_count == 1


def _refusal(response) -> str:
    body = html(response)
    start = body.index('<p class="field-error"')
    return body[start:body.index("</p>", start)]


@pytest.mark.real_password_hashing  # the dummy hash costs what a real one costs
def test_p3_4_unknown_user_wrong_password_and_locked_get_the_same_answer(client, factory,
                                                                         monkeypatch):
    factory.account(username="known1")
    locked = factory.account(username="locked1")
    locked.locked_until = utcnow().replace(year=utcnow().year + 1)
    db.session.commit()
    verified: list[str] = []
    real_check = passwords.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        verified.append(pwhash.split("$", 1)[0])  # method and cost: "scrypt:32768:8:1"
        return real_check(pwhash, password)

    monkeypatch.setattr(passwords, "check_password_hash", counted)
    answers, costs = [], []
    for username, password in (("nobody-here", PASSWORD), ("known1", "Wrong#Pass99"),
                               ("locked1", "Wrong#Pass99")):
        verified.clear()
        response = submit_password(client, username, password)
        assert response.status_code == 200
        answers.append(_refusal(response))
        costs.append(list(verified))
    assert answers[0] == answers[1] == answers[2] and GENERIC in answers[0]
    # one password hash of the same method and cost is verified in each case (an unknown
    # user gets a dummy one), so the answer takes as long whoever asks: counted, not timed
    assert costs[0] == costs[1] == costs[2] and len(costs[0]) == 1, costs
    assert costs[0][0].startswith("scrypt:"), costs
    reasons = [e.details["reason"] for e in audit("login_failed")]
    assert reasons == ["unknown_account", "wrong_password", "wrong_password"]


def test_p2_4_failed_sign_in_audit_names_no_unknown_username_and_no_password(client, nurse_account):
    submit_password(client, "ghost-user", "Secret#Typed1")
    submit_password(client, nurse_account.username, "Secret#Typed2")
    unknown, known = audit("login_failed")
    assert unknown.account_id is None and unknown.entity_id is None
    assert known.entity_id == str(nurse_account.id)
    for event in (unknown, known):
        text = repr(event.details) + (event.actor or "")
        assert "ghost-user" not in text and "Secret#Typed" not in text


def test_p4_2_only_the_right_password_learns_the_account_is_revoked(client, factory):
    account = factory.account(status=AccountStatus.revoked)
    wrong = submit_password(client, account.username, "Wrong#Pass99")
    assert GENERIC in _refusal(wrong) and "thu hồi" not in html(wrong)
    right = submit_password(client, account.username, PASSWORD)
    assert "đã bị thu hồi" in _refusal(right) and "văn bản" in _refusal(right)
    assert sid(client) is None


def test_p4_3c_an_expired_unused_initial_password_is_refused(client, factory, outbox):
    account = factory.account(status=AccountStatus.pending, must_change_password=True)
    account.initial_password_expires_at = utcnow().replace(year=2000)
    db.session.commit()
    response = submit_password(client, account.username, PASSWORD)
    assert "cấp lại mật khẩu (P4.3c)" in _refusal(response)
    assert sid(client) is None and outbox() == []


@pytest.mark.parametrize("given, lands_on", [
    ("/auth/sessions", "/auth/sessions"),
    ("https://evil.example/x", "/"),
    ("//evil.example/x", "/"),
])
def test_next_is_honoured_only_when_it_is_a_local_path(client, nurse_account, outbox, given,
                                                        lands_on):
    response = login_through_forms(client, nurse_account.username, PASSWORD, outbox, next_url=given)
    assert response.status_code == 303 and response.headers["Location"] == lands_on


def test_a_page_that_needs_sign_in_sends_to_login_and_back(client, nurse_account, outbox):
    response = client.get("/auth/sessions")
    assert response.status_code == 302
    login_page = client.get(response.headers["Location"])
    assert 'name="next" type="hidden" value="/auth/sessions"' in html(login_page)
    response = login_through_forms(client, nurse_account.username, PASSWORD, outbox,
                                   next_url="/auth/sessions")
    assert response.headers["Location"] == "/auth/sessions"


def test_p3_4_authenticator_app_at_sign_in_with_an_sms_fallback(client, nurse_account, outbox):
    secret = pyotp.random_base32()
    nurse_account.totp_secret = totp.encrypt(secret)
    db.session.commit()
    before = len(outbox())
    submit_password(client, nurse_account.username, PASSWORD)
    assert outbox()[before:] == []  # no SMS: the app gives the code
    assert "ứng dụng xác thực" in html(client.get("/auth/otp"))
    client.post("/auth/otp/resend")  # "send by SMS instead"
    code = sent_code(outbox, before)
    assert client.post("/auth/otp", data={"code": code}).status_code == 303
    client.post("/auth/logout")
    response = login_through_forms(client, nurse_account.username, PASSWORD, outbox,
                                   code=pyotp.TOTP(secret).now())
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_the_code_page_needs_the_password_first(client):
    response = client.get("/auth/otp")
    assert response.status_code == 303 and "/auth/login" in response.headers["Location"]


def test_a_post_without_its_csrf_token_is_refused(client, nurse_account):
    response = client.post("/auth/login", data={"username": nurse_account.username,
                                                "password": PASSWORD}, csrf=False)
    assert response.status_code == 400 and sid(client) is None
