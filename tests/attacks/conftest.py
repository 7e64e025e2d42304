"""Fixtures of the attack suite: the province with the ministry (home of admins), an admin, each
account's holdings on both sides of a facility boundary, and a clock that can be moved
forward. Places, the nurse and recipients come from ``tests/fixtures.py``."""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests.helpers import html, last_import, next_nid, request_export, spreadsheet, upload
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


@pytest.fixture
def ministry_in_place() -> bool:
    """The attack suite's ``place`` has MIN (the ministry's IT department, home of admins)."""
    return True


@pytest.fixture
def admin(signed_in, place):
    return signed_in("admin", facility=place["min"], username="admin.cntt",
                     full_name="Lê Minh Quản")


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
        response = upload(client, spreadsheet([{  # a row to correct: its report is written
            "full_name": f"Phạm Thị Nhập {facility.upper()}", "date_of_birth": "02/03/1990",
            "gender": "Nữ", "national_id": next_nid()}, {
            "full_name": "Sai Số", "date_of_birth": "02/03/1990", "gender": "Nữ",
            "national_id": "12345"}]))
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
