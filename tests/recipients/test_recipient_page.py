"""The recipient's page, scope, identity views, edits, identity edits (P3.4), conflicts."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.helpers import add_dose, assert_no_personal_data_in_urls, fresh_otp, hidden_inputs, html
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient


def test_page_shows_identity_and_records_the_view(nurse, person):
    recipient = person(phone="+84912345678")
    add_dose(recipient)
    response = nurse.get(f"/recipients/{recipient.id}")
    body = html(response)
    assert response.status_code == 200
    assert "Nguyễn Văn An" in body and recipient.national_id in body and "05/09/1980" in body
    assert "Vaxzevria" in body
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "view_identity"))
    assert event.category == "access" and event.entity == "recipient"
    assert event.entity_id == str(recipient.id) and event.facility_id == recipient.facility_id
    assert event.account_id == nurse.account.id
    assert_no_personal_data_in_urls(response, recipient.national_id, "Nguyễn Văn An",
                                    "912345678")


def test_p1_another_facilitys_recipient_is_404(nurse, person):
    far = person("s2")
    assert nurse.get(f"/recipients/{far.id}").status_code == 404
    assert nurse.get(f"/recipients/{far.id}/edit").status_code == 404
    assert nurse.get("/recipients/999999").status_code == 404


def test_p1_supervisor_sees_its_subtree_and_is_refused_outside(signed_in, place, person):
    inside, outside = person("s1b"), person("s2")
    supervisor = signed_in("supervisor", facility=place["d1"])
    assert supervisor.get(f"/recipients/{inside.id}").status_code == 200
    assert supervisor.get(f"/recipients/{outside.id}").status_code == 404
    assert supervisor.post(f"/recipients/{outside.id}/edit",
                           data={"occupation": "X", "version_id": "1"}).status_code == 404
    assert supervisor.post(f"/recipients/{outside.id}/doses", data={}).status_code == 404


def test_reviewer_reads_masked_and_may_not_edit(signed_in, place, person):
    recipient = person("s1b")
    reviewer = signed_in("reviewer", facility=place["doh"])
    body = html(reviewer.get(f"/recipients/{recipient.id}"))
    assert "Nguyễn Văn An" in body
    assert recipient.national_id not in body and recipient.national_id[-3:] in body
    assert f"/recipients/{recipient.id}/edit" not in body
    assert reviewer.get(f"/recipients/{recipient.id}/edit").status_code == 403
    assert reviewer.post(f"/recipients/{recipient.id}/identity", data={}).status_code == 403


def test_p2_1_admin_sees_no_recipient(signed_in, place, person):
    recipient = person()
    admin = signed_in("admin", facility=place["doh"])
    assert admin.get(f"/recipients/{recipient.id}").status_code == 403


def test_history_link_when_the_audit_page_exists(app, signed_in, place, person):
    recipient = person()
    supervisor = signed_in("supervisor", facility=place["d1"])
    body = html(supervisor.get(f"/recipients/{recipient.id}"))
    if "audit.index" in app.view_functions:
        assert "Lịch sử thay đổi" in body
        assert f"entity_id={recipient.id}" in body
    else:
        assert "Lịch sử thay đổi" not in body


def test_edit_other_fields_freely_within_scope(nurse, person):
    recipient = person()
    form = html(nurse.get(f"/recipients/{recipient.id}/edit"))
    version = hidden_inputs(form)["version_id"]
    response = nurse.post(f"/recipients/{recipient.id}/edit",
                          data={"occupation": "Nông dân", "ethnicity": "05",
                                "nationality": "VN", "priority_group": "",
                                "version_id": version})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).ethnicity == "05"  # Khơ-me


def test_stale_save_shows_the_conflict_and_loses_nothing(nurse, signed_in, place, person):
    recipient = person(occupation="Giáo viên")
    colleague = signed_in("data_entry", facility=place["s1"])
    version = hidden_inputs(html(nurse.get(f"/recipients/{recipient.id}/edit")))["version_id"]
    colleague.post(f"/recipients/{recipient.id}/edit",
                   data={"occupation": "Công nhân", "version_id": version})
    response = nurse.post(f"/recipients/{recipient.id}/edit",
                          data={"occupation": "Bác sĩ", "ethnicity": "17",
                                "version_id": version})
    body = html(response)
    assert response.status_code == 409
    assert 'class="conflict"' in body
    assert "Bác sĩ" in body and "Công nhân" in body
    assert 'selected value="17"' in body and 'value="Bác sĩ"' in body  # typed values kept
    assert "Chăm" in body
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).occupation == "Công nhân"
    # saving again from the conflict page, knowingly, goes through
    again = nurse.post(f"/recipients/{recipient.id}/edit", data=hidden_inputs(body) | {
        "occupation": "Bác sĩ", "ethnicity": "17"})
    assert again.status_code == 303
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).occupation == "Bác sĩ"


def test_stale_data_error_at_commit_is_a_conflict_too(app, nurse, person, monkeypatch):
    """The row changes between the version check and the UPDATE: SQLAlchemy's optimistic
    lock (StaleDataError) answers, and the view shows the conflict."""
    recipient = person(occupation="Giáo viên")
    from vaxportal.recipients import helpers

    real_is_stale = helpers.is_stale

    def race(obj, submitted):
        answer = real_is_stale(obj, submitted)
        other = db.session.session_factory()  # another process saves meanwhile
        other.get(Recipient, obj.id).occupation = "Công nhân"
        other.commit()
        other.close()
        return answer

    monkeypatch.setattr(helpers, "is_stale", race)
    response = nurse.post(f"/recipients/{recipient.id}/edit",
                          data={"occupation": "Bác sĩ", "version_id": "1"})
    body = html(response)
    assert response.status_code == 409
    assert "Công nhân" in body and 'value="Bác sĩ"' in body


IDENTITY = {"full_name": "Nguyễn Văn Bảo", "date_of_birth": "06/09/1980", "gender": "male",
            "national_id": "", "insurance_number": "", "phone": "0912 000 111",
            "province": "91", "district": "", "ward": "30307", "street": "1 Lê Lợi"}


def _identity_form(client, recipient) -> dict:
    page = html(client.get(f"/recipients/{recipient.id}/identity"))
    return hidden_inputs(page) | IDENTITY | {"national_id": recipient.national_id}


def test_p3_4_identity_edit_refused_without_fresh_otp_typed_values_kept(nurse, person):
    recipient = person()
    data = _identity_form(nurse, recipient)
    response = nurse.post(f"/recipients/{recipient.id}/identity", data=data)
    body = html(response)
    assert response.status_code in (200, 401, 403)
    assert "stepup_code" in body  # the OTP prompt
    carried = hidden_inputs(body)
    assert carried["full_name"] == "Nguyễn Văn Bảo"
    assert carried["date_of_birth"] == "06/09/1980" and carried["phone"] == "0912 000 111"
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).full_name == "Nguyễn Văn An"


def test_p3_4_identity_edit_accepted_after_otp_with_the_typed_values(nurse, person):
    recipient = person()
    prompt = html(nurse.post(f"/recipients/{recipient.id}/identity",
                             data=_identity_form(nurse, recipient)))
    fresh_otp(nurse)
    response = nurse.post(f"/recipients/{recipient.id}/identity", data=hidden_inputs(prompt))
    assert response.status_code == 303
    db.session.expire_all()
    saved = db.session.get(Recipient, recipient.id)
    assert saved.full_name == "Nguyễn Văn Bảo" and saved.name_key == "nguyen van bao"
    assert saved.date_of_birth == date(1980, 9, 6) and saved.phone == "+84912000111"


def test_p3_4_identity_edit_refuses_a_national_id_of_someone_else(nurse, person):
    recipient, other = person(), person(full_name="Người Khác")
    fresh_otp(nurse)
    data = _identity_form(nurse, recipient) | {"national_id": other.national_id}
    body = html(nurse.post(f"/recipients/{recipient.id}/identity", data=data))
    assert "đã thuộc một đối tượng khác" in body
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).full_name == "Nguyễn Văn An"


def test_p3_4_identity_fields_are_not_accepted_by_the_free_edit(nurse, person):
    recipient = person()
    nurse.post(f"/recipients/{recipient.id}/edit",
               data={"full_name": "Tên Lén", "occupation": "X", "version_id": "1"})
    db.session.expire_all()
    saved = db.session.get(Recipient, recipient.id)
    assert saved.full_name == "Nguyễn Văn An" and saved.occupation == "X"


@pytest.mark.parametrize("path", ["", "/edit", "/identity", "/doses/new"])
def test_pages_need_sign_in(client, person, path):
    recipient = person()
    response = client.get(f"/recipients/{recipient.id}{path}")
    assert response.status_code in (302, 401)


def test_p3_4_identity_edit_through_the_sms_prompt_keeps_the_typed_values(nurse, person,
                                                                           outbox):
    recipient = person()
    prompt = html(nurse.post(f"/recipients/{recipient.id}/identity",
                             data=_identity_form(nurse, recipient)))
    [sms] = [m for m in outbox() if m["kind"] == "step_up"]
    assert sms["to"] == nurse.account.phone
    response = nurse.post(f"/recipients/{recipient.id}/identity",
                          data=hidden_inputs(prompt) | {"stepup_code": sms["secret"]})
    assert response.status_code == 303
    db.session.expire_all()
    saved = db.session.get(Recipient, recipient.id)
    assert (saved.full_name, saved.street) == ("Nguyễn Văn Bảo", "1 Lê Lợi")


def test_p3_4_wrong_code_changes_nothing(nurse, person):
    recipient = person()
    prompt = html(nurse.post(f"/recipients/{recipient.id}/identity",
                             data=_identity_form(nurse, recipient)))
    again = nurse.post(f"/recipients/{recipient.id}/identity",
                       data=hidden_inputs(prompt) | {"stepup_code": "000000"})
    assert "stepup_code" in html(again)
    assert hidden_inputs(html(again))["full_name"] == "Nguyễn Văn Bảo"
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).full_name == "Nguyễn Văn An"


def _scope_questions(client, url: str) -> int:
    """How many statements the page sends that ask which facilities lie in a subtree scope."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len([s for s in sent if "facility.path >=" in s])


def test_p1_doses_of_many_facilities_cost_one_scope_question(signed_in, place, person):
    """Which doses the account may correct is asked once for all their facilities
    (``Scope.contains_many``), not once per facility."""
    supervisor = signed_in("supervisor", facility=place["d1"])
    here, spread = person("s1"), person("s1", full_name="Trần Văn Bình")
    for number, key in enumerate(("s1", "s1b", "d1", "s2", "d2"), start=1):
        given_on = date(2021, number, 1)
        add_dose(here, number=number, given_on=given_on)
        add_dose(spread, number=number, given_on=given_on, facility_id=place[key].id)
    one_facility = _scope_questions(supervisor, f"/recipients/{here.id}")
    five_facilities = _scope_questions(supervisor, f"/recipients/{spread.id}")
    assert five_facilities <= one_facility + 1
