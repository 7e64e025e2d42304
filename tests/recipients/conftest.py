"""Fixtures of the recipients tests: a small province, the vaccine catalogue, recipients."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa

from vaxportal.auth.models import UserSession
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.services import create_recipient
from vaxportal.timeutil import utcnow


@pytest.fixture
def place(factory):
    """DOH → district D1 → stations S1, S1B; DOH → district D2 → station S2."""
    return factory.place()


@pytest.fixture
def nurse(signed_in, place):
    """A data-entry client at station S1."""
    return signed_in("data_entry", facility=place["s1"])


_nid = iter(range(100_000, 999_999))


@pytest.fixture
def person(place):
    """``person(facility_code="S1", **fields)`` → a committed Recipient."""

    def make(facility="s1", **fields) -> Recipient:
        values = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                  "gender": "male", "national_id": f"089080{next(_nid):06d}"}
        values.update(fields)
        recipient = create_recipient(values, place[facility].id)
        db.session.commit()
        return recipient

    return make


def vaccine(code: str) -> Vaccine:
    return db.session.scalar(sa.select(Vaccine).where(Vaccine.code == code))


def add_dose(recipient: Recipient, code="AZ", given_on=date(2021, 6, 1), number=1,
             facility_id=None, lot="AZ-1", vaccinator="Lê Thị Tiêm") -> Dose:
    dose = Dose(recipient_id=recipient.id, facility_id=facility_id or recipient.facility_id,
                vaccine_id=vaccine(code).id, lot_number=lot, dose_number=number,
                given_on=given_on, vaccinator=vaccinator)
    db.session.add(dose)
    db.session.commit()
    return dose


def fresh_otp(client) -> None:
    """Mark the client's session as having passed an OTP just now (P3.4 step-up)."""
    row = db.session.scalar(
        sa.select(UserSession).where(UserSession.account_id == client.account.id)
        .order_by(UserSession.id.desc())
    )
    row.step_up_at = utcnow()
    db.session.commit()


def html(response) -> str:
    return response.get_data(as_text=True)


_URL_ATTRS = re.compile(
    r'\b(?:href|action|src|hx-get|hx-post|hx-put|hx-delete|hx-patch|hx-push-url|'
    r'hx-replace-url)="([^"]*)"'
)


def urls_in(response) -> list[str]:
    """Every URL a page or fragment makes the browser request, plus redirect headers."""
    found = [unescape(u) for u in _URL_ATTRS.findall(html(response))]
    for header in ("Location", "HX-Redirect", "HX-Push-Url", "HX-Replace-Url"):
        if response.headers.get(header):
            found.append(response.headers[header])
    return found


def assert_no_personal_data_in_urls(response, *secrets: str) -> None:
    from urllib.parse import unquote_plus

    from vaxportal.text import fold

    for url in urls_in(response):
        plain = fold(unquote_plus(url))
        for secret in secrets:
            assert fold(secret) not in plain, f"personal data {secret!r} in URL {url!r}"


def hidden_inputs(page: str) -> dict[str, str]:
    """name → value of every hidden input of a page (to re-post a prompt's carried form)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields
