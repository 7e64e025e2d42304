"""The reports pages from outside: who may open them (P1, P2.1), another scope's facility
(404), the dashboard's tables against the figures, the form without JavaScript and with htmx,
the due list's phone numbers by role (P1), and its Excel export behind its own OTP (P3.4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import (
    all_values,
    code_for,
    confirm,
    read_outbox,
    request_export,
    workbook,
)
from tests.reports.support import add_dose, add_person, table_row, text
from vaxportal.exports.models import ExportJob
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose
from vaxportal.reports.models import TargetPopulation
from vaxportal.validators import local_today

TODAY = local_today()
PHONE = "+84912345678"


@pytest.fixture
def people(place):
    """S1: one person due for dose 2 (AZ dose 1 thirty days ago), one complete; S2: one."""
    due = add_person(place["s1"], name="Trần Văn Hẹn", phone=PHONE)
    done = add_person(place["s1"], name="Lê Thị Đủ")
    other = add_person(place["s2"], name="Phạm Văn Ngoài")
    db.session.flush()
    add_dose(due, "AZ", 1, TODAY - timedelta(days=30))
    add_dose(done, "PFIZER", 1, TODAY - timedelta(days=60))
    add_dose(done, "PFIZER", 2, TODAY - timedelta(days=30))
    add_dose(other, "AZ", 1, TODAY - timedelta(days=30))
    db.session.add(TargetPopulation(facility_id=place["s1"].id, total=8,
                                    period_start=TODAY - timedelta(days=100),
                                    period_end=TODAY + timedelta(days=100)))
    db.session.commit()
    return {"due": due, "done": done, "other": other}


def test_p1_supervisor_sees_its_district_with_a_line_per_station(signed_in, place, people):
    client = signed_in("supervisor", facility=place["d1"])
    response = client.get("/reports/")
    assert response.status_code == 200
    html = text(response)
    assert table_row(html, "total")[1:] == ["8", "2 (25,0%)", "1 (12,5%)", "0 (0,0%)"]
    assert table_row(html, str(place["s1"].id))[1:] == ["8", "2 (25,0%)", "1 (12,5%)", "0 (0,0%)"]
    assert table_row(html, str(place["s1b"].id))[1:] == ["—", "0 (—)", "0 (—)", "0 (—)"]
    assert "Phạm Văn Ngoài" not in html and place["s2"].name not in html
    # the drill-down link to the station, the chart and its table
    assert f'href="/reports/f/{place["s1"].id}?' in html
    assert "<svg" in html and 'role="img"' in html and "<caption>" in html


def test_p1_another_scope_facility_answers_404(signed_in, place, people):
    supervisor = signed_in("supervisor", facility=place["d1"])
    assert supervisor.get(f"/reports/f/{place['s2'].id}").status_code == 404
    assert supervisor.get(f"/reports/f/{place['d2'].id}/due").status_code == 404
    assert supervisor.post(f"/reports/f/{place['s2'].id}/due/export").status_code == 404
    nurse = signed_in("data_entry", facility=place["s1"])
    assert nurse.get(f"/reports/f/{place['s1b'].id}").status_code == 404
    assert nurse.get(f"/reports/f/{place['d1'].id}").status_code == 404
    assert nurse.get(f"/reports/f/{place['s1'].id}").status_code == 200


@pytest.mark.parametrize("url", ["/reports/", "/reports/f/{s1}", "/reports/f/{s1}/due",
                                 "/reports/targets"])
def test_p2_1_admin_sees_no_report(signed_in, place, people, url):
    admin = signed_in("admin", facility=place["doh"])
    assert admin.get(url.format(s1=place["s1"].id)).status_code == 403
    assert b"/reports/" not in admin.get("/").data  # no navigation entry either


def test_p1_reports_permission_by_role(signed_in, place, people):
    """data_entry reads its own facility's reports; only supervisors enter targets."""
    nurse = signed_in("data_entry", facility=place["s1"])
    assert nurse.get("/reports/").status_code == 200
    assert b'href="/reports/"' in nurse.get("/").data
    assert nurse.get("/reports/targets").status_code == 403
    reviewer = signed_in("reviewer", facility=place["doh"])
    assert reviewer.get("/reports/targets").status_code == 403
    assert reviewer.get(f"/reports/f/{place['s2'].id}").status_code == 200


def test_dashboard_form_works_without_javascript_and_swaps_with_htmx(signed_in, place, people):
    client = signed_in("supervisor", facility=place["d1"])
    start = (TODAY - timedelta(days=40)).strftime("%d/%m/%Y")
    end = TODAY.strftime("%d/%m/%Y")
    query = {"start": start, "end": end, "by": "band", "step": "week"}
    page = client.get(f"/reports/f/{place['d1'].id}", query_string=query)
    assert page.status_code == 200 and "<form" in text(page)
    assert table_row(text(page), "18-49")[1:] == ["—", "2 (—)", "1 (—)", "0 (—)"]
    fragment = client.hx("GET", f"/reports/f/{place['d1'].id}", query_string=query)
    assert fragment.status_code == 200
    assert text(fragment).lstrip().startswith('<div id="report-panel">')
    assert "<html" not in text(fragment)
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert "Mũi tiêm theo tuần" in text(page)  # the time series follows ``step``


def test_dashboard_bad_dates_keep_what_was_typed(signed_in, place, people):
    client = signed_in("supervisor", facility=place["d1"])
    response = client.get("/reports/", query_string={"start": "31/02/2022", "end": "01/01/2020"})
    assert response.status_code == 200
    assert 'value="31/02/2022"' in text(response)
    assert 'class="field-error"' in text(response)


def test_p1_due_list_phone_in_full_only_for_the_facility_data_entry(signed_in, place, people):
    masked = "*" * (len(PHONE) - 3) + PHONE[-3:]
    url = f"/reports/f/{place['s1'].id}/due"
    nurse = signed_in("data_entry", facility=place["s1"])
    html = text(nurse.get(url))
    assert "Trần Văn Hẹn" in html and PHONE in html and "Lê Thị Đủ" not in html
    for role, home in (("supervisor", "d1"), ("reviewer", "doh")):
        html = text(signed_in(role, facility=place[home]).get(url))
        assert "Trần Văn Hẹn" in html, role
        assert PHONE not in html and masked in html, role


def test_overdue_list_and_its_count(signed_in, place, people):
    client = signed_in("supervisor", facility=place["d1"])
    url = f"/reports/f/{place['s1'].id}/due"
    assert "Trần Văn Hẹn" not in text(client.get(url, query_string={"status": "overdue"}))
    db.session.scalars(sa.select(Dose).where(Dose.recipient_id == people["due"].id)
                       .order_by(Dose.given_on)).first().given_on = TODAY - timedelta(days=28 + 30)
    db.session.commit()
    html = text(client.get(url, query_string={"status": "overdue"}))
    assert "Trần Văn Hẹn" in html and "1 người quá hạn." in html


def _export(client, url, status="due"):
    response = client.post(url, data={"status": status})
    assert response.status_code == 303
    statement = client.get(response.headers["Location"])
    assert statement.status_code == 200
    return statement, response.headers["Location"]


def test_p3_4_due_list_export_goes_through_its_own_code(app, signed_in, place, people):
    supervisor = signed_in("supervisor", facility=place["d1"])
    statement, location = _export(supervisor, f"/reports/f/{place['s1'].id}/due/export")
    assert "/exports/new?s=" in location and "Trần" not in location
    html = text(statement)
    assert "đến hạn mũi tiếp theo" in html
    # the supervisor is above the facility: the file's phones are masked
    asked = supervisor.post("/exports/new", data={"s": location.split("s=")[1]})
    assert asked.status_code == 303
    job = db.session.scalar(sa.select(ExportJob).order_by(ExportJob.created_at.desc()))
    assert job.row_count == 1 and job.masked is True
    assert job.filter["due"] == "due" and job.filter["facility_id"] == place["s1"].id
    assert read_outbox(app)  # the code went out by SMS, bound to this export
    nurse = signed_in("data_entry", facility=place["s1"])
    _statement, location = _export(nurse, f"/reports/f/{place['s1'].id}/due/export")
    nurse.post("/exports/new", data={"s": location.split("s=")[1]})
    job = db.session.scalar(sa.select(ExportJob).where(ExportJob.account_id == nurse.account.id))
    assert job.masked is False


def test_p1_export_of_the_due_list_needs_export_permission_and_csrf(signed_in, place, people):
    supervisor = signed_in("supervisor", facility=place["d1"])
    url = f"/reports/f/{place['s1'].id}/due/export"
    assert supervisor.post(url, data={"status": "due"}, csrf=False).status_code == 400
    admin = signed_in("admin", facility=place["doh"])
    assert admin.post(url, data={"status": "due"}).status_code == 403


def test_due_list_swaps_its_rows_with_htmx(signed_in, place, people):
    client = signed_in("data_entry", facility=place["s1"])
    fragment = client.hx("GET", f"/reports/f/{place['s1'].id}/due", query_string={"page": "1"})
    assert fragment.status_code == 200
    html = text(fragment)
    assert html.lstrip().startswith('<div id="due-rows">') and "<html" not in html
    assert "Trần Văn Hẹn" in html and PHONE in html and 'name="status"' in html


def _download_due(client, outbox, facility) -> list:
    response = client.post(f"/reports/f/{facility.id}/due/export", data={"status": "due"})
    sid = response.headers["Location"].split("s=")[1]
    job = request_export(client, sid)
    assert confirm(client, job, code_for(outbox, job)).status_code == 303
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200
    return [str(v) for v in all_values(workbook(download.data))]


def test_p1_p3_4_due_list_file_holds_the_due_people_phones_as_on_screen(signed_in, place,
                                                                         people, outbox):
    """The file written after the export's own code: only the people due, and the phone
    masked for the supervisor, in full for the station's own account."""
    masked = "*" * (len(PHONE) - 3) + PHONE[-3:]
    values = _download_due(signed_in("supervisor", facility=place["d1"]), outbox, place["s1"])
    assert "Trần Văn Hẹn" in values and masked in values and PHONE not in values
    assert "Lê Thị Đủ" not in values and "Phạm Văn Ngoài" not in values
    values = _download_due(signed_in("data_entry", facility=place["s1"]), outbox, place["s1"])
    assert "Trần Văn Hẹn" in values and PHONE in values and "Lê Thị Đủ" not in values


def test_due_list_pages_through_the_one_pager(app, signed_in, place, people):
    second = add_person(place["s1"], name="Đỗ Văn Hai")
    db.session.flush()
    add_dose(second, "AZ", 1, TODAY - timedelta(days=30))
    db.session.commit()
    app.config["PAGE_SIZE"] = 1
    client = signed_in("supervisor", facility=place["d1"])
    url = f"/reports/f/{place['s1'].id}/due"
    html = text(client.get(url, query_string={"status": "due"}))
    assert f'href="{url}?status=due&amp;page=2" rel="next"' in html
    assert 'hx-target="#due-rows"' in html
    assert "Trang 2 / 2" in text(client.get(url, query_string={"status": "due", "page": "2"}))


def test_p1_a_district_due_list_covers_its_stations_and_nothing_outside(signed_in, place,
                                                                        people):
    """A supervisor opening the due list of its district sees the due people of every
    station below it; the province's reviewer, the district's list holds no other
    district's people."""
    supervisor = signed_in("supervisor", facility=place["d1"])
    html = text(supervisor.get(f"/reports/f/{place['d1'].id}/due"))
    assert "Trần Văn Hẹn" in html and "Phạm Văn Ngoài" not in html
    reviewer = signed_in("reviewer", facility=place["doh"])
    html = text(reviewer.get(f"/reports/f/{place['doh'].id}/due"))
    assert "Trần Văn Hẹn" in html and "Phạm Văn Ngoài" in html
    html = text(reviewer.get(f"/reports/f/{place['d2'].id}/due"))
    assert "Phạm Văn Ngoài" in html and "Trần Văn Hẹn" not in html
