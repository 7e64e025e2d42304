"""Lock-out is not a weapon (P3.4; ASVS 2.2.1): an anonymous attacker who knows a username
cannot end the holder's sessions, cannot lock the holder out of a browser that has signed in
to that account before, only slows unknown browsers for a few minutes; the holder is told by
SMS; the admin's unlock starts the doubling over; and the CSRF token changes at every sign-in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.attacks.support import REQUEST, step_up
from tests.helpers import (
    PASSWORD,
    html,
    login_through_forms,
    reload,
    sent_code,
    session_row,
    submit_password,
)
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

WRONG = "Wrong#Pass99"
ATTACKER = "203.0.113.9"
HOLDER = "198.51.100.7"
WAIT = "thử lại sau"


@pytest.fixture
def config(config):
    config["LOGIN_RATE_LIMIT"] = "1000 per minute"  # the lock-out under test, not the limiter
    return config


def attempt(client, username: str, password: str = WRONG, address: str = ATTACKER):
    return client.post("/auth/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def hammer(new_client, username: str, times: int = 12, address: str = ATTACKER) -> None:
    """An attacker's script: wrong passwords from a browser with no cookies."""
    for _ in range(times):
        assert attempt(new_client(), username, address=address).status_code == 200


def signs_in(client, username: str, address: str = HOLDER) -> bool:
    """The right password opens the code step."""
    response = attempt(client, username, PASSWORD, address)
    return response.status_code == 303 and response.headers["Location"].endswith("/auth/otp")


def known_browser(new_client, account, outbox):
    """A browser where the holder signed in fully once, then signed out."""
    browser = new_client()
    response = login_through_forms(browser, account.username, PASSWORD, outbox)
    assert response.status_code == 303, html(response)
    assert browser.post("/auth/logout").status_code == 303
    return browser


# -- sessions -------------------------------------------------------------------------------


def test_p3_4_wrong_passwords_never_end_the_working_nurses_session(nurse, new_client):
    assert nurse.get("/").status_code == 200
    hammer(new_client, nurse.account.username)
    assert nurse.get("/").status_code == 200
    assert session_row(nurse).ended_at is None


def test_p3_4_a_code_lock_never_ends_sessions_signed_in_before(nurse, new_client, outbox):
    """Even the lock that wrong codes set (after the right password) leaves the nurse who
    is working signed in."""
    thief = new_client()
    before = len(outbox())
    submit_password(thief, nurse.account.username, PASSWORD)
    wrong = f"{(int(sent_code(outbox, before)) + 1) % 1_000_000:06d}"
    for n in range(10):
        if n and n % 5 == 0:  # the code is void after 5 tries: a new one
            submit_password(thief, nurse.account.username, PASSWORD)
        thief.post("/auth/otp", data={"code": wrong})
    assert reload(nurse.account).is_locked()
    assert nurse.get("/").status_code == 200 and session_row(nurse).ended_at is None


def test_p3_4_wrong_current_passwords_slow_the_change_and_end_no_session(nurse):
    """Someone at an unattended desk guessing the current password on the change form."""
    change = {"current_password": WRONG, "new_password": "Tram-Y-te#2024xy",
              "confirm_password": "Tram-Y-te#2024xy"}
    for _ in range(5):
        assert nurse.post("/auth/password", data=change).status_code == 200
    page = nurse.post("/auth/password", data=change | {"current_password": PASSWORD})
    assert page.status_code == 200 and WAIT in html(page)
    assert not reload(nurse.account).is_locked()
    assert nurse.get("/").status_code == 200 and session_row(nurse).ended_at is None


# -- known and unknown browsers ---------------------------------------------------------------


def test_p3_4_an_attacker_cannot_lock_the_holder_out_of_a_known_browser(nurse, new_client,
                                                                       outbox):
    browser = known_browser(new_client, nurse.account, outbox)
    hammer(new_client, nurse.account.username, times=30)
    # an unknown browser (the attacker's, or a new one) must wait ...
    page = attempt(new_client(), nurse.account.username, PASSWORD, address=HOLDER)
    assert page.status_code == 200 and WAIT in html(page)
    # ... the holder's own browser is not held up, and signs in through the code
    assert signs_in(browser, nurse.account.username)
    assert login_through_forms(browser, nurse.account.username, PASSWORD,
                               outbox).status_code == 303


def test_p3_4_hammering_a_username_never_rate_limits_its_known_browser(app, nurse, new_client,
                                                                      outbox):
    browser = known_browser(new_client, nurse.account, outbox)
    app.config["LOGIN_RATE_LIMIT"] = "5 per minute"
    answers = [attempt(new_client(), nurse.account.username, address=f"203.0.113.{n}")
               for n in range(1, 8)]
    assert answers[-1].status_code == 429  # the typed username's own limit ...
    assert signs_in(browser, nurse.account.username)  # ... holds nobody up in a known browser


def test_p3_4_failures_of_a_known_browser_are_counted_apart(nurse, new_client, outbox):
    browser = known_browser(new_client, nurse.account, outbox)
    for _ in range(8):
        attempt(browser, nurse.account.username, address=HOLDER)
    page = attempt(browser, nurse.account.username, PASSWORD, address=HOLDER)
    assert WAIT in html(page)  # the known browser slows itself down ...
    assert signs_in(new_client(), nurse.account.username, address=HOLDER)  # ... nobody else


def test_p3_4_a_forged_device_cookie_is_an_unknown_browser(nurse, new_client, outbox, app):
    browser = known_browser(new_client, nurse.account, outbox)
    name = app.config["DEVICE_COOKIE_NAME"]
    cookie = browser.get_cookie(name)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert nurse.account.username not in cookie.value
    assert cookie.expires is not None and cookie.expires - utcnow() > timedelta(days=30)
    forged = new_client()
    forged.set_cookie(name, cookie.value[:-3] + "AAA")
    hammer(new_client, nurse.account.username)
    assert not signs_in(forged, nurse.account.username)


def test_p3_4_unknown_browsers_wait_minutes_not_days(nurse, new_client, clock, app):
    cap = timedelta(minutes=int(app.config["LOGIN_DELAY_MAX_MINUTES"]), seconds=1)
    for _ in range(6):  # an attacker who comes back as soon as each wait is over
        hammer(new_client, nurse.account.username, times=6)
        assert not signs_in(new_client(), nurse.account.username)
        clock.advance(seconds=cap.total_seconds())
    assert not reload(nurse.account).is_locked()
    assert signs_in(new_client(), nurse.account.username)


def test_p3_4_one_address_trying_many_usernames_is_slowed(app, new_client, factory, place):
    other = factory.account(facility=place["s2"], username="tyt.vinhmy")
    for n in range(int(app.config["LOGIN_ADDRESS_FAILURES"])):
        attempt(new_client(), f"tram{n}")
    page = attempt(new_client(), other.username, PASSWORD)
    assert page.status_code == 200 and WAIT in html(page)
    assert signs_in(new_client(), other.username, address=HOLDER)


# -- what the holder and the attacker are told --------------------------------------------


def _notices(outbox, to=None) -> list[dict]:
    return [m for m in outbox() if m["kind"] == "lockout_notice" and to in (None, m["to"])]


def test_p3_4_the_holder_is_told_by_sms_at_most_once_an_hour(nurse, new_client, outbox,
                                                            clock, app):
    phone = nurse.account.phone
    hammer(new_client, nurse.account.username)
    notices = _notices(outbox, phone)
    assert len(notices) == 1 and "tyt.mybinh" in notices[0]["body"]
    assert "khoá" in notices[0]["body"] and WRONG not in notices[0]["body"]
    for _ in range(3):  # the attacker keeps going: still one SMS in the hour
        clock.advance(minutes=16)
        hammer(new_client, nurse.account.username, times=3)
    assert len(_notices(outbox, phone)) == 1
    clock.advance(minutes=20)
    hammer(new_client, nurse.account.username, times=3)
    assert len(_notices(outbox, phone)) == 2


def _page(response) -> str:
    """The answer without what differs by construction (typed username, CSRF token)."""
    body = html(response)
    body = re.sub(r'name="csrf-token" content="[^"]*"', "", body)
    body = re.sub(r'name="csrf_token"[^>]*>', "", body)
    body = re.sub(r"\d\d/\d\d/\d{4} \d\d:\d\d(:\d\d)?", "(time)", body)
    return re.sub(r'(name="username"[^>]*value=")[^"]*"', r'\1"', body)


def test_p3_4_the_lock_page_says_until_when_and_not_whether_the_username_exists(
        nurse, new_client, outbox):
    pages = {}
    for username, address in ((nurse.account.username, ATTACKER), ("no.such.user", HOLDER)):
        hammer(new_client, username, address=address)
        response = attempt(new_client(), username, address=address)
        assert response.status_code == 200
        assert WAIT in html(response)
        assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", html(response))
        pages[username] = _page(response)
    assert pages[nurse.account.username] == pages["no.such.user"]
    assert _notices(outbox) and len(_notices(outbox)) == 1  # only the real holder's phone


def test_p3_4_a_locked_account_names_its_lock_only_to_the_right_password(nurse, new_client):
    account = reload(nurse.account)
    account.locked_until = utcnow() + timedelta(minutes=15)
    db.session.commit()
    wrong = attempt(new_client(), account.username, address=HOLDER)
    unknown = attempt(new_client(), "no.such.user", address=HOLDER)
    assert _page(wrong) == _page(unknown) and "khoá đến" not in html(wrong)
    right = attempt(new_client(), account.username, PASSWORD, address=HOLDER)
    assert right.status_code == 200 and "khoá đến" in html(right)


# -- the admin's unlock (P4.3c) ---------------------------------------------------------------


def test_p4_3c_the_admins_unlock_lifts_the_wait_and_starts_the_doubling_over(
        admin, nurse, new_client, outbox, app):
    account = reload(nurse.account)
    account.lock_count = 4  # four locks before: the next would last 16 times as long
    db.session.commit()
    hammer(new_client, account.username)
    assert not signs_in(new_client(), account.username)
    step_up(admin, outbox)
    response = admin.post(f"/facilities/accounts/{account.id}/unlock", data=REQUEST)
    assert response.status_code == 303, html(response)
    assert reload(account).lock_count == 0
    assert signs_in(new_client(), account.username)
    # the next lock after wrong codes lasts the first duration again
    thief = new_client()
    before = len(outbox())
    submit_password(thief, account.username, PASSWORD)
    wrong = f"{(int(sent_code(outbox, before)) + 1) % 1_000_000:06d}"
    for n in range(int(app.config["LOCKOUT_CODE_FAILURES"])):
        if n and n % 5 == 0:
            submit_password(thief, account.username, PASSWORD)
        thief.post("/auth/otp", data={"code": wrong})
    left = reload(account).locked_until - utcnow()
    assert timedelta(0) < left <= timedelta(minutes=int(app.config["LOCKOUT_MINUTES"]))


# -- the CSRF token (section 5) ---------------------------------------------------------------


def _csrf_raw(client) -> str | None:
    with client.session_transaction() as sess:
        return sess.get("csrf_token")


def test_the_csrf_token_changes_at_every_sign_in(nurse, new_client, outbox):
    browser = known_browser(new_client, nurse.account, outbox)
    browser.get("/auth/login")
    assert login_through_forms(browser, nurse.account.username, PASSWORD,
                               outbox).status_code == 303
    assert browser.get("/").status_code == 200
    page_token = browser.csrf_token()  # the token of the page that stays open
    first = _csrf_raw(browser)
    # signing in again as the same account, in the same browser, after a time-out
    row = session_row(browser)
    row.last_seen_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert login_through_forms(browser, nurse.account.username, PASSWORD,
                               outbox).status_code == 303
    assert browser.get("/").status_code == 200
    assert _csrf_raw(browser) not in (None, first)
    refused = browser.post("/auth/logout", headers={"X-CSRFToken": page_token})
    assert refused.status_code == 400 and "X-CSRF-Refresh" not in refused.headers
    # an htmx page left open gets the current token once, to send its form again
    refused = browser.hx("POST", "/auth/logout", headers={"X-CSRFToken": page_token})
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#flashes"
    fresh = refused.headers["X-CSRF-Refresh"]
    assert browser.post("/auth/logout", headers={"X-CSRFToken": fresh}).status_code == 303
