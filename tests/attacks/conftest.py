"""Fixtures of the attack suite: a small province, accounts of every role, recipients on both
sides of a facility boundary, and a clock that can be moved forward."""

from __future__ import annotations

import itertools
import sys
import time
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests.auth.conftest import new_client  # noqa: F401  (another browser)
from tests.auth.flows import html
from tests.exports.conftest import last_import, request_export, spreadsheet, upload
from vaxportal import timeutil
from vaxportal.auth import otp
from vaxportal.extensions import db
from vaxportal.recipients.models import (
    CrossLookup,
    Dose,
    DoseLot,
    DuplicateCandidate,
    Vaccine,
)
from vaxportal.recipients.services import create_recipient

_nid = itertools.count(200_001)


@pytest.fixture
def place(factory):
    """MIN (the ministry's IT department, home of admins); DOH → D1 → S1, S1B;
    DOH → D2 → S2."""
    return factory.place(ministry=True)


@pytest.fixture
def nurse(signed_in, place):
    """Station S1's data-entry account, signed in (not fresh for step-up)."""
    return signed_in("data_entry", facility=place["s1"], username="tyt.mybinh",
                     full_name="Trần Thị Nhập")


@pytest.fixture
def admin(signed_in, place):
    return signed_in("admin", facility=place["min"], username="admin.cntt",
                     full_name="Lê Minh Quản")


@pytest.fixture
def person(place):
    """``person("s2", full_name=...)`` → a committed recipient of that facility."""

    def make(facility: str = "s1", **fields):
        values = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                  "gender": "male", "national_id": f"089080{next(_nid):06d}"}
        values.update(fields)
        recipient = create_recipient(values, place[facility].id)
        db.session.commit()
        return recipient

    return make


@pytest.fixture
def holdings(person, place):
    """``holdings(client, "s1")`` → the ids of one account's things, made through its pages
    where the pages make them: two recipients (a possible-duplicate pair) and a dose at the
    facility, a register search, a cross-facility look-up grant, an export waiting for its
    code and an import waiting for confirmation."""

    def make(client, facility: str) -> SimpleNamespace:
        first = person(facility, full_name=f"Lê Văn Giữ {facility.upper()}")
        second = person(facility, full_name=f"Lê Văn Giữ {facility.upper()}")
        vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == "AZ"))
        dose = Dose(recipient_id=first.id, facility_id=first.facility_id, vaccine_id=vaccine.id,
                    lot_number="AZ-1", dose_number=1, given_on=date(2021, 6, 1),
                    vaccinator="Lê Thị Tiêm")
        pair = DuplicateCandidate(recipient_id=second.id, other_id=first.id,
                                  facility_id=first.facility_id)
        lot = DoseLot(facility_id=first.facility_id, lot_number="AZ-1", vaccine_id=vaccine.id,
                      first_used_on=date(2021, 6, 1), last_used_on=date(2021, 6, 1))
        db.session.add_all([dose, pair, lot])
        db.session.commit()
        search = client.post("/recipients/", data={"q": "le van giu"})
        assert search.status_code == 303, html(search)
        client.post("/recipients/lookup", data={"id_number": first.national_id,
                                                "reason": "Tiêm mũi nhắc tại trạm"})
        grant = db.session.scalar(sa.select(CrossLookup).where(
            CrossLookup.account_id == client.account.id).order_by(CrossLookup.created_at.desc()))
        export = request_export(client)
        response = upload(client, spreadsheet([{
            "full_name": f"Phạm Thị Nhập {facility.upper()}", "date_of_birth": "02/03/1990",
            "gender": "Nữ", "national_id": f"089080{next(_nid):06d}"}]))
        assert response.status_code == 303, html(response)
        return SimpleNamespace(
            recipient=first, other=second, dose=dose, candidate=pair, grant=grant.id, lot=lot,
            search=search.headers["Location"].rsplit("s=", 1)[-1], export=export,
            import_job=last_import(), facility=place[facility], account=client.account)

    return make


class Clock:
    """The application's time moved forward by ``advance``: ``utcnow()`` of every vaxportal
    module and the clock authenticator codes are checked against."""

    def __init__(self, real) -> None:
        self.real = real
        self.offset = timedelta(0)

    def now(self):
        return self.real() + self.offset

    def time(self) -> float:  # stands in for the ``time`` module in vaxportal.auth.otp
        return time.time() + self.offset.total_seconds()

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)

    def totp(self, generator) -> str:
        """The code an authenticator app shows at the moved time."""
        return generator.at(self.time())


@pytest.fixture
def clock(app, monkeypatch):
    real = timeutil.utcnow
    moved = Clock(real)
    for name, module in list(sys.modules.items()):
        if (name == "vaxportal" or name.startswith("vaxportal.")) and \
                getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", moved.now)
    monkeypatch.setattr(otp, "time", moved)
    return moved
