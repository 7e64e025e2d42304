"""Entry that prevents wrong records (issue 14), in a browser with JavaScript on and off:
the dose form suggests the person's own series (not the facility's last vaccine), a lot
number recorded here with another vaccine asks for one more click, the lot register is in
the navigation, and a dose after a lot's expiry is refused with the form kept."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import joinedload

from tests.helpers import PASSWORD, add_person
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, DoseLot, Vaccine

FORM = "#dose-form"


def vaccine_id(code: str) -> int:
    return db.session.scalar(sa.select(Vaccine.id).where(Vaccine.code == code))


def give(recipient, code: str, number: int, on: date, lot: str) -> None:
    db.session.add(Dose(recipient_id=recipient.id, facility_id=recipient.facility_id,
                        vaccine_id=vaccine_id(code), dose_number=number, given_on=on,
                        lot_number=lot, vaccinator="Lê Thị Tiêm"))
    db.session.commit()


def saved_doses(recipient_id: int) -> list[tuple]:
    db.session.remove()
    return [(d.dose_number, d.vaccine.code, d.lot_number) for d in db.session.scalars(
        sa.select(Dose).where(Dose.recipient_id == recipient_id)
        .options(joinedload(Dose.vaccine)).order_by(Dose.id))]


def test_dose_suggestion_follows_the_person_and_a_foreign_lot_warns(ui, station, nurse_account):
    anh = add_person(station, "Nguyễn Văn Anh", "089080000101")
    binh = add_person(station, "Trần Thị Bình", "089080000102", gender="female")
    give(anh, "PFIZER", 1, date(2021, 7, 1), "FF-1")
    give(anh, "PFIZER", 2, date(2021, 8, 1), "FF-2")
    give(binh, "MODERNA", 1, date(2021, 9, 1), "MD-7")  # the facility's last entry
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto(f"/recipients/{anh.id}")
    page = ui.page
    form = page.locator(FORM)
    assert form.locator("select[name=vaccine_id]").input_value() == str(vaccine_id("PFIZER"))
    assert form.locator("input[name=dose_number]").input_value() == "3"
    assert form.locator("input[name=lot_number]").input_value() == "FF-2"
    ui.check()

    # The nurse picks Moderna but leaves the Pfizer lot: one more click, nothing lost.
    form.locator("select[name=vaccine_id]").select_option(str(vaccine_id("MODERNA")))
    form.locator("input[name=given_on]").fill("01/11/2021")
    ui.submit(f"{FORM} button[type=submit]")
    expect(page.locator(FORM)).to_contain_text("FF-2")
    expect(page.locator(FORM)).to_contain_text("Comirnaty (Pfizer-BioNTech)")
    assert page.locator(f"{FORM} input[name=given_on]").input_value() == "01/11/2021"
    assert saved_doses(anh.id) == [(1, "PFIZER", "FF-1"), (2, "PFIZER", "FF-2")]
    ui.check()
    ui.submit(f"{FORM} button[name=confirm_lot]")
    ui.arrive(f"/recipients/{anh.id}")
    expect(page.locator("#flashes")).to_contain_text("Đã ghi nhận mũi 3.")
    assert saved_doses(anh.id)[-1] == (3, "MODERNA", "FF-2")


def test_lot_register_sets_an_expiry_and_a_later_dose_is_refused(ui, station, nurse_account):
    anh = add_person(station, "Nguyễn Văn Anh", "089080000101")
    give(anh, "PFIZER", 1, date(2021, 7, 1), "FF-1")
    db.session.add(DoseLot(facility_id=station.id, lot_number="FF-1",
                           vaccine_id=vaccine_id("PFIZER"), first_used_on=date(2021, 7, 1),
                           last_used_on=date(2021, 7, 1)))
    db.session.commit()
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/")
    ui.page.get_by_role("link", name="Sổ lô vắc xin").click()
    ui.arrive("/recipients/lots")
    page = ui.page
    expect(page.locator("main table")).to_contain_text("FF-1")
    ui.check()
    page.locator("main table input[name$=expires_on]").fill("31/07/2021")
    ui.submit("main table button[type=submit]")
    ui.arrive("/recipients/lots")
    expect(page.locator("#flashes")).to_contain_text("FF-1")

    ui.goto(f"/recipients/{anh.id}")
    form = page.locator(FORM)
    assert form.locator("input[name=lot_number]").input_value() == "FF-1"
    form.locator("input[name=given_on]").fill("05/08/2021")
    ui.submit(f"{FORM} button[type=submit]")
    expect(page.locator(FORM)).to_contain_text("31/07/2021")
    assert page.locator(f"{FORM} input[name=given_on]").input_value() == "05/08/2021"
    assert saved_doses(anh.id) == [(1, "PFIZER", "FF-1")]
    ui.check()
