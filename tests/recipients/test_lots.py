"""Entry that prevents wrong records (issue 14): suggestions follow the person's own series,
not the facility's last entry; a lot number recorded here with another vaccine asks for one
more click; the facility's lot register, kept from the doses, refuses a dose after its lot's
expiry."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from tests.helpers import add_dose, dose_data, doses, hidden_inputs, html, input_value, vaccine
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import DoseLot


def lots() -> list[DoseLot]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(DoseLot).options(joinedload(DoseLot.vaccine)).order_by(DoseLot.id)))


def selected_vaccine(page: str) -> str | None:
    select = re.search(r'<select[^>]*name="vaccine_id".*?</select>', page, re.S).group(0)
    found = re.search(r'<option selected value="([^"]*)"', select)
    return found.group(1) if found else None


def test_suggestion_follows_the_persons_series_not_the_facilitys_last_dose(nurse, person):
    mine, other = person(), person(full_name="Trần Thị Bé", gender="female")
    add_dose(mine, "PFIZER", date(2021, 7, 1), number=1, lot="FF-1")
    add_dose(mine, "PFIZER", date(2021, 8, 1), number=2, lot="FF-2")
    add_dose(other, "MODERNA", date(2021, 9, 1), lot="MD-777", vaccinator="Phan Văn Kim")
    page = html(nurse.get(f"/recipients/{mine.id}/doses/new"))
    assert selected_vaccine(page) == str(vaccine("PFIZER").id)
    assert input_value(page, "dose_number") == "3"
    assert input_value(page, "lot_number") == "FF-2"  # last used here with Pfizer
    assert input_value(page, "vaccinator") == "Phan Văn Kim"


def test_a_person_without_doses_gets_no_vaccine_or_lot_of_someone_else(nurse, person):
    other, new = person(), person(full_name="Trần Thị Bé", gender="female")
    add_dose(other, "MODERNA", date(2021, 9, 1), lot="MD-777")
    page = html(nurse.get(f"/recipients/{new.id}/doses/new"))
    assert selected_vaccine(page) in (None, "")
    assert input_value(page, "lot_number") in (None, "")
    assert input_value(page, "dose_number") == "1"


def test_no_lot_suggested_when_the_facility_never_used_the_series_vaccine(nurse, person,
                                                                           place):
    mine = person()
    add_dose(mine, "AZ", date(2021, 6, 1), facility_id=place["s2"].id, lot="AZ-FAR")
    add_dose(person(full_name="Lê Văn C"), "MODERNA", date(2021, 9, 1), lot="MD-777")
    page = html(nurse.get(f"/recipients/{mine.id}/doses/new"))
    assert selected_vaccine(page) == str(vaccine("AZ").id)
    assert input_value(page, "lot_number") in (None, "")


@pytest.mark.parametrize("hx", [False, True])
def test_a_lot_recorded_here_with_another_vaccine_warns_then_one_click_records(
        nurse, person, hx):
    add_dose(person(full_name="Lê Văn C"), "PFIZER", date(2021, 7, 1), lot="FF-1")
    recipient = person()
    page = html(nurse.get(f"/recipients/{recipient.id}/doses/new"))
    data = dose_data(page, vaccine_id=str(vaccine("MODERNA").id), lot_number="FF-1")
    post = nurse.hx if hx else (lambda m, url, **kw: nurse.post(url, **kw))
    warned = post("POST", f"/recipients/{recipient.id}/doses", data=data)
    body = html(warned)
    assert warned.status_code == 200 and ("<html" in body) is not hx
    assert "FF-1" in body and vaccine("PFIZER").name in body
    assert 'name="confirm_lot" value="1"' in body
    assert 'value="Lê Thị Tiêm"' in body  # nothing typed is lost
    assert len(doses()) == 1
    done = post("POST", f"/recipients/{recipient.id}/doses",
                data=dict(data, **hidden_inputs(body), confirm_lot="1"))
    assert done.status_code in (204, 303)
    assert [d.vaccine.code for d in doses()] == ["PFIZER", "MODERNA"]


def test_the_lot_confirmation_is_carried_through_the_interval_warning(nurse, person):
    add_dose(person(full_name="Lê Văn C"), "PFIZER", date(2021, 7, 1), lot="MD-1")
    recipient = person()
    add_dose(recipient, "MODERNA", date(2021, 8, 1), lot="MD-0")
    page = html(nurse.get(f"/recipients/{recipient.id}/doses/new"))
    data = dose_data(page, vaccine_id=str(vaccine("MODERNA").id), lot_number="MD-1",
                     dose_number="2", given_on="10/08/2021", confirm_lot="1")
    warned = html(nurse.post(f"/recipients/{recipient.id}/doses", data=data))
    assert 'name="confirm_interval" value="1"' in warned
    assert '<input type="hidden" name="confirm_lot" value="1">' in warned
    data.pop("confirm_lot")
    done = nurse.post(f"/recipients/{recipient.id}/doses",
                      data=dict(data, **hidden_inputs(warned), confirm_interval="1"))
    assert done.status_code == 303 and len(doses()) == 3


def test_the_register_is_kept_from_the_doses_and_refuses_a_dose_after_expiry(nurse, person):
    first, second = person(), person(full_name="Trần Thị Bé", gender="female")
    page = html(nurse.get(f"/recipients/{first.id}/doses/new"))
    nurse.post(f"/recipients/{first.id}/doses",
               data=dose_data(page, lot_number="FF-9", lot_expires_on="31/08/2021"))
    [lot] = lots()
    assert (lot.lot_number, lot.vaccine.code, lot.expires_on) == (
        "FF-9", "PFIZER", date(2021, 8, 31))
    assert lot.first_used_on == lot.last_used_on == date(2021, 8, 1)
    assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.entity == "dose_lot"))
    page = html(nurse.get(f"/recipients/{second.id}/doses/new"))
    refused = nurse.post(f"/recipients/{second.id}/doses",
                         data=dose_data(page, lot_number="FF-9", given_on="01/09/2021"))
    body = html(refused)
    assert refused.status_code == 200 and "31/08/2021" in body and "hết hạn" in body
    assert 'value="01/09/2021"' in body and 'value="FF-9"' in body
    assert len(doses()) == 1
    nurse.post(f"/recipients/{second.id}/doses",
               data=dose_data(page, lot_number="FF-9", given_on="15/08/2021"))
    [lot] = lots()
    assert (lot.first_used_on, lot.last_used_on) == (date(2021, 8, 1), date(2021, 8, 15))


def test_a_new_lot_typed_with_a_past_expiry_is_refused(nurse, person):
    recipient = person()
    page = html(nurse.get(f"/recipients/{recipient.id}/doses/new"))
    body = html(nurse.post(f"/recipients/{recipient.id}/doses",
                           data=dose_data(page, lot_number="OLD-1", lot_expires_on="31/07/2021")))
    assert "31/07/2021" in body and "hết hạn" in body
    assert doses() == [] and lots() == []


def test_the_nurse_sees_her_lots_and_sets_an_expiry(nurse, person, place):
    mine = add_dose(person(), "PFIZER", date(2021, 8, 1), lot="FF-5")
    add_dose(person(facility="s2", full_name="Xa Văn Lạ"), "AZ", date(2021, 8, 1), lot="FAR-1")
    for dose in (mine,):
        db.session.add(DoseLot(facility_id=dose.facility_id, lot_number=dose.lot_number,
                               vaccine_id=dose.vaccine_id, last_used_on=dose.given_on))
    far = DoseLot(facility_id=place["s2"].id, lot_number="FAR-1", vaccine_id=vaccine("AZ").id)
    db.session.add(far)
    db.session.commit()
    [own] = [lot for lot in lots() if lot.lot_number == "FF-5"]
    page = html(nurse.get("/recipients/lots"))
    assert "FF-5" in page and "FAR-1" not in page
    assert "/recipients/lots" in html(nurse.get("/recipients/"))  # in the navigation
    too_early = nurse.post(f"/recipients/lots/{own.id}/expiry",
                           data={f"lot{own.id}-expires_on": "31/07/2021"})
    assert "01/08/2021" in html(too_early) and lots()[0].expires_on is None
    saved = nurse.post(f"/recipients/lots/{own.id}/expiry",
                       data={f"lot{own.id}-expires_on": "31/12/2021"})
    assert saved.status_code == 303
    assert db.session.get(DoseLot, own.id).expires_on == date(2021, 12, 31)
    assert nurse.post(f"/recipients/lots/{far.id}/expiry",
                      data={f"lot{far.id}-expires_on": "31/12/2021"}).status_code == 404


def test_setting_an_expiry_needs_the_csrf_token(nurse, person):
    dose = add_dose(person(), "PFIZER", date(2021, 8, 1), lot="FF-5")
    lot = DoseLot(facility_id=dose.facility_id, lot_number="FF-5", vaccine_id=dose.vaccine_id)
    db.session.add(lot)
    db.session.commit()
    refused = nurse.post(f"/recipients/lots/{lot.id}/expiry", csrf=False,
                         data={f"lot{lot.id}-expires_on": "31/12/2021"})
    assert refused.status_code == 400
    assert db.session.get(DoseLot, lot.id).expires_on is None


def test_a_correction_cannot_move_a_dose_past_its_lots_expiry(nurse, person):
    from tests.helpers import dose_correction, fresh_otp

    dose = add_dose(person(), "AZ", date(2021, 6, 1), lot="AZ-2")
    db.session.add(DoseLot(facility_id=dose.facility_id, lot_number="AZ-2",
                           vaccine_id=dose.vaccine_id, expires_on=date(2021, 6, 30)))
    db.session.commit()
    fresh_otp(nurse)
    body = html(nurse.post(f"/recipients/doses/{dose.id}/edit",
                           data=dose_correction(nurse, dose, given_on="02/07/2021")))
    assert "30/06/2021" in body and "hết hạn" in body
    assert doses()[0].given_on == date(2021, 6, 1)
    done = nurse.post(f"/recipients/doses/{dose.id}/edit",
                      data=dose_correction(nurse, dose, given_on="20/06/2021"))
    assert done.status_code == 303
    [lot] = lots()
    assert lot.first_used_on == lot.last_used_on == date(2021, 6, 20)
