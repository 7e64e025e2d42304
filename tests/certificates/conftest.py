"""Fixtures of the certificates tests: a signer in the test's own folder, a station with its
data-entry account, a recipient with doses, and issuing through the page."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest
import sqlalchemy as sa

from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.services import create_recipient

_nid = itertools.count(400_001)


@pytest.fixture
def place(factory):
    return factory.place()


@pytest.fixture
def nurse(signed_in, place):
    """Station S1's data-entry account."""
    return signed_in("data_entry", facility=place["s1"])


@pytest.fixture
def person(place):
    def make(facility: str = "s1", **fields) -> Recipient:
        values = {"full_name": "Nguyễn Thị Đào", "date_of_birth": date(1985, 2, 14),
                  "gender": "female", "national_id": f"089185{next(_nid):06d}",
                  "phone": "+84912345678", "street": "12 Trần Hưng Đạo"}
        values.update(fields)
        recipient = create_recipient(values, place[facility].id)
        db.session.commit()
        return recipient

    return make


def add_dose(recipient: Recipient, code: str = "PFIZER", number: int = 1,
             given_on: date = date(2021, 8, 2)) -> Dose:
    vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == code))
    dose = Dose(recipient_id=recipient.id, facility_id=recipient.facility_id,
                vaccine_id=vaccine.id, lot_number=f"{code}-{number}", dose_number=number,
                given_on=given_on, vaccinator="Lê Thị Tiêm")
    db.session.add(dose)
    db.session.commit()
    return dose


@pytest.fixture
def vaccinated(person):
    """A recipient of S1 with two Comirnaty doses."""
    recipient = person()
    add_dose(recipient, number=1, given_on=date(2021, 8, 2))
    add_dose(recipient, number=2, given_on=date(2021, 8, 23))
    return recipient


def issue(client, recipient) -> Certificate:
    """Issue through the recipient's page form; the newest certificate."""
    response = client.post(f"/certificates/recipients/{recipient.id}/issue")
    assert response.status_code == 303, response.get_data(as_text=True)
    certificate_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    return db.session.get(Certificate, certificate_id)


def hc1_of(page: str) -> str | None:
    found = re.search(r"HC1:[0-9A-Z $%*+\-./:]+", page)
    return found.group(0) if found else None
