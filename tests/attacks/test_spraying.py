"""Password spraying (P3.4): one password against many usernames from one address, then the
same spread over two app instances; and the sign-in page never tells whether an account
exists."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.attacks.support import db_state
from tests.helpers import PASSWORD, audit, html, reload, session_row, submit_password
from vaxportal import ROOT
from vaxportal.auth import lockout
from vaxportal.auth.models import AccountStatus
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

SPRAYED = "Matkhau@2024"  # the one password an attacker tries everywhere
ATTACKER = "203.0.113.9"
TOO_MANY = "Bạn đã thử quá nhiều lần"


def per_minute(limit: str) -> int:
    """The first "N per minute" of a Flask-Limiter limit string."""
    return int(re.search(r"(\d+)\s*(?:per|/)\s*minute", limit).group(1))


def spray(new_client, username: str, password: str = SPRAYED, address: str = ATTACKER):
    """One try from a browser with no cookies (an attacker's script drops them)."""
    return new_client().post("/auth/login", data={"username": username, "password": password},
                             environ_base={"REMOTE_ADDR": address})


def test_p3_4_password_spraying_from_one_address_is_stopped(app, new_client, factory, place,
                                                           outbox):
    accounts = [factory.account(facility=place[code], username=f"tyt.{code}")
                for code in ("s1", "s1b", "s2")]
    allowed = per_minute(app.config["LOGIN_RATE_LIMIT"])
    usernames = [a.username for a in accounts] + [f"tram{n}" for n in range(allowed)]
    for username in usernames[:allowed]:
        response = spray(new_client, username)
        assert response.status_code == 200 and "Tên đăng nhập hoặc mật khẩu" in html(response)
    # the next try is stopped before any password is checked, even a right one
    before = db_state()
    response = spray(new_client, accounts[0].username, PASSWORD)
    assert response.status_code == 429 and TOO_MANY in html(response)
    assert db_state() == before and outbox() == []
    # one try each: the spray locks nobody out, and the holders still sign in from elsewhere
    assert not any(reload(a).is_locked() for a in accounts)
    response = spray(new_client, accounts[0].username, PASSWORD, address="198.51.100.20")
    assert response.status_code == 303


# -- over two app instances ----------------------------------------------------------------

SECOND_INSTANCE = """
import json, sys
from tests.helpers import VaxClient
from vaxportal import create_app

config, tries = json.loads(sys.argv[1]), json.loads(sys.argv[2])
app = create_app(config)
app.test_client_class = VaxClient
answers = []
with app.app_context():
    for username, password, address in tries:
        response = app.test_client().post(
            "/auth/login", data={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": address})
        answers.append([response.status_code, response.headers.get("Location")])
print(json.dumps(answers))
"""


def in_second_process(config: dict, tries: list[tuple[str, str, str]]) -> list:
    """The tries made by another app instance in its own process (another gunicorn worker):
    same database, same rate-limit storage URI."""
    db.session.rollback()  # no transaction of ours in the way of the other process
    done = subprocess.run([sys.executable, "-c", SECOND_INSTANCE, json.dumps(config),
                           json.dumps(tries)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def config(config):
    config["LOGIN_RATE_LIMIT"] = "6 per minute"
    return config


def test_p3_4_password_spraying_over_two_app_instances(app, config, new_client, factory,
                                                      place):
    """The lock-out lives in the database, so it holds across instances whatever the
    limiter's storage. The limiter's counters are shared only through a shared storage
    (Redis, as production's scale-out and the PostgreSQL CI pass configure it); the
    in-memory storage of the embedded default counts per process."""
    target = factory.account(facility=place["s1"], username="tyt.mybinh")
    bystander = factory.account(facility=place["s2"], username="tyt.vinhmy")
    shared = not app.config["RATELIMIT_STORAGE_URI"].startswith("memory://")
    # instance 1: two wrong passwords for the target
    for n in (1, 2):
        assert spray(new_client, target.username, f"Wrong#Pass{n}").status_code == 200
    # instance 2: three more (the fifth locks), then the right one from another address
    answers = in_second_process(config, [
        (target.username, "Wrong#Pass3", ATTACKER), (target.username, "Wrong#Pass4", ATTACKER),
        (target.username, "Wrong#Pass5", ATTACKER), (target.username, PASSWORD, "192.0.2.50"),
    ])
    assert answers == [[200, None]] * 4  # the right password did not open the locked account
    account = reload(target)
    assert lockout.is_locked(account) and len(audit("locked")) == 1
    # back in instance 1, the lock holds for the right password too
    response = spray(new_client, target.username, PASSWORD, address="192.0.2.51")
    assert response.status_code in (200, 429) and "/auth/otp" not in \
        response.headers.get("Location", "")
    # the attacker's address has made 5 tries in all; the sixth is still allowed ...
    assert spray(new_client, bystander.username, "Wrong#Pass6").status_code == 200
    # ... and the seventh is stopped if the instances share the limiter's storage
    response = spray(new_client, "tram9")
    assert response.status_code == (429 if shared else 200)
    if not shared:  # each process still stops the spray at its own count
        codes = [spray(new_client, f"tram{n}").status_code for n in range(3)]
        assert codes == [200, 200, 429]
    assert not reload(bystander).is_locked()


# -- the sign-in page never says whether an account exists -------------------------------------


def _answer(response) -> str:
    """The page without what differs by construction (the typed username, the CSRF token)."""
    body = html(response)
    body = re.sub(r'name="csrf-token" content="[^"]*"', "", body)
    body = re.sub(r'name="csrf_token"[^>]*>', "", body)
    return re.sub(r'(name="username"[^>]*value=")[^"]*"', r'\1"', body)


def test_p3_4_unknown_wrong_locked_and_revoked_get_one_answer(new_client, factory, place):
    factory.account(facility=place["s1"], username="known.one")
    locked = factory.account(facility=place["s1b"], username="locked.one")
    locked.locked_until = utcnow().replace(year=utcnow().year + 1)
    factory.account(facility=place["s2"], username="revoked.one", status=AccountStatus.revoked)
    db.session.commit()
    answers = {}
    for username, password in (("nobody.here", PASSWORD), ("known.one", "Wrong#Pass99"),
                               ("locked.one", "Wrong#Pass99"), ("revoked.one", "Wrong#Pass99")):
        response = submit_password(new_client(), username, password)
        answers[username] = (response.status_code, "Location" in response.headers,
                             "Set-Cookie" in response.headers, _answer(response))
    assert len(set(answers.values())) == 1, "the answers differ by account"
    status, _moved, _cookie, page = answers["revoked.one"]
    assert status == 200 and "Tên đăng nhập hoặc mật khẩu không đúng" in page
    assert "thu hồi" not in page


def test_p3_4_no_session_row_for_a_refused_password(client, factory, place):
    known = factory.account(facility=place["s1"], username="known.two")
    submit_password(client, known.username, "Wrong#Pass99")
    assert session_row(client) is None
