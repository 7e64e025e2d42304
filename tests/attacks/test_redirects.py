"""Open redirects through ``next``: after signing in, after a step-up, after switching the
language, every crafted target lands on this site."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import pyotp
import pytest
from werkzeug.security import generate_password_hash

from tests.attacks.support import is_same_site, redirect_target, step_up_code
from tests.helpers import PASSWORD, html, login_through_forms
from vaxportal.auth import totp
from vaxportal.extensions import db

EVIL = [
    "//evil.example", "//evil.example/recipients/", "///evil.example", "////evil.example",
    "https://evil.example", "http://evil.example/", "HTTPS://evil.example", "http:evil.example",
    "https:/evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "\\/evil.example", " //evil.example", "\t//evil.example", "/\t/evil.example",
    "/\r\n/evil.example", "javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)",
    " javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example", "/%2F%2Fevil.example", "%5C%5Cevil.example",
    "/%5Cevil.example", "//%65vil.example", "https%3A%2F%2Fevil.example",
    "//evil.example@localhost", "http://localhost@evil.example", "@evil.example",
    "evil.example", "／／evil.example", "/.//evil.example", "/%09/evil.example",
]


def assert_stays(response, given: str) -> None:
    target = redirect_target(response)
    assert target is not None, f"{given!r}: no redirect ({response.status_code})"
    assert is_same_site(target), f"{given!r} sent the browser to {target!r}"


def test_the_same_site_check_itself():
    assert is_same_site("/recipients/") and is_same_site("http://localhost/x")
    for target in ("//evil.example", "https://evil.example", "/\\evil.example",
                   "javascript:alert(1)", "http://evil.example/"):
        assert not is_same_site(target), target


@pytest.fixture
def config(config):
    """One sign-in per target: the rate limits (attacked elsewhere) would stop the walk."""
    config["LOGIN_RATE_LIMIT"] = config["OTP_RATE_LIMIT"] = "1000 per minute"
    return config


@pytest.fixture
def authenticator(nurse):
    """The nurse signs in with an authenticator app: one sign-in per target, no SMS limit."""
    generator = pyotp.TOTP(pyotp.random_base32())
    nurse.account.totp_secret = totp.encrypt(generator.secret)
    # a cheap hash of the same password: this walk is about ``next``, not about hashing
    nurse.account.password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
    db.session.commit()
    return generator


def test_next_at_sign_in_never_leaves_the_site(client, nurse, authenticator, clock, outbox):
    """A phishing link ``/auth/login?next=<target>`` (encoded as a link would carry it): the
    sign-in form takes the target along, and the sign-in ends on this site."""
    for given in EVIL:
        page = client.get(f"/auth/login?next={quote(given, safe='')}")
        assert page.status_code == 200
        carried = _hidden_next(html(page))
        assert carried == given
        clock.advance(seconds=30)  # a new authenticator code each time
        response = login_through_forms(client, nurse.account.username, PASSWORD, outbox,
                                       code=clock.totp(authenticator), next_url=carried)
        assert response.status_code == 303, (given, html(response))
        assert_stays(response, given)
        assert client.post("/auth/logout").status_code == 303


def test_a_local_next_is_still_honoured(client, nurse, outbox):
    """The control: the refusals above are about the targets, not a broken ``next``."""
    response = login_through_forms(client, nurse.account.username, PASSWORD, outbox,
                                   next_url="/auth/sessions")
    assert response.headers["Location"] == "/auth/sessions"
    assert client.get("/auth/login?next=//evil.example").headers["Location"] == "/"


def test_next_of_the_language_switch_never_leaves_the_site(client, nurse):
    for browser in (client, nurse):  # signed out and signed in
        for given in EVIL:
            response = browser.post("/lang", data={"lang": "en", "next": given})
            assert response.status_code == 303
            assert_stays(response, given)
    assert client.post("/lang", data={"lang": "vi", "next": "/auth/login"}).headers[
        "Location"] == "/auth/login"


def test_next_of_the_step_up_never_leaves_the_site(nurse, outbox):
    nurse.post("/auth/step-up", data={"next": "/", "stepup_resend": "1"})
    code = step_up_code(outbox)
    nurse.post("/auth/step-up", data={"next": "//evil.example", "stepup_code": code})
    for given in EVIL:  # now fresh: each answer is the redirect itself
        assert_stays(nurse.post("/auth/step-up", data={"next": given}), given)
        assert_stays(nurse.get("/auth/step-up", query_string={"next": given}), given)
        assert_stays(nurse.hx("GET", "/auth/step-up", query_string={"next": given}), given)


def _hidden_next(page: str) -> str:
    """The sign-in form's ``next`` (not the language switch's, which holds this page)."""
    match = re.search(r'<input id="next" name="next" type="hidden" value="([^"]*)"', page)
    return unescape(match.group(1)) if match else ""
