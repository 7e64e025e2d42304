"""One-time codes: SMS codes (P3.4, ASVS 2.7), authenticator codes used once (ASVS 2.8.5),
and codes bound to one action (exports, P3.4)."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from tests.helpers import (
    PASSWORD,
    audit,
    html,
    login_through_forms,
    reload,
    sent_code,
    session_row,
    submit_password,
)
from vaxportal import create_app
from vaxportal.auth import totp
from vaxportal.auth.models import OtpChallenge
from vaxportal.auth.stepup import issue_action_code, verify_action_code
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow


def _challenges() -> list[OtpChallenge]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OtpChallenge).order_by(OtpChallenge.id)).all()


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def at_code_step(client, nurse_account, outbox):
    """The nurse past the password; returns the SMS code sent."""
    before = len(outbox())
    submit_password(client, nurse_account.username, PASSWORD)
    return sent_code(outbox, before)


def test_p3_4_sms_code_is_stored_only_as_a_hash(at_code_step):
    (challenge,) = _challenges()
    assert at_code_step not in repr(vars(challenge)) and len(challenge.code_hash) == 64
    assert challenge.purpose == "login" and challenge.action_ref == str(challenge.session_id)


def test_p3_4_sms_code_is_single_use(client, new_client, nurse_account, at_code_step):
    row = session_row(client)
    assert client.post("/auth/otp", data={"code": at_code_step}).status_code == 303
    assert verify_action_code(nurse_account, "login", row.id, at_code_step) is False
    from vaxportal.auth.codes import Outcome, verify
    assert verify(nurse_account, "login", row.id, at_code_step) is Outcome.void


def test_p3_4_sms_code_expires_after_five_minutes(client, at_code_step):
    (challenge,) = _challenges()
    assert challenge.expires_at - challenge.created_at == timedelta(seconds=300)
    challenge.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.post("/auth/otp", data={"code": at_code_step})
    assert response.status_code == 200 and "hết hạn" in html(response)
    assert session_row(client).stage == "otp"


def test_p3_4_sms_code_void_after_five_wrong_tries(client, at_code_step):
    for _ in range(5):
        assert "Mã không đúng" in html(client.post("/auth/otp",
                                                   data={"code": _other(at_code_step)}))
    response = client.post("/auth/otp", data={"code": at_code_step})
    assert response.status_code == 200 and "hết số lần thử" in html(response)
    assert _challenges()[0].attempts == 5


def test_p3_4_resend_at_most_once_a_minute_and_five_times_an_hour(client, at_code_step,
                                                                  outbox):
    sent = len(outbox())
    response = client.post("/auth/otp/resend")
    assert "đợi" in html(client.get(response.headers["Location"]))
    assert len(outbox()) == sent  # too soon
    for n in range(5):
        for challenge in _challenges():  # a minute passes
            challenge.created_at -= timedelta(seconds=61)
        db.session.commit()
        client.post("/auth/otp/resend")
        assert len(outbox()) == sent + n + 1
    for challenge in _challenges():
        challenge.created_at -= timedelta(seconds=61)
    db.session.commit()
    client.post("/auth/otp/resend")
    assert len(outbox()) == sent + 5  # the sixth resend within the hour is refused
    # only the newest code works
    codes = [m["secret"] for m in outbox() if m["kind"] == "login"]
    assert client.post("/auth/otp", data={"code": codes[0]}).status_code == 200
    assert client.post("/auth/otp", data={"code": codes[-1]}).status_code == 303


# -- authenticator app ------------------------------------------------------------------


@pytest.fixture
def with_app(nurse_account):
    secret = pyotp.random_base32()
    nurse_account.totp_secret = totp.encrypt(secret)
    db.session.commit()
    return pyotp.TOTP(secret)


def test_p3_4_a_replayed_authenticator_code_is_refused_recorded_and_told(
        client, new_client, nurse_account, with_app, outbox):
    code = with_app.now()
    assert login_through_forms(client, nurse_account.username, PASSWORD, outbox,
                               code=code).status_code == 303
    thief = new_client()
    response = login_through_forms(thief, nurse_account.username, PASSWORD, outbox, code=code)
    assert response.status_code == 200 and "đã được dùng rồi" in html(response)
    assert session_row(thief).stage == "otp"
    assert [e.entity_id for e in audit("otp_replayed")] == [str(nurse_account.id)]
    notice = [m for m in outbox() if m["kind"] == "security_notice"]
    assert len(notice) == 1 and notice[0]["to"] == nurse_account.phone
    assert notice[0]["secret"] is None


def test_p3_4_an_authenticator_step_is_taken_once_across_processes(app, config, nurse_account,
                                                                     with_app):
    """Two app instances on one database: the conditional UPDATE lets only one win."""
    step = int(utcnow().timestamp()) // 30
    other = create_app(dict(config))
    with other.app_context():
        from vaxportal.auth.models import Account
        theirs = db.session.get(Account, nurse_account.id)
        assert totp.claim_step(theirs, step)
        db.session.commit()
        db.session.remove()
    mine = reload(nurse_account)
    assert mine.totp_last_step == step
    assert not totp.claim_step(mine, step)
    assert not totp.claim_step(mine, step - 1)
    assert totp.claim_step(mine, step + 1)


# -- codes bound to one action ------------------------------------------------------------


def test_p3_4_a_login_code_is_refused_for_an_export(client, nurse_account, at_code_step):
    issue_action_code(nurse_account, "export", "job-a", "xuất 3 đối tượng của Trạm Y tế Mỹ Bình")
    db.session.commit()
    assert verify_action_code(nurse_account, "export", "job-a", at_code_step) is False
    row = session_row(client)
    assert verify_action_code(nurse_account, "login", row.id, at_code_step) is False
    # and it still signs in: refusing it for the export did not use it up
    assert client.post("/auth/otp", data={"code": at_code_step}).status_code == 303


def test_p3_4_a_code_for_export_a_is_refused_for_export_b(nurse_account, outbox):
    issue_action_code(nurse_account, "export", "job-a",
                      "xuất 1.234 đối tượng của Trạm Y tế Mỹ Bình")
    issue_action_code(nurse_account, "export", "job-b", "xuất 5 đối tượng của Trạm Y tế Mỹ Long")
    db.session.commit()
    sms_a, sms_b = outbox()
    assert sms_a["kind"] == "export" and "xuất 1.234 đối tượng của Trạm Y tế Mỹ Bình" in \
        sms_a["body"]
    assert verify_action_code(nurse_account, "export", "job-b", sms_a["secret"]) is False
    assert verify_action_code(nurse_account, "import", "job-a", sms_a["secret"]) is False
    assert verify_action_code(nurse_account, "export", "job-b", sms_b["secret"]) is True
    assert verify_action_code(nurse_account, "export", "job-b", sms_b["secret"]) is False  # once
    assert verify_action_code(nurse_account, "export", "job-a", sms_a["secret"]) is True
    db.session.commit()
    assert reload(nurse_account).failed_code_count == 3  # failures count toward the lock-out


def test_p3_4_step_up_freshness_never_confirms_an_action(signed_in):
    client = signed_in("data_entry")
    row = session_row(client)
    row.step_up_at = utcnow()
    db.session.commit()
    issue_action_code(client.account, "export", "job-a", "xuất 1 đối tượng")
    assert verify_action_code(client.account, "export", "job-a", "") is False
    assert verify_action_code(client.account, "step_up", row.id, "000000") is False


def test_p3_4_a_fresh_authenticator_code_confirms_an_action_once(nurse_account, with_app):
    code = with_app.now()
    assert verify_action_code(nurse_account, "export", "job-a", code) is True
    assert verify_action_code(nurse_account, "export", "job-b", code) is False
