"""A request that needs a signed-in account, without one (never signed in, or the session
timed out): htmx gets a message in the flash region, not the sign-in page swapped into the
form, so what the nurse typed stays; after signing in again in another tab the same form can be
sent again. A plain request is sent to the sign-in page with a ``next`` that can be opened
again (never a POST-only URL)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tests.helpers import PASSWORD, html, login_through_forms, session_row
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient
from vaxportal.timeutil import utcnow

EXPIRED = "Phiên làm việc đã hết hạn. Đăng nhập lại trong một tab mới rồi gửi lại."
TYPED = {"full_name": "Lê Thị Hồng", "date_of_birth": "05/09/1980", "gender": "female",
         "national_id": "089180123456"}
HERE = "http://localhost/recipients/new"


def recipients() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(Recipient.id)))


def time_out(client) -> None:
    row = session_row(client)
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()


def login_next(url: str) -> str | None:
    """The ``next`` of a link to the sign-in page (None when it has none)."""
    parts = urlsplit(url)
    assert parts.path == "/auth/login" and not parts.netloc, url
    return parse_qs(parts.query).get("next", [None])[0]


def assert_expired_notice(response, next_url: str | None) -> None:
    assert response.status_code == 401
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "Location" not in response.headers and "HX-Redirect" not in response.headers
    body = html(response)
    assert EXPIRED in body and "<html" not in body and "<form" not in body
    (link,) = re.findall(r'<a href="([^"]*)" target="_blank" rel="noopener">', body)
    assert login_next(unescape(link)) == next_url


def test_htmx_without_a_session_gets_a_notice_in_the_flash_region(client):
    response = client.hx("POST", "/recipients/new", data=TYPED,
                         headers={"HX-Current-URL": HERE})
    assert_expired_notice(response, "/recipients/new")
    assert recipients() == 0


@pytest.mark.parametrize("current_url", [
    "https://elsewhere.example/recipients/new",  # another site
    "http://localhost/recipients/5/doses",  # a POST-only URL
    None,
])
def test_htmx_notice_signs_in_without_a_next_it_cannot_open(client, current_url):
    headers = {"HX-Current-URL": current_url} if current_url else {}
    response = client.hx("POST", "/recipients/new", data=TYPED, headers=headers)
    assert_expired_notice(response, None)


def test_a_timed_out_nurse_keeps_the_form_and_sends_it_after_signing_in_again(
        signed_in, factory, outbox):
    nurse = signed_in("data_entry", facility=factory.facility())
    page_token = nurse.csrf_token()  # the token in the open page's <meta>
    time_out(nurse)
    sent = {"headers": {"X-CSRFToken": page_token, "HX-Current-URL": HERE}}
    response = nurse.hx("POST", "/recipients/new", data=TYPED, **sent)
    assert_expired_notice(response, "/recipients/new")
    assert recipients() == 0 and session_row(nurse).end_reason == "idle"
    # the link opens the sign-in page in a new tab of the same browser
    assert login_through_forms(nurse, nurse.account.username, PASSWORD, outbox,
                               next_url="/recipients/new").status_code == 303
    # back in the first tab, the untouched form is sent again: the sign-in changed the CSRF
    # token, so it is refused once, stays as typed and the page gets the current token ...
    response = nurse.hx("POST", "/recipients/new", data=TYPED, **sent)
    assert response.status_code == 400 and response.headers["HX-Retarget"] == "#flashes"
    assert recipients() == 0
    fresh = response.headers["X-CSRF-Refresh"]
    assert fresh != page_token
    # ... with which the same form goes through
    sent["headers"]["X-CSRFToken"] = fresh
    response = nurse.hx("POST", "/recipients/new", data=TYPED, **sent)
    assert response.status_code == 204 and "/recipients/" in response.headers["HX-Redirect"]
    assert recipients() == 1


def test_another_account_or_a_sign_out_never_inherits_the_pages_token(
        signed_in, factory, new_client, outbox):
    """A page's CSRF token never survives a sign-in, of another account (session fixation)
    or of the same one."""
    station = factory.facility()
    nurse = signed_in("data_entry", facility=station)
    colleague = factory.account("data_entry", facility=station)
    page_token = nurse.csrf_token()
    time_out(nurse)
    login_through_forms(nurse, colleague.username, PASSWORD, outbox)
    response = nurse.hx("POST", "/recipients/new", data=TYPED,
                        headers={"X-CSRFToken": page_token})
    assert response.status_code == 400 and recipients() == 0

    page_token = nurse.csrf_token()
    assert nurse.post("/auth/logout").status_code == 303
    login_through_forms(nurse, colleague.username, PASSWORD, outbox)
    response = nurse.hx("POST", "/recipients/new", data=TYPED,
                        headers={"X-CSRFToken": page_token})
    assert response.status_code == 400 and recipients() == 0


@pytest.mark.parametrize("referrer, next_url", [
    ("http://localhost/recipients/new", "/recipients/new"),  # the page the form was on
    ("http://localhost/recipients/?page=2", "/recipients/?page=2"),
    ("http://localhost/recipients/5/doses", None),  # a POST-only URL: 405 after sign-in
    ("https://elsewhere.example/recipients/new", None),  # another site
    (None, None),
])
def test_a_plain_post_signs_in_with_a_next_that_can_be_opened(client, referrer, next_url):
    headers = {"Referer": referrer} if referrer else {}
    response = client.post("/recipients/new", data=TYPED, headers=headers)
    assert response.status_code == 302
    assert login_next(response.headers["Location"]) == next_url


def test_a_get_signs_in_with_itself_as_next(client):
    response = client.get("/recipients/?page=2")
    assert response.status_code == 302
    assert login_next(response.headers["Location"]) == "/recipients/?page=2"
    assert "Vui lòng đăng nhập để tiếp tục" in html(client.get(response.headers["Location"]))
