"""Delegated scope end to end over HTTP (letter item 3, P1): the admin delegates a support
unit's data-entry account to a station; that account registers a recipient and records a dose
at the station through the real forms; once the delegation ends (early, by the admin, or by
itself after its last day) the same records answer 404 and nothing more can be written."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import RECENT, approve_pending, fresh_otp, hidden_inputs, html, vaccine
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.validators import format_date_vn, local_today

REQUEST = {"ref_number": "88/SYT-NVY", "ref_date": RECENT,
           "reason": "Viettel hỗ trợ nhập liệu cho trạm"}
PERSON = {"full_name": "Võ Thị Mai", "date_of_birth": "12/03/1975", "gender": "female",
          "national_id": "089175000777", "phone": "0913 222 444"}


@pytest.fixture
def support(place, factory):
    """The support unit (Viettel An Giang) under the DOH."""
    return factory.facility("VT", "support_unit", parent=place["doh"], name="Viettel An Giang")


@pytest.fixture
def helper(signed_in, support):
    return signed_in("data_entry", facility=support, username="viettel.ag")


@pytest.fixture
def admin(signed_in, factory):
    client = signed_in("admin", facility=factory.facility("MIN", "ministry"))
    fresh_otp(client)  # the admin's own step-up for lifecycle actions (P3.4)
    return client


def delegate(admin, helper, code: str) -> Delegation:
    today = local_today()
    response = admin.post(f"/facilities/accounts/{helper.account.id}/delegate", data={
        **REQUEST, "facility_code": code, "starts_on": format_date_vn(today),
        "ends_on": format_date_vn(today + timedelta(days=30))})
    assert response.status_code == 303, html(response)
    approve_pending(admin.application)  # the station's own account approves it (P2.1)
    return db.session.scalar(sa.select(Delegation).where(
        Delegation.account_id == helper.account.id))


def end_early(admin, delegation: Delegation) -> None:
    response = admin.post(f"/facilities/delegations/{delegation.id}/end",
                          data={**REQUEST, "reason": "Đã xong đợt nhập liệu"})
    assert response.status_code == 303, html(response)


def run_out(admin, delegation: Delegation) -> None:
    """The delegation's last day was yesterday: it ends by itself."""
    delegation.starts_on = local_today() - timedelta(days=10)
    delegation.ends_on = local_today() - timedelta(days=1)
    db.session.commit()


def facility_options(page: str) -> set[str]:
    select = re.search(r'<select[^>]*name="facility_id".*?</select>', page, re.S)
    return set(re.findall(r'value="(\d+)"', select.group(0))) if select else set()


def register(client, facility_id: int, **fields):
    page = html(client.get("/recipients/new"))
    data = {**hidden_inputs(page), **PERSON, "facility_id": str(facility_id), **fields}
    return client.post("/recipients/new", data=data)


def record_dose(client, recipient_id: int):
    page = client.get(f"/recipients/{recipient_id}/doses/new")  # its entry token, if any
    data = hidden_inputs(html(page)) if page.status_code == 200 else {}
    data.update({"vaccine_id": str(vaccine("PFIZER").id), "dose_number": "1",
                 "given_on": "01/08/2021", "lot_number": "FF1234",
                 "vaccinator": "Lê Thị Tiêm", "aefi": "none", "aefi_note": ""})
    return client.post(f"/recipients/{recipient_id}/doses", data=data)


def at(station) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Recipient.id).where(
        Recipient.facility_id == station.id)))


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(model.id)))


@pytest.mark.parametrize("ending", [end_early, run_out], ids=["ended_early", "ran_out"])
def test_p1_delegated_data_entry_writes_at_the_station_until_the_delegation_ends(
        admin, helper, place, ending):
    station = place["s2"]
    # before the delegation: the station is not offered and its records are out of reach
    assert str(station.id) not in facility_options(html(helper.get("/recipients/new")))
    delegation = delegate(admin, helper, "S2")

    # with it: register at the delegated station through the real form...
    assert str(station.id) in facility_options(html(helper.get("/recipients/new")))
    response = register(helper, station.id)
    assert response.status_code == 303, html(response)
    recipient = db.session.scalar(sa.select(Recipient))
    assert recipient.facility_id == station.id
    assert response.headers["Location"].endswith(f"/recipients/{recipient.id}")
    assert "Võ Thị Mai" in html(helper.get(f"/recipients/{recipient.id}"))

    # ...and record a dose there
    response = record_dose(helper, recipient.id)
    assert response.status_code == 303, html(response)
    (dose,) = db.session.scalars(sa.select(Dose)).all()
    assert dose.facility_id == station.id and dose.recipient_id == recipient.id
    inserted = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.entity == "dose", AuditEvent.entity_id == str(dose.id)))
    assert inserted.account_id == helper.account.id  # traced to the delegated account (P2.4)

    ending(admin, delegation)
    assert helper.get(f"/recipients/{recipient.id}").status_code == 404
    assert helper.get(f"/recipients/{recipient.id}/doses/new").status_code == 404
    assert record_dose(helper, recipient.id).status_code == 404
    assert count(Dose) == 1
    assert str(station.id) not in facility_options(html(helper.get("/recipients/new")))
    register(helper, station.id, full_name="Võ Văn Tư", national_id="089175000778")
    assert at(station) == [recipient.id]  # nothing more is written at the station


def test_p1_a_delegation_covers_only_its_named_station(admin, helper, place, person):
    delegate(admin, helper, "S2")
    elsewhere = person("s1")  # a station of another district, not delegated
    assert helper.get(f"/recipients/{elsewhere.id}").status_code == 404
    assert record_dose(helper, elsewhere.id).status_code == 404
    response = register(helper, place["s1"].id)
    assert response.status_code == 200 and "Vui lòng chọn cơ sở quản lý" in html(response)
    assert at(place["s1"]) == [elsewhere.id]
