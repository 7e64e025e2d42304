"""Target populations: typed by the supervisor for its subtree or imported from Excel, every
change in the audit trail (P2.4); another scope's facility is refused (P1), and a bad file
writes nothing."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import sqlalchemy as sa

from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.reports.models import TargetPopulation


def sheet(rows) -> io.BytesIO:
    book = openpyxl.Workbook()
    book.active.append(["Mã cơ sở", "Nhóm ưu tiên", "Nhóm tuổi", "Số người"])
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def figures():
    return {(r.facility.code, r.priority_group, r.age_band, r.total) for r in
            db.session.scalars(sa.select(TargetPopulation))}


def test_p2_4_supervisor_enters_a_target_and_it_is_audited(signed_in, place):
    client = signed_in("supervisor", facility=place["d1"])
    page = client.get("/reports/targets")
    assert page.status_code == 200 and place["s2"].name not in page.get_data(as_text=True)
    response = client.post("/reports/targets", data={
        "facility_id": place["s1"].id, "period_start": "01/01/2022",
        "period_end": "31/12/2022", "priority_group": "", "age_band": "", "total": "1200"})
    assert response.status_code == 303
    assert figures() == {("S1", "", "", 1200)}
    row = db.session.scalar(sa.select(TargetPopulation))
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.entity == "target_population", AuditEvent.entity_id == str(row.id)))
    assert event is not None and event.account_id == client.account.id
    # the same period again changes the figure; an overlapping one is refused
    client.post("/reports/targets", data={
        "facility_id": place["s1"].id, "period_start": "01/01/2022",
        "period_end": "31/12/2022", "priority_group": "", "age_band": "", "total": "1300"})
    refused = client.post("/reports/targets", data={
        "facility_id": place["s1"].id, "period_start": "01/06/2022",
        "period_end": "31/05/2023", "priority_group": "", "age_band": "", "total": "7"})
    assert refused.status_code == 400
    assert "chồng lên" in refused.get_data(as_text=True)
    assert 'value="7"' in refused.get_data(as_text=True)  # nothing typed is lost
    assert figures() == {("S1", "", "", 1300)}


def test_p1_target_for_another_scope_is_refused(signed_in, place):
    client = signed_in("supervisor", facility=place["d1"])
    response = client.post("/reports/targets", data={
        "facility_id": place["s2"].id, "period_start": "01/01/2022",
        "period_end": "31/12/2022", "priority_group": "", "age_band": "", "total": "5"})
    assert response.status_code == 400
    assert figures() == set()


def test_p1_only_supervisors_enter_targets(signed_in, place):
    data = {"facility_id": place["s1"].id, "period_start": "01/01/2022",
            "period_end": "31/12/2022", "total": "5"}
    for role, home in (("data_entry", "s1"), ("reviewer", "doh"), ("admin", "doh")):
        client = signed_in(role, facility=place[home])
        assert client.post("/reports/targets", data=data).status_code == 403, role
    assert figures() == set()


def test_target_import_writes_every_row_or_none(signed_in, place):
    client = signed_in("supervisor", facility=place["d1"])
    period = {"period_start": "01/01/2022", "period_end": "31/12/2022"}
    bad = sheet([("S1", None, None, 100), ("S2", None, None, 50), ("S1B", "N99", None, 3),
                 ("S1B", None, "18-49", -1)])
    response = client.post("/reports/targets/import", data={
        **period, "file": (bad, "targets.xlsx")}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Dòng 3" in html and "Dòng 4" in html and "Dòng 5" in html and "Dòng 2:" not in html
    assert figures() == set()
    good = sheet([("S1", None, None, 100), ("s1b", "N08", None, 20), ("S1B", None, "65+", 9)])
    response = client.post("/reports/targets/import", data={
        **period, "file": (good, "targets.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 303
    assert figures() == {("S1", "", "", 100), ("S1B", "N08", "", 20), ("S1B", "", "65+", 9)}
    row = db.session.scalar(sa.select(TargetPopulation).where(TargetPopulation.total == 9))
    assert row.period_start == date(2022, 1, 1) and row.period_end == date(2022, 12, 31)
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.entity == "target_population")) == 3


def test_target_import_refuses_what_is_not_a_workbook(signed_in, place):
    client = signed_in("supervisor", facility=place["d1"])
    response = client.post("/reports/targets/import", data={
        "period_start": "01/01/2022", "period_end": "31/12/2022",
        "file": (io.BytesIO(b"facility,count\nS1,5\n"), "targets.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "không phải tệp Excel" in response.get_data(as_text=True)
    assert figures() == set()
