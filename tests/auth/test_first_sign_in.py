"""The first sign-in of an issued account (P3.2, P4.3b) and the password rules."""

from __future__ import annotations

import logging
import re

import pyotp
import pytest
import sqlalchemy as sa

from tests.helpers import (
    PASSWORD,
    audit,
    first_sign_in,
    html,
    initial_password,
    login_through_forms,
    reload,
    session_row,
)
from vaxportal.auth import otp, passwords
from vaxportal.auth.models import AccountStatus, PasswordHistory, UserSession
from vaxportal.extensions import db
from vaxportal.facilities import lifecycle

NEW_PASSWORD = "Vung-Tau#Bien77"


@pytest.fixture
def issued(factory, outbox):
    """A station's account just issued (P4.1): pending, its initial password sent by SMS."""
    station = factory.facility("S9", name="Trạm Y tế Mỹ Hoà")
    account = lifecycle.issue_account(station, "tram.myhoa", "data_entry", "0912 777 888",
                                      {"full_name": "Phạm Thị Giữ"})
    db.session.commit()
    return account


def test_p3_2_p4_3b_the_whole_first_sign_in_from_the_initial_sms(client, issued, outbox):
    assert issued.status == AccountStatus.pending and issued.phone_verified_at is None
    password = initial_password(outbox, "tram.myhoa")
    # the password from the SMS, then an ACTIVATION code proving the phone (P3.2)
    before = len(outbox())
    client.post("/auth/login", data={"username": "tram.myhoa", "password": password})
    (sms,) = outbox()[before:]
    assert sms["kind"] == "activation" and sms["to"] == "+84912777888"
    assert "Kích hoạt tài khoản" in html(client.get("/auth/otp"))
    response = client.post("/auth/otp", data={"code": sms["secret"]})
    assert response.headers["Location"] == "/auth/password"
    assert reload(issued).phone_verified_at is not None
    # nothing but the password change is reachable (P4.3b)
    for path in ("/", "/auth/sessions", "/auth/totp", "/recipients/"):
        response = client.get(path)
        assert response.status_code in (302, 303) and response.headers["Location"] == \
            "/auth/password", path
    assert client.post("/auth/sessions").headers["Location"] == "/auth/password"
    page = html(client.get("/auth/password"))
    assert 'name="current_password"' not in page and 'name="new_password"' in page
    # the initial password can never become the lasting one
    response = client.post("/auth/password", data={"new_password": password,
                                                    "confirm_password": password})
    assert str(passwords.REUSED) in html(response)
    response = client.post("/auth/password", data={"new_password": NEW_PASSWORD,
                                                    "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/totp"
    account = reload(issued)
    assert account.status == AccountStatus.active and not account.must_change_password
    assert account.initial_password_expires_at is None
    assert passwords.verify_password(account.password_hash, NEW_PASSWORD)
    assert len(db.session.scalars(sa.select(PasswordHistory)).all()) == 1
    assert [e.entity_id for e in audit("password_changed")] == [str(account.id)]
    assert client.get("/").status_code == 200
    # the offer of an authenticator app: server-rendered QR (inline SVG) and the key as text
    page = html(client.get("/auth/totp"))
    assert "<svg" in page and "<img" not in page
    key = re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', page).group(1)
    secret = key.replace(" ", "")
    response = client.post("/auth/totp", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 303
    account = reload(issued)
    assert account.totp_secret and secret not in account.totp_secret  # encrypted at rest
    assert otp.decrypt_secret(account.totp_secret, "test-otp-key") == secret
    assert account.totp_last_step is not None  # the confirming code is used up
    assert len(audit("totp_enrolled")) == 1


def test_p4_3b_first_sign_in_helper_and_the_new_password_works(client, new_client, issued,
                                                                outbox):
    response = first_sign_in(client, "tram.myhoa", outbox, NEW_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/auth/totp"
    other = new_client()
    before = len(outbox())
    response = login_through_forms(other, "tram.myhoa", NEW_PASSWORD, outbox)
    assert response.headers["Location"] == "/"
    assert outbox()[before]["kind"] == "login"  # the phone is proven: no activation again


def test_p4_3b_the_initial_password_refused_after_change(client, new_client, issued, outbox):
    initial = initial_password(outbox, "tram.myhoa")
    first_sign_in(client, "tram.myhoa", outbox, NEW_PASSWORD)
    response = new_client().post("/auth/login", data={"username": "tram.myhoa",
                                                      "password": initial})
    assert response.status_code == 200 and "không đúng" in html(response)


WEAK = [
    ("Ab1!xyz", passwords.TOO_SHORT),
    ("vungtau#bien77", passwords.NO_UPPER),
    ("VUNGTAU#BIEN77", passwords.NO_LOWER),
    ("Vung-Tau#Bienxx", passwords.NO_DIGIT),
    ("VungTauBien77x", passwords.NO_SPECIAL),
    ("Nurse1#Vung-Tau77", passwords.HAS_USERNAME),
    ("Q#912345001xZ", passwords.HAS_PHONE),
    ("Abc@1234", passwords.WELL_KNOWN),
    ("Matkhau@123", passwords.WELL_KNOWN),
]


@pytest.mark.parametrize("candidate, rule", WEAK, ids=[w[0] for w in WEAK])
def test_p4_3b_each_password_rule_names_itself(signed_in, factory, candidate, rule):
    client = signed_in("data_entry", username="nurse1", phone="+84912345001")
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": candidate, "confirm_password": candidate})
    assert response.status_code == 200
    assert str(rule) in html(response)
    assert passwords.verify_password(reload(client.account).password_hash, PASSWORD)


def test_p4_3b_not_one_of_the_last_five(signed_in):
    client = signed_in("data_entry")
    history = [f"Song-Hau#{n}Xanh" for n in range(1, 7)]
    current = PASSWORD
    for new in history:
        response = client.post("/auth/password", data={
            "current_password": current, "new_password": new, "confirm_password": new})
        assert response.status_code == 303, html(response)
        current = new
    assert len(db.session.scalars(sa.select(PasswordHistory)).all()) == 5
    for reused in history[-5:]:  # the current one and the four before it
        response = client.post("/auth/password", data={
            "current_password": current, "new_password": reused, "confirm_password": reused})
        assert str(passwords.REUSED) in html(response), reused
    response = client.post("/auth/password", data={
        "current_password": current, "new_password": history[0], "confirm_password": history[0]})
    assert response.status_code == 303  # the sixth back is allowed again


def test_p4_3b_a_voluntary_change_needs_the_current_password(signed_in):
    client = signed_in("data_entry")
    response = client.post("/auth/password", data={
        "current_password": "Not#TheRight1", "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert "Mật khẩu hiện tại không đúng" in html(response)
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD + "x"})
    assert "không khớp" in html(response)
    assert passwords.verify_password(reload(client.account).password_hash, PASSWORD)


def test_p4_3b_a_password_change_ends_the_other_sessions(signed_in, new_client, outbox):
    client = signed_in("data_entry")
    other = new_client()
    login_through_forms(other, client.account.username, PASSWORD, outbox)
    assert other.get("/").status_code == 200
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303
    assert other.get("/").status_code == 302  # ended
    assert client.get("/").status_code == 200  # this one stays
    ended = db.session.scalars(sa.select(UserSession).where(
        UserSession.end_reason == "password_changed")).all()
    assert len(ended) == 1 and session_row(client).ended_at is None


def test_p3_4_no_password_code_or_token_reaches_the_logs(client, issued, outbox, caplog):
    caplog.set_level(logging.DEBUG)
    initial = initial_password(outbox, "tram.myhoa")
    client.post("/auth/login", data={"username": "tram.myhoa", "password": "Wrong#Pass99"})
    first_sign_in(client, "tram.myhoa", outbox, NEW_PASSWORD)
    client.post("/auth/logout")
    login_through_forms(client, "tram.myhoa", NEW_PASSWORD, outbox)
    with client.session_transaction() as sess:
        token = sess["sid"]
    secrets = [initial, NEW_PASSWORD, "Wrong#Pass99", token]
    secrets += [m["secret"] for m in outbox() if m["secret"]]
    assert len(secrets) >= 6
    for secret in secrets:
        assert secret not in caplog.text
