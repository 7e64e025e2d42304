"""Lock-out (kept in the database, so it holds across processes) and rate limits."""

from __future__ import annotations

from datetime import timedelta

from tests.auth.conftest import audit, reload, session_row
from tests.auth.flows import html, login_through_forms, sent_code, submit_password
from tests.helpers import PASSWORD, VaxClient
from vaxportal import create_app
from vaxportal.auth import lockout
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

WRONG = "Wrong#Pass99"


def _other_instance(config):
    """A second app process on the same database (and the same Redis in the PG run)."""
    other = create_app(dict(config))
    other.test_client_class = VaxClient
    return other


def test_p3_4_five_wrong_passwords_over_two_app_instances_lock_the_account(
        app, config, client, nurse, outbox):
    other, username = _other_instance(config), nurse.username
    for n in range(5):
        if n % 2:
            with other.app_context():
                response = submit_password(other.test_client(), username, WRONG)
                db.session.remove()
        else:
            response = submit_password(client, nurse.username, WRONG)
        assert response.status_code == 200
    account = reload(nurse)
    assert account.is_locked() and account.lock_count == 1
    assert account.locked_until - utcnow() > timedelta(minutes=14)
    assert len(audit("locked")) == 1
    # now even the right password gets the same answer, in either process
    before = len(outbox())
    response = submit_password(client, nurse.username, PASSWORD)
    assert response.status_code == 200 and "khoá tài khoản" in html(response)
    assert len(outbox()) == before


def test_p3_4_a_right_password_resets_the_count(client, nurse):
    for _ in range(4):
        submit_password(client, nurse.username, WRONG)
    submit_password(client, nurse.username, PASSWORD)
    assert reload(nurse).failed_password_count == 0
    for _ in range(4):
        submit_password(client, nurse.username, WRONG)
    assert not reload(nurse).is_locked()


def test_p3_4_ten_wrong_codes_lock_and_end_the_session(client, nurse, outbox):
    before = len(outbox())
    submit_password(client, nurse.username, PASSWORD)
    right = sent_code(outbox, before)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for n in range(9):
        if n and n % 5 == 0:  # the code is void after 5 tries: a new one
            submit_password(client, nurse.username, PASSWORD)
        assert client.post("/auth/otp", data={"code": wrong}).status_code == 200
    assert not reload(nurse).is_locked() and reload(nurse).failed_code_count == 9
    response = client.post("/auth/otp", data={"code": wrong})
    assert response.status_code == 303 and "/auth/login" in response.headers["Location"]
    assert reload(nurse).is_locked()
    assert audit("locked")[0].details["after"] == "code"


def test_p3_4_a_lock_ends_every_session_of_the_account(signed_in, client, outbox):
    other = signed_in("data_entry")
    assert other.get("/").status_code == 200
    for _ in range(5):
        submit_password(client, other.account.username, WRONG)
    assert other.get("/").status_code == 302
    assert session_row(other).end_reason == "locked"


def test_p3_4_a_repeated_lock_lasts_twice_as_long(client, nurse):
    for minutes in (15, 30, 60):
        for _ in range(5):
            submit_password(client, nurse.username, WRONG)
        account = reload(nurse)
        left = account.locked_until - utcnow()
        assert timedelta(minutes=minutes - 1) < left <= timedelta(minutes=minutes)
        account.locked_until = utcnow() - timedelta(seconds=1)  # the lock runs out
        db.session.commit()


def test_p3_4_a_lock_runs_out_and_unlock_ends_it_early(client, new_client, nurse, outbox):
    for _ in range(5):
        submit_password(client, nurse.username, WRONG)
    account = reload(nurse)
    lockout.unlock(account)
    db.session.commit()
    assert not reload(nurse).is_locked() and reload(nurse).lock_count == 1
    response = login_through_forms(new_client(), nurse.username, PASSWORD, outbox)
    assert response.status_code == 303
    assert reload(nurse).lock_count == 0  # a full sign-in starts the doubling over
