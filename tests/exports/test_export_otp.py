"""P3.4: every export to Excel needs an OTP issued for exactly that export."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.helpers import code_for, confirm, export_now, html, request_export, search_id
from vaxportal.audit.models import AuditEvent
from vaxportal.exports.models import ExportJob, JobStatus
from vaxportal.extensions import db


def _exports() -> int:
    return db.session.scalar(sa.select(sa.func.count(ExportJob.id)))


def test_p3_4_statement_page_states_scope_filter_count_columns_and_sends_nothing(
    nurse, person, outbox
):
    for _ in range(3):
        person()
    person("s2")  # another facility: outside the nurse's scope
    response = nurse.get(f"/exports/new?s={search_id(nurse)}")
    body = html(response)
    assert response.status_code == 200
    assert "Trạm Y tế Mỹ Bình" in body
    assert "Tất cả đối tượng trong phạm vi của tài khoản" in body
    assert "<strong>3</strong>" in body
    for header in ("Họ và tên", "Ngày sinh", "Số CCCD/CMND", "Số điện thoại", "Cơ sở quản lý"):
        assert header in body
    assert outbox() == [] and _exports() == 0  # a GET changes nothing


def test_p3_4_sms_names_the_export_count_and_facility(nurse, person, outbox):
    for _ in range(2):
        person()
    job = request_export(nurse, search_id(nurse))
    assert job.status == JobStatus.pending and job.row_count == 2
    (sms,) = outbox()
    assert sms["to"] == nurse.account.phone
    assert job.short_ref in sms["body"]
    assert "2 đối tượng" in sms["body"] and "Trạm Y tế Mỹ Bình" in sms["body"]
    assert "xuất" in sms["body"]


def test_p3_4_export_refused_without_its_code(nurse, person, outbox):
    person()
    job = request_export(nurse)
    response = confirm(nurse, job, None)
    assert response.status_code == 400
    assert "Vui lòng nhập mã xác nhận" in html(response)
    assert confirm(nurse, job, "", csrf=False).status_code == 400  # nor without CSRF
    assert confirm(nurse, job, code_for(outbox, job), csrf=False).status_code == 400
    db.session.refresh(job)
    assert job.status == JobStatus.pending and job.file_name is None


@pytest.mark.parametrize("purpose", ["login", "step_up"])
def test_p3_4_export_refused_with_a_login_or_step_up_code(nurse, person, outbox, purpose):
    from vaxportal.auth import codes

    person()
    job = request_export(nurse)
    codes.issue(nurse.account, purpose, None)
    db.session.commit()
    session_code = outbox()[-1]["secret"]
    response = confirm(nurse, job, session_code)
    assert response.status_code == 400
    assert "không phải mã của lượt xuất này" in html(response)
    db.session.refresh(job)
    assert job.status == JobStatus.pending


def test_p3_4_export_refused_with_a_code_issued_for_another_export(nurse, person, outbox):
    person()
    first = request_export(nurse)
    second = request_export(nurse)
    assert confirm(nurse, second, code_for(outbox, first)).status_code == 400
    db.session.refresh(second)
    assert second.status == JobStatus.pending
    refused = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "export_code_refused")).all()
    assert [e.entity_id for e in refused] == [second.id]
    # its own code works, once
    assert confirm(nurse, second, code_for(outbox, second)).status_code == 303
    assert confirm(nurse, second, code_for(outbox, second)).status_code == 400


def test_p3_4_a_step_up_window_does_not_count_for_exports(nurse, person):
    from vaxportal.auth.models import UserSession
    from vaxportal.timeutil import utcnow

    person()
    for row in db.session.scalars(sa.select(UserSession)):
        row.step_up_at = utcnow()
    db.session.commit()
    job = request_export(nurse)
    assert confirm(nurse, job, "").status_code == 400
    db.session.refresh(job)
    assert job.status == JobStatus.pending


def test_p3_4_codes_of_another_account_do_not_work(nurse, signed_in, place, person, outbox):
    person()
    person("s1b")
    colleague = signed_in("data_entry", facility=place["s1b"])
    theirs = request_export(colleague)
    mine = request_export(nurse)
    assert confirm(nurse, mine, code_for(outbox, theirs)).status_code == 400
    assert nurse.post(f"/exports/{theirs.id}/confirm",
                      data={"code": code_for(outbox, theirs)}).status_code == 404


def test_p1_export_audited_with_filter_count_and_digest(nurse, person, outbox):
    import hashlib

    for _ in range(2):
        person()
    job, data = export_now(nurse, outbox, search_id(nurse))
    events = {e.action: e for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity_id == job.id))}
    assert {"export_requested", "export_confirmed", "export_completed",
            "export_downloaded"} <= set(events)
    for action in events:
        assert events[action].category == "access"
        assert events[action].account_id == nurse.account.id
    completed = events["export_completed"].details
    assert completed["row_count"] == 2
    assert completed["filter"] == job.filter
    assert completed["sha256"] == hashlib.sha256(data).hexdigest() == job.sha256
    assert events["export_downloaded"].details["sha256"] == job.sha256
    assert events["export_requested"].details["row_count"] == 2


def test_p2_1_admin_cannot_export(signed_in, place):
    admin = signed_in("admin", facility=place["doh"])
    for url in ("/exports/", "/exports/new", "/exports/import", "/exports/import/template"):
        assert admin.get(url).status_code == 403, url
    assert admin.post("/exports/new", data={"s": ""}).status_code == 403


def test_p1_reviewer_exports_but_does_not_import(reviewer):
    assert reviewer.get("/exports/new").status_code == 200
    assert reviewer.get("/exports/import").status_code == 403


def test_p3_4_resending_replaces_the_code_and_is_limited(nurse, person, outbox):
    person()
    job = request_export(nurse)
    first = code_for(outbox, job)
    response = nurse.post(f"/exports/{job.id}/code")
    assert response.status_code == 303
    assert "Vui lòng đợi" in html(nurse.get(response.headers["Location"]))
    assert len(outbox()) == 1  # one a minute
    assert confirm(nurse, job, first).status_code == 303
