"""Recording doses: one short form, suggestions, the interval warning, no double submit;
corrections and deletions behind a fresh OTP with a reason (P3.4); the cross-facility
look-up with its reason."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import (
    add_dose,
    assert_no_personal_data_in_urls,
    dose_correction,
    dose_data,
    doses,
    fresh_otp,
    hidden_inputs,
    html,
    input_value,
    vaccine,
)
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, RecipientSearch
from vaxportal.validators import local_today


def test_dose_form_on_the_page_suggests_next_number_and_last_entry(nurse, person):
    first, second = person(), person(full_name="Trần Thị Bé", gender="female")
    add_dose(first, "MODERNA", date(2021, 7, 1), lot="MD-777", vaccinator="Phan Văn Kim")
    body = html(nurse.get(f"/recipients/{first.id}"))
    assert input_value(body, "dose_number") == "2"
    assert input_value(body, "lot_number") == "MD-777"  # the series' vaccine, used here
    assert f'<option selected value="{vaccine("MODERNA").id}"' in body
    body = html(nurse.get(f"/recipients/{second.id}"))
    assert input_value(body, "vaccinator") == "Phan Văn Kim"
    assert input_value(body, "dose_number") == "1"
    assert "autofocus" in body and 'hx-disabled-elt="find button"' in body
    assert local_today().strftime("%d/%m/%Y") in body


def test_record_dose_plain_post(nurse, person):
    recipient = person()
    page = html(nurse.get(f"/recipients/{recipient.id}/doses/new"))
    response = nurse.post(f"/recipients/{recipient.id}/doses", data=dose_data(page))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/recipients/{recipient.id}")
    [dose] = doses()
    assert (dose.dose_number, dose.given_on, dose.lot_number) == (1, date(2021, 8, 1), "FF1234")
    assert dose.facility_id == recipient.facility_id
    assert "Đã ghi nhận mũi 1" in html(nurse.get(response.headers["Location"]))


def test_record_dose_htmx_from_a_search_result(nurse, person):
    recipient = person()
    nurse.post("/recipients/", data={"q": "nguyen"})
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    results = nurse.hx("GET", f"/recipients/?s={sid}")
    assert f"/recipients/{recipient.id}/doses/new?s={sid}" in html(results)
    form = nurse.hx("GET", f"/recipients/{recipient.id}/doses/new?s={sid}")
    assert "<html" not in html(form) and 'id="dose-form"' in html(form)
    assert hidden_inputs(html(form))["back"] == sid
    saved = nurse.hx("POST", f"/recipients/{recipient.id}/doses", data=dose_data(html(form)))
    assert saved.status_code == 200 and "Đã ghi nhận mũi 1" in html(saved)
    assert len(doses()) == 1
    assert_no_personal_data_in_urls(results, "nguyen")


def test_record_dose_plain_from_a_search_result_goes_back_to_the_search(nurse, person):
    recipient = person()
    nurse.post("/recipients/", data={"q": "nguyen"})
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    page = html(nurse.get(f"/recipients/{recipient.id}/doses/new?s={sid}"))
    assert "<html" in page
    response = nurse.post(f"/recipients/{recipient.id}/doses", data=dose_data(page))
    [dose] = doses()
    assert response.headers["Location"].endswith(f"/recipients/?s={sid}&saved={dose.id}")
    # a slow line pays for no note in the 303 and for no cookie set now and cleared next
    assert response.get_data() == b"" and "Set-Cookie" not in response.headers
    after = nurse.get(response.headers["Location"])
    assert "Set-Cookie" not in after.headers
    slot = html(after).split('id="dose-slot"')[1].split('id="results"')[0]
    assert "Đã ghi nhận mũi 1." in slot and "Mũi 1: Nguyễn Văn An." in slot
    assert f'href="/recipients/{recipient.id}"' in slot


@pytest.mark.parametrize("saved", ["other", "0", "-1", "99999999999", "abc"])
def test_p1_the_register_shows_no_saved_dose_outside_scope_or_of_a_bad_id(nurse, person,
                                                                           saved):
    """P1: ``saved`` names a dose by id; another facility's dose says nothing of its person."""
    other = add_dose(person(facility="s2", full_name="Lê Thị Khác"), "PFIZER")
    nurse.post("/recipients/", data={"q": "nguyen"})
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    response = nurse.get(f"/recipients/?s={sid}&saved={other.id if saved == 'other' else saved}")
    body = html(response)
    assert response.status_code == 200
    assert "Lê Thị Khác" not in body and "Đã ghi nhận" not in body


@pytest.mark.parametrize("hx", [False, True])
def test_interval_shorter_than_minimum_warns_then_confirm(nurse, person, hx):
    recipient = person()
    add_dose(recipient, "PFIZER", date(2021, 8, 1))
    page = html(nurse.get(f"/recipients/{recipient.id}/doses/new"))
    data = dose_data(page, dose_number="2", given_on="10/08/2021")
    post = nurse.hx if hx else (lambda m, url, **kw: nurse.post(url, **kw))
    warned = post("POST", f"/recipients/{recipient.id}/doses", data=data)
    body = html(warned)
    assert warned.status_code == 200 and ("<html" in body) is not hx
    assert "9 ngày" in body and "21 ngày" in body
    assert 'name="confirm_interval" value="1"' in body
    assert 'value="10/08/2021"' in body  # nothing typed lost
    assert len(doses()) == 1
    done = post("POST", f"/recipients/{recipient.id}/doses",
                data=dict(hidden_inputs(body), **{k: v for k, v in data.items()
                                                   if k not in ("csrf_token",)},
                          confirm_interval="1"))
    assert done.status_code in (204, 303)
    assert [d.dose_number for d in doses()] == [1, 2]


def test_double_submit_records_once(nurse, person):
    recipient = person()
    data = dose_data(html(nurse.get(f"/recipients/{recipient.id}/doses/new")))
    nurse.post(f"/recipients/{recipient.id}/doses", data=data)
    again = nurse.post(f"/recipients/{recipient.id}/doses", data=data)
    assert again.status_code == 303
    assert len(doses()) == 1
    assert "đã được ghi nhận" in html(nurse.get(again.headers["Location"]))


def test_dose_errors_keep_what_was_typed(nurse, person):
    recipient = person()
    data = dose_data(html(nurse.get(f"/recipients/{recipient.id}/doses/new")),
                     vaccine_id="", given_on="01/01/1979", lot_number="LOT-9", aefi="mild")
    body = html(nurse.post(f"/recipients/{recipient.id}/doses", data=data))
    assert "Vui lòng chọn vắc xin" in body
    assert "Vui lòng mô tả phản ứng sau tiêm" in body
    assert 'value="LOT-9"' in body and 'value="01/01/1979"' in body
    tomorrow = (local_today() + timedelta(days=1)).strftime("%d/%m/%Y")
    body = html(nurse.post(f"/recipients/{recipient.id}/doses",
                           data=dose_data("", given_on=tomorrow)))
    assert "Ngày không được sau hôm nay" in body
    assert doses() == []


def test_reviewer_may_not_record(signed_in, place, person):
    recipient = person()
    reviewer = signed_in("reviewer", facility=place["doh"])
    assert reviewer.post(f"/recipients/{recipient.id}/doses",
                         data=dose_data("")).status_code == 403
    assert doses() == []


# -- corrections and deletions (P3.4) ------------------------------------------------------


def test_p3_4_dose_correction_needs_fresh_otp_and_a_reason(nurse, person):
    dose = add_dose(person())
    data = dose_correction(nurse, dose)
    prompt = nurse.post(f"/recipients/doses/{dose.id}/edit", data=data)
    assert "stepup_code" in html(prompt)
    assert hidden_inputs(html(prompt))["reason"] == "Nhập nhầm ngày tiêm"
    assert doses()[0].given_on == date(2021, 6, 1)
    fresh_otp(nurse)
    no_reason = nurse.post(f"/recipients/doses/{dose.id}/edit", data=data | {"reason": ""})
    assert "Vui lòng nêu lý do" in html(no_reason)
    assert doses()[0].given_on == date(2021, 6, 1)
    done = nurse.post(f"/recipients/doses/{dose.id}/edit", data=hidden_inputs(html(prompt)))
    assert done.status_code == 303
    assert doses()[0].given_on == date(2021, 6, 2)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "dose_correct"))
    assert event.details["reason"] == "Nhập nhầm ngày tiêm"
    assert event.entity_id == str(dose.id)


def test_p3_4_dose_deletion_needs_fresh_otp_and_a_reason(nurse, person):
    dose = add_dose(person())
    page = html(nurse.get(f"/recipients/doses/{dose.id}/delete"))
    data = hidden_inputs(page) | {"reason": "Ghi trùng mũi tiêm"}
    prompt = nurse.post(f"/recipients/doses/{dose.id}/delete", data=data)
    assert "stepup_code" in html(prompt) and len(doses()) == 1
    fresh_otp(nurse)
    assert "Vui lòng nêu lý do" in html(
        nurse.post(f"/recipients/doses/{dose.id}/delete", data=data | {"reason": ""}))
    response = nurse.post(f"/recipients/doses/{dose.id}/delete", data=data)
    assert response.status_code == 303
    assert doses() == []
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "dose_delete"))
    assert event.details["reason"] == "Ghi trùng mũi tiêm"


def test_stale_dose_correction_shows_the_conflict(nurse, person):
    dose = add_dose(person())
    fresh_otp(nurse)
    data = dose_correction(nurse, dose, lot_number="MINE-1")
    db.session.get(Dose, dose.id).lot_number = "THEIRS-1"
    db.session.commit()
    response = nurse.post(f"/recipients/doses/{dose.id}/edit", data=data)
    body = html(response)
    assert response.status_code == 409 and 'class="conflict"' in body
    assert "THEIRS-1" in body and 'value="MINE-1"' in body
    assert 'value="Nhập nhầm ngày tiêm"' in body or "Nhập nhầm ngày tiêm" in body
    assert doses()[0].lot_number == "THEIRS-1"


def test_another_facilitys_dose_cannot_be_corrected(nurse, person):
    dose = add_dose(person("s2"))
    fresh_otp(nurse)
    assert nurse.get(f"/recipients/doses/{dose.id}/edit").status_code == 404
    assert nurse.post(f"/recipients/doses/{dose.id}/delete",
                      data={"reason": "không được phép"}).status_code == 404


# -- cross-facility look-up ----------------------------------------------------------------


def test_lookup_needs_a_reason(nurse, person):
    far = person("s2")
    body = html(nurse.post("/recipients/lookup", data={"id_number": far.national_id,
                                                       "reason": ""}))
    assert "Vui lòng nêu lý do" in body and "Nguyễn Văn An" not in body
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "cross_facility_lookup")) is None


def test_lookup_finds_across_the_platform_minimal_fields_and_records_the_reason(nurse, person):
    far = person("s2", phone="+84987654321", street="99 Đường Bí Mật",
                 insurance_number="HT2890000000001")
    add_dose(far, "AZ", date(2021, 6, 1))
    response = nurse.post("/recipients/lookup", data={
        "id_number": far.national_id, "reason": "Người dân tiêm mũi 2 tại trạm"})
    body = html(response)
    assert response.status_code == 200
    assert "Nguyễn Văn An" in body and "Trạm Y tế Vĩnh Mỹ" in body and "Vaxzevria" in body
    assert "+84987654321" not in body and "Bí Mật" not in body
    assert f'href="/recipients/{far.id}"' not in body
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "cross_facility_lookup"))
    assert event.category == "access" and event.entity_id == str(far.id)
    assert event.details["reason"] == "Người dân tiêm mũi 2 tại trạm"
    assert_no_personal_data_in_urls(response, far.national_id, "Nguyễn Văn An")
    by_insurance = html(nurse.post("/recipients/lookup", data={
        "id_number": "ht2890000000001", "reason": "Tra theo thẻ BHYT"}))
    assert "Nguyễn Văn An" in by_insurance


def test_lookup_records_a_dose_at_the_users_own_facility(nurse, person, place):
    far = person("s2")
    add_dose(far, "AZ", date(2021, 6, 1))
    body = html(nurse.post("/recipients/lookup", data={
        "id_number": far.national_id, "reason": "Tiêm mũi 2 tại trạm"}))
    action = next(a for a in re.findall(r'action="([^"]*)"', body)
                  if "/lookup/" in a)
    data = dose_data(body, vaccine_id=str(vaccine("AZ").id), dose_number="2",
                     given_on="15/08/2021")
    response = nurse.post(action, data=data)
    assert response.status_code == 303
    second = doses()[-1]
    assert second.recipient_id == far.id and second.facility_id == place["s1"].id
    assert second.dose_number == 2
    # the far record itself stays out of reach
    assert nurse.get(f"/recipients/{far.id}").status_code == 404


def test_lookup_grant_belongs_to_the_account(nurse, signed_in, person, place):
    far = person("s2")
    body = html(nurse.post("/recipients/lookup", data={
        "id_number": far.national_id, "reason": "Tiêm mũi 2 tại trạm"}))
    action = next(a for a in re.findall(r'action="([^"]*)"', body)
                  if "/lookup/" in a)
    other = signed_in("data_entry", facility=place["s1b"])
    data = dose_data(body)
    del data["csrf_token"]  # the other client sends its own token
    assert other.post(action, data=data).status_code == 404
    assert other.post("/recipients/lookup/forged/doses", data=data).status_code == 404
    assert doses() == []


def test_stale_dose_correction_by_htmx_replaces_the_page_and_keeps_the_typing(nurse, person):
    """htmx does not swap a 409 by itself: the answer names the body as its target, so the
    conflict page (with what was typed) replaces the form instead of vanishing."""
    dose = add_dose(person())
    fresh_otp(nurse)
    data = dose_correction(nurse, dose, lot_number="MINE-2")
    db.session.get(Dose, dose.id).lot_number = "THEIRS-2"
    db.session.commit()
    response = nurse.hx("POST", f"/recipients/doses/{dose.id}/edit", data=data)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "body"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert 'value="MINE-2"' in html(response) and "THEIRS-2" in html(response)
