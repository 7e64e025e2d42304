"""Lock-out (kept in the database, so it holds across processes): wrong passwords make the
typed username wait (doubling, capped), wrong codes lock the account (doubling per lock)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.helpers import (
    PASSWORD,
    VaxClient,
    audit,
    html,
    login_through_forms,
    reload,
    sent_code,
    submit_password,
)
from vaxportal import create_app
from vaxportal.auth import lockout
from vaxportal.auth.models import SignInFailure
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

WRONG = "Wrong#Pass99"


def _other_instance(config):
    """A second app process on the same database (and the same Redis in the PG run)."""
    other = create_app(dict(config))
    other.test_client_class = VaxClient
    return other


def _wait_left() -> timedelta | None:
    db.session.expire_all()
    until = db.session.scalar(sa.select(sa.func.max(SignInFailure.blocked_until)))
    return until - utcnow() if until is not None else None


def _waits_end() -> None:
    db.session.execute(sa.update(SignInFailure).values(blocked_until=utcnow()))
    db.session.commit()


def test_p3_4_five_wrong_passwords_over_two_app_instances_make_the_username_wait(
        app, config, client, nurse_account, outbox):
    other, username = _other_instance(config), nurse_account.username
    for n in range(5):
        if n % 2:
            with other.app_context():
                response = submit_password(other.test_client(), username, WRONG)
                db.session.remove()
        else:
            response = submit_password(client, nurse_account.username, WRONG)
        assert response.status_code == 200
    assert len(audit("locked")) == 1 and not reload(nurse_account).is_locked()
    assert timedelta(seconds=50) < _wait_left() <= timedelta(seconds=60)
    # now even the right password waits, in either process
    before = len([m for m in outbox() if m["kind"] == "login"])
    response = submit_password(client, nurse_account.username, PASSWORD)
    assert response.status_code == 200 and "thử lại sau" in html(response)
    with other.app_context():
        response = submit_password(other.test_client(), username, PASSWORD)
        db.session.remove()
    assert response.status_code == 200 and "thử lại sau" in html(response)
    assert len([m for m in outbox() if m["kind"] == "login"]) == before


def test_p3_4_a_right_password_resets_the_count(client, nurse_account):
    for _ in range(4):
        submit_password(client, nurse_account.username, WRONG)
    submit_password(client, nurse_account.username, PASSWORD)
    for _ in range(4):
        submit_password(client, nurse_account.username, WRONG)
    assert _wait_left() is None
    assert submit_password(client, nurse_account.username, PASSWORD).status_code == 303


def test_p3_4_ten_wrong_codes_lock_the_account(client, nurse_account, outbox):
    before = len(outbox())
    submit_password(client, nurse_account.username, PASSWORD)
    right = sent_code(outbox, before)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for n in range(9):
        if n and n % 5 == 0:  # the code is void after 5 tries: a new one
            submit_password(client, nurse_account.username, PASSWORD)
        assert client.post("/auth/otp", data={"code": wrong}).status_code == 200
    assert not reload(nurse_account).is_locked() and reload(nurse_account).failed_code_count == 9
    response = client.post("/auth/otp", data={"code": wrong})
    assert response.status_code == 303 and "/auth/login" in response.headers["Location"]
    assert reload(nurse_account).is_locked()
    assert audit("locked")[0].details["after"] == "code"


def test_p3_4_each_wrong_password_past_the_limit_doubles_the_wait_up_to_a_cap(app, client,
                                                                             nurse_account):
    app.config["LOGIN_DELAY_MAX_MINUTES"] = 3
    for _ in range(5):
        submit_password(client, nurse_account.username, WRONG)
    for seconds in (60, 120, 180, 180):
        assert timedelta(seconds=seconds - 10) < _wait_left() <= timedelta(seconds=seconds)
        _waits_end()
        submit_password(client, nurse_account.username, WRONG)


def test_p3_4_a_repeated_code_lock_lasts_twice_as_long(app, nurse_account):
    for minutes in (15, 30, 60):
        with app.test_request_context():
            for _ in range(int(app.config["LOCKOUT_CODE_FAILURES"])):
                lockout.code_failed(reload(nurse_account))
            db.session.commit()
        account = reload(nurse_account)
        left = account.locked_until - utcnow()
        assert timedelta(minutes=minutes - 1) < left <= timedelta(minutes=minutes)
        account.locked_until = utcnow() - timedelta(seconds=1)  # the lock runs out
        db.session.commit()


def test_p3_4_unlock_ends_the_wait_early_and_starts_the_doubling_over(app, client, new_client,
                                                                      nurse_account, outbox):
    for _ in range(5):
        submit_password(client, nurse_account.username, WRONG)
    account = reload(nurse_account)
    account.lock_count = 3
    with app.test_request_context():
        assert lockout.is_locked(account)
        lockout.unlock(account)
    db.session.commit()
    assert _wait_left() is None and reload(nurse_account).lock_count == 0
    response = login_through_forms(new_client(), nurse_account.username, PASSWORD, outbox)
    assert response.status_code == 303


def test_p3_4_keys_with_nothing_to_remember_are_forgotten(client, nurse_account):
    for username in ("made.up.1", "made.up.2"):
        submit_password(client, username, WRONG)
    db.session.execute(sa.update(SignInFailure).values(updated_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    submit_password(client, "made.up.3", WRONG)  # a new key starts counting: old ones go
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInFailure)) == 2
