"""P3.4: every entry point of a one-time code is throttled by Flask-Limiter, per address and
per account, like /auth/otp: the code typed into a ``fresh_otp_required`` prompt (posted back
to the sensitive view) and an export's own code. A throttled try answers 429 with the
Vietnamese page and its code is not looked at, even when right; the lock-out still counts the
wrong codes before it."""

from __future__ import annotations

from datetime import date, timedelta

import pyotp
import pytest

from tests.helpers import html, reload, session_row
from vaxportal.auth import totp
from vaxportal.exports.models import ExportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.recipients.services import create_recipient
from vaxportal.timeutil import utcnow

TOO_MANY = "Bạn đã thử quá nhiều lần"
LIMIT = 3
WRONG = "000000"


@pytest.fixture
def config(config):
    config["OTP_RATE_LIMIT"] = f"{LIMIT} per minute"
    return config


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


# -- the step-up prompt of a sensitive view -------------------------------------------------


@pytest.fixture
def stale(signed_in):
    """``stale()`` → a signed-in client with an authenticator app, whose last OTP is older
    than the step-up window: ``POST /auth/totp/remove`` (a sensitive view) asks for a code."""

    def make():
        client = signed_in("data_entry")
        row = session_row(client)
        client.secret = pyotp.random_base32()
        client.account.totp_secret = totp.encrypt(client.secret)
        row.step_up_at = utcnow() - timedelta(seconds=301)
        db.session.commit()
        return client

    return make


def remove_app(client, code: str, *, htmx: bool = False, address: str = "127.0.0.1"):
    data = {"stepup_code": code}
    if htmx:
        return client.hx("POST", "/auth/totp/remove", data=data, **at(address))
    return client.post("/auth/totp/remove", data=data, **at(address))


def test_p3_4_step_up_prompt_codes_are_throttled_per_account(stale):
    client = stale()
    before = session_row(client).step_up_at
    for n in range(LIMIT):  # from as many addresses
        response = remove_app(client, WRONG, address=f"10.0.0.{n + 1}")
        assert response.status_code == 200 and 'name="stepup_code"' in html(response)
    right = pyotp.TOTP(client.secret).now()
    response = remove_app(client, right, address="10.0.0.9")
    assert response.status_code == 429
    assert TOO_MANY in html(response) and "<html" in html(response)  # the full page
    account = reload(client.account)
    assert account.totp_secret is not None  # the sensitive view never ran
    assert session_row(client).step_up_at == before  # the right code was not looked at
    assert account.failed_code_count == LIMIT  # the lock-out counted the wrong ones


def test_p3_4_step_up_prompt_codes_are_throttled_per_address(stale):
    clients = [stale() for _ in range(LIMIT + 1)]
    for client in clients[:LIMIT]:
        assert remove_app(client, WRONG, htmx=True).status_code == 200
    last = clients[-1]
    response = remove_app(last, pyotp.TOTP(last.secret).now(), htmx=True)
    assert response.status_code == 429 and TOO_MANY in html(response)
    # htmx: the message goes to the flash region, the prompt with its typed values stays
    assert response.headers["HX-Retarget"] == "#flashes"
    assert "<html" not in html(response)
    assert reload(last.account).totp_secret is not None
    # another address is not throttled: the same code now passes and the view runs
    response = remove_app(last, pyotp.TOTP(last.secret).now(), address="10.0.0.7")
    assert response.status_code == 303
    assert reload(last.account).totp_secret is None


# -- an export's own code ------------------------------------------------------------------


@pytest.fixture
def exporter(signed_in, factory, outbox):
    """``exporter()`` → a data-entry client with one recipient and a pending export whose
    code was just sent (``client.job``, ``client.code``)."""

    def make():
        station = factory.facility()
        client = signed_in("data_entry", facility=station)
        create_recipient({"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                          "gender": "male"}, station.id)
        db.session.commit()
        response = client.post("/exports/new", data={"s": ""})
        assert response.status_code == 303, html(response)
        client.job = db.session.get(ExportJob, response.headers["Location"].rsplit("/", 1)[1])
        client.code = [m for m in outbox() if client.job.short_ref in m["body"]][-1]["secret"]
        return client

    return make


def confirm(client, code: str, address: str = "127.0.0.1"):
    return client.post(f"/exports/{client.job.id}/confirm", data={"code": code}, **at(address))


def job_status(client) -> str:
    db.session.expire_all()
    return db.session.get(ExportJob, client.job.id).status


def test_p3_4_export_codes_are_throttled_per_account(exporter):
    client = exporter()
    for n in range(LIMIT):
        assert confirm(client, WRONG, address=f"10.0.1.{n + 1}").status_code == 400
    response = confirm(client, client.code, address="10.0.1.9")
    assert response.status_code == 429 and TOO_MANY in html(response)
    assert job_status(client) == JobStatus.pending  # the right code was not accepted
    assert reload(client.account).failed_code_count == LIMIT


def test_p3_4_export_codes_are_throttled_per_address(exporter):
    first, second = exporter(), exporter()
    for _ in range(LIMIT):
        assert confirm(first, WRONG).status_code == 400
    response = confirm(second, second.code)
    assert response.status_code == 429 and TOO_MANY in html(response)
    assert job_status(second) == JobStatus.pending
    assert confirm(second, second.code, address="10.0.1.8").status_code == 303
    assert job_status(second) != JobStatus.pending


def test_p3_4_sending_export_codes_is_throttled_too(signed_in, factory, outbox):
    """Each POST /exports/new sends an SMS: past the limit, no more messages go out."""
    station = factory.facility()
    client = signed_in("data_entry", facility=station)
    create_recipient({"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                      "gender": "male"}, station.id)
    db.session.commit()
    for n in range(LIMIT):
        response = client.post("/exports/new", data={"s": ""}, **at(f"10.0.2.{n + 1}"))
        assert response.status_code == 303, html(response)
    sent = len(outbox())
    response = client.post("/exports/new", data={"s": ""}, **at("10.0.2.9"))
    assert response.status_code == 429 and TOO_MANY in html(response)
    assert len(outbox()) == sent
