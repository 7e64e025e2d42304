"""Attacks on one-time codes (P3.4): a replayed authenticator code, an SMS code used for
another purpose or after it expired, and guessing past the limits. Each is made through the
real pages; the refusal, and that the protected change did not happen, are both checked."""

from __future__ import annotations

import pyotp
import pytest

from tests.attacks.support import audit_actions, changed_tables, db_state, last_audit_id
from tests.helpers import (
    PASSWORD,
    code_for,
    confirm,
    html,
    login_through_forms,
    reload,
    request_export,
    sent_code,
    session_row,
    sid,
    submit_password,
)
from vaxportal.auth import totp
from vaxportal.exports.models import JobStatus
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient
from vaxportal.validators import format_date_vn

REPLAYED = "đã được dùng rồi"
WRONG = "Mã không đúng"
VOID = "hết hạn hoặc đã hết số lần thử"
EXPORT_REFUSED = "không phải mã của lượt xuất này"
THIEF_NAME = "Kẻ Mạo Danh"


def identity_form(recipient: Recipient, **changes) -> dict:
    """The identity form of a recipient as the edit page fills it, with ``changes``."""
    data = {"full_name": recipient.full_name,
            "date_of_birth": format_date_vn(recipient.date_of_birth),
            "gender": recipient.gender, "national_id": recipient.national_id or "",
            "insurance_number": "", "phone": "", "province": "", "district": "", "ward": "",
            "street": "", "version_id": str(recipient.version_id)}
    data.update(changes)
    return data


def name_of(recipient: Recipient) -> str:
    db.session.rollback()
    return db.session.get(Recipient, recipient.id).full_name


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def at_password_step(client, username: str, outbox) -> str:
    """Past the password of ``username`` in ``client``; the login code sent by SMS."""
    before = len(outbox())
    assert submit_password(client, username, PASSWORD).status_code == 303
    return sent_code(outbox, before)


def prompt_code(client, recipient, outbox) -> str:
    """Post an identity change without a code: the step-up prompt sends one by SMS."""
    response = client.post(f"/recipients/{recipient.id}/identity",
                           data=identity_form(recipient, full_name=THIEF_NAME))
    assert response.status_code == 200 and "Xác thực lại bằng mã OTP" in html(response)
    return [m for m in outbox() if m["kind"] == "step_up"][-1]["secret"]


def step_up_edit(client, recipient, code: str):
    data = identity_form(recipient, full_name=THIEF_NAME, stepup_code=code)
    return client.post(f"/recipients/{recipient.id}/identity", data=data)


@pytest.fixture
def authenticator(nurse):
    """The nurse's account uses an authenticator app."""
    generator = pyotp.TOTP(pyotp.random_base32())
    nurse.account.totp_secret = totp.encrypt(generator.secret)
    db.session.commit()
    return generator


# -- 1. a replayed authenticator code ------------------------------------------------------


def test_p3_4_replayed_totp_code_from_login_is_refused_at_step_up(
        client, nurse, authenticator, person, outbox):
    """The holder types a code at sign-in; someone who saw it tries it at once in an older,
    stolen session of the same account, to pass the step-up of an identity edit."""
    recipient = person("s1")
    code = authenticator.now()
    assert login_through_forms(client, nurse.account.username, PASSWORD, outbox,
                               code=code).status_code == 303
    mark = last_audit_id()
    response = step_up_edit(nurse, recipient, code)
    assert response.status_code == 200 and REPLAYED in html(response)
    assert name_of(recipient) == "Nguyễn Văn An"
    assert "otp_replayed" in audit_actions(mark)
    notices = [m for m in outbox() if m["kind"] == "security_notice"]
    assert len(notices) == 1 and notices[0]["to"] == nurse.account.phone


def test_p3_4_replayed_totp_code_from_step_up_is_refused_at_login(
        client, nurse, authenticator, person, outbox):
    recipient = person("s1")
    code = authenticator.now()
    response = step_up_edit(nurse, recipient, code)
    assert response.status_code == 303 and name_of(recipient) == THIEF_NAME  # the owner's edit
    before = len(outbox())
    assert submit_password(client, nurse.account.username, PASSWORD).status_code == 303
    response = client.post("/auth/otp", data={"code": code})
    assert response.status_code == 200 and REPLAYED in html(response)
    assert session_row(client).stage == "otp"
    assert client.get("/recipients/").status_code == 302
    assert [m["kind"] for m in outbox()[before:]] == ["security_notice"]


# -- 2. an SMS code used for another purpose, or after it expired ---------------------------


def test_p3_4_login_code_is_refused_for_step_up(client, nurse, person, outbox):
    recipient = person("s1")
    login_code = at_password_step(client, nurse.account.username, outbox)
    prompt_code(nurse, recipient, outbox)  # a step-up code exists, but the thief has the login one
    response = step_up_edit(nurse, recipient, login_code)
    assert response.status_code == 200 and WRONG in html(response)
    assert name_of(recipient) == "Nguyễn Văn An"
    # the login code was not the problem: it still signs in, where it belongs
    assert client.post("/auth/otp", data={"code": login_code}).status_code == 303


def test_p3_4_login_code_is_refused_for_an_export(client, nurse, person, outbox):
    person("s1")
    job = request_export(nurse)
    login_code = at_password_step(client, nurse.account.username, outbox)
    response = confirm(nurse, job, login_code)
    assert response.status_code == 400 and EXPORT_REFUSED in html(response)
    db.session.refresh(job)
    assert job.status == JobStatus.pending and job.file_name is None
    assert nurse.get(f"/exports/{job.id}/download").status_code == 303  # nothing to download
    assert client.post("/auth/otp", data={"code": login_code}).status_code == 303


def test_p3_4_export_code_is_refused_for_login_and_step_up(client, nurse, person, outbox):
    recipient = person("s1")
    job = request_export(nurse)
    export_code = code_for(outbox, job)
    at_password_step(client, nurse.account.username, outbox)
    response = client.post("/auth/otp", data={"code": export_code})
    assert response.status_code == 200 and WRONG in html(response)
    assert session_row(client).stage == "otp"
    prompt_code(nurse, recipient, outbox)
    response = step_up_edit(nurse, recipient, export_code)
    assert response.status_code == 200 and WRONG in html(response)
    assert name_of(recipient) == "Nguyễn Văn An"
    assert confirm(nurse, job, export_code).status_code == 303  # still good for its export


def test_p3_4_step_up_code_is_refused_for_login_and_export(client, nurse, person, outbox):
    recipient = person("s1")
    job = request_export(nurse)
    step_code = prompt_code(nurse, recipient, outbox)
    at_password_step(client, nurse.account.username, outbox)
    response = client.post("/auth/otp", data={"code": step_code})
    assert response.status_code == 200 and WRONG in html(response)
    assert session_row(client).stage == "otp"
    response = confirm(nurse, job, step_code)
    assert response.status_code == 400 and EXPORT_REFUSED in html(response)
    db.session.refresh(job)
    assert job.status == JobStatus.pending


def test_p3_4_code_of_one_export_is_refused_for_another(nurse, person, outbox):
    person("s1")
    first, second = request_export(nurse), request_export(nurse)
    response = confirm(nurse, second, code_for(outbox, first))
    assert response.status_code == 400 and EXPORT_REFUSED in html(response)
    db.session.refresh(second)
    assert second.status == JobStatus.pending and second.file_name is None


def test_p3_4_expired_login_code_is_refused(client, nurse, clock, outbox):
    code = at_password_step(client, nurse.account.username, outbox)
    clock.advance(seconds=301)
    response = client.post("/auth/otp", data={"code": code})
    assert response.status_code == 200 and VOID in html(response)
    assert session_row(client).stage == "otp"


def test_p3_4_expired_step_up_code_is_refused(nurse, person, clock, outbox):
    recipient = person("s1")
    code = prompt_code(nurse, recipient, outbox)
    clock.advance(seconds=301)
    response = step_up_edit(nurse, recipient, code)
    assert response.status_code == 200 and VOID in html(response)
    assert name_of(recipient) == "Nguyễn Văn An"


def test_p3_4_expired_export_code_is_refused(nurse, person, clock, outbox):
    person("s1")
    job = request_export(nurse)
    clock.advance(seconds=301)
    response = confirm(nurse, job, code_for(outbox, job))
    assert response.status_code == 400 and EXPORT_REFUSED in html(response)
    db.session.refresh(job)
    assert job.status == JobStatus.pending and job.file_name is None


# -- 3. guessing past the limits --------------------------------------------------------------


def test_p3_4_five_wrong_login_codes_void_the_code(client, nurse, outbox):
    code = at_password_step(client, nurse.account.username, outbox)
    for _ in range(5):
        response = client.post("/auth/otp", data={"code": other(code)})
        assert response.status_code == 200 and WRONG in html(response)
    response = client.post("/auth/otp", data={"code": code})
    assert response.status_code == 200 and VOID in html(response)
    assert session_row(client).stage == "otp"
    assert client.get("/recipients/").status_code == 302


def test_p3_4_five_wrong_step_up_codes_void_the_code(nurse, person, outbox):
    recipient = person("s1")
    code = prompt_code(nurse, recipient, outbox)
    for _ in range(5):
        assert WRONG in html(step_up_edit(nurse, recipient, other(code)))
    response = step_up_edit(nurse, recipient, code)
    assert response.status_code == 200 and VOID in html(response)
    assert name_of(recipient) == "Nguyễn Văn An"


def test_p3_4_five_wrong_export_codes_void_the_code(nurse, person, outbox):
    person("s1")
    job = request_export(nurse)
    code = code_for(outbox, job)
    for _ in range(5):
        assert confirm(nurse, job, other(code)).status_code == 400
    assert confirm(nurse, job, code).status_code == 400
    db.session.refresh(job)
    assert job.status == JobStatus.pending and job.file_name is None


def test_p3_4_ten_wrong_codes_over_two_sessions_lock_the_account(
        client, new_client, nurse, outbox):
    """An attacker who has the password opens sessions to get fresh codes: the failures
    count per account, and 10 of them lock it; the owner's session already signed in goes
    on (a lock is not a weapon), and the right password is told until when it is locked."""
    thief = new_client()
    for browser in (client, thief):
        code = at_password_step(browser, nurse.account.username, outbox)
        for _ in range(5):
            response = browser.post("/auth/otp", data={"code": other(code)})
    assert response.status_code == 303 and "/auth/login" in response.headers["Location"]
    assert reload(nurse.account).is_locked()
    assert nurse.get("/recipients/").status_code == 200  # the owner works on
    response = submit_password(new_client(), nurse.account.username, PASSWORD)
    assert response.status_code == 200 and "khoá đến" in html(response)


def test_p3_4_resend_is_limited_once_a_minute_and_five_times_an_hour(client, nurse, clock,
                                                                   outbox):
    at_password_step(client, nurse.account.username, outbox)
    sent = len(outbox())
    client.post("/auth/otp/resend")
    assert len(outbox()) == sent  # within the minute
    for n in range(5):
        clock.advance(seconds=61)
        client.post("/auth/otp/resend")
        assert len(outbox()) == sent + n + 1
    clock.advance(seconds=61)
    response = client.post("/auth/otp/resend", follow_redirects=True)
    assert len(outbox()) == sent + 5 and "Vui lòng đợi" in html(response)
    for _ in range(3):  # the hour passes, the page open all along
        clock.advance(minutes=20)
        assert client.get("/auth/otp").status_code == 200
    client.post("/auth/otp/resend")
    assert len(outbox()) == sent + 6


def test_p3_4_step_up_resend_is_limited(nurse, person, clock, outbox):
    recipient = person("s1")
    prompt_code(nurse, recipient, outbox)
    sent = len(outbox())
    data = identity_form(recipient, full_name=THIEF_NAME, stepup_resend="1")
    response = nurse.post(f"/recipients/{recipient.id}/identity", data=data)
    assert "đã được gửi" in html(response) and len(outbox()) == sent
    for n in range(6):  # five resends an hour
        clock.advance(seconds=61)
        nurse.post(f"/recipients/{recipient.id}/identity", data=data)
        assert len(outbox()) == sent + min(n + 1, 5)
    assert name_of(recipient) == "Nguyễn Văn An"


def test_p3_4_guesses_change_nothing_but_the_counters(client, nurse, outbox):
    at_password_step(client, nurse.account.username, outbox)
    before = db_state()
    client.post("/auth/otp", data={"code": "000000"})
    assert changed_tables(before, db_state()) == ["account", "otp_challenge"]
    assert sid(client) is not None and session_row(client).stage == "otp"
