"""Browser journey of the provincial reviewer on the reports (issue 15): the province's
dashboard with its severe adverse events, a wider period through the form (htmx swaps the
panel with JavaScript, a plain GET without), drilling down to a district and a station by
links, an aggregate table downloaded as a workbook (no code: no personal data), the
station's data-quality counts and its due list with the phones masked (P1). JavaScript on
and off, axe on every page through the ``ui`` fixture."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers import PASSWORD, workbook
from tests.reports.support import add_dose, add_person
from vaxportal.extensions import db
from vaxportal.recipients.models import Aefi
from vaxportal.reports.models import TargetPopulation
from vaxportal.validators import local_today

PHONE, PHONE2 = "+84912345678", "+84987654321"


def masked(phone: str) -> str:
    return "*" * (len(phone) - 3) + phone[-3:]


@pytest.fixture
def province(factory):
    place = factory.place()
    today = local_today()
    due = add_person(place["s1"], name="Trần Văn Hẹn", phone=PHONE)
    early = add_person(place["s1"], name="Lê Thị Sớm", phone=PHONE2)
    far = add_person(place["s2"], name="Phạm Văn Xa")
    db.session.flush()
    add_dose(due, "AZ", 1, today - timedelta(days=30))
    add_dose(early, "PFIZER", 1, today - timedelta(days=70)).aefi = Aefi.severe
    add_dose(early, "PFIZER", 2, today - timedelta(days=60))  # before the minimum interval
    add_dose(far, "AZ", 1, today - timedelta(days=5)).aefi = Aefi.severe
    for key, total in (("s1", 40), ("s2", 25)):
        db.session.add(TargetPopulation(facility_id=place[key].id, total=total,
                                        period_start=today - timedelta(days=120),
                                        period_end=today + timedelta(days=300)))
    db.session.commit()
    return place


def follow(ui, locator) -> None:
    with ui.page.expect_navigation():
        locator.click()


def test_reviewer_reads_the_province_drills_down_exports_and_checks_quality(ui, province,
                                                                            factory):
    reviewer = factory.account("reviewer", facility=province["doh"], full_name="Võ Thị Duyệt")
    ui.sign_in(reviewer.username, PASSWORD)
    page = ui.page
    follow(ui, page.locator("nav.main a", has_text="Báo cáo"))
    expect(page.locator("h1")).to_have_text("Báo cáo tiêm chủng")
    coverage = page.locator("#coverage-table")
    expect(coverage.locator(f"tr[data-key='{province['d1'].id}']")).to_contain_text(
        "2 (5,0%)")
    expect(coverage.locator("tr[data-key=total]")).to_contain_text("3 (4,6%)")
    severe = page.locator("#aefi-table")
    expect(severe.locator("tr[data-key=total] td")).to_have_text("1")  # the last 30 days
    ui.check("reports-province")

    # a wider period: the older severe event comes in
    today = local_today()
    page.fill("input[name=start]", (today - timedelta(days=89)).strftime("%d/%m/%Y"))
    page.fill("input[name=end]", today.strftime("%d/%m/%Y"))
    ui.apply_filter(f"/reports/f/{province['doh'].id}")
    expect(severe.locator("tr[data-key=total] td")).to_have_text("2")
    assert "start=" in page.url
    ui.check()

    # down to the district, then the station, keeping the period
    follow(ui, coverage.get_by_role("link", name=province["d1"].name))
    expect(page.locator("nav.breadcrumbs")).to_contain_text(province["doh"].name)
    expect(severe.locator("tr[data-key=total] td")).to_have_text("1")
    ui.check()
    follow(ui, coverage.get_by_role("link", name=province["s1"].name))
    expect(page.locator("nav.breadcrumbs")).to_contain_text(province["d1"].name)
    events = page.locator("#aefi-list")
    expect(events).to_contain_text("Lê Thị Sớm")
    expect(events).to_contain_text(masked(PHONE2))
    expect(events).not_to_contain_text(PHONE2)
    ui.check()

    # the coverage table as a workbook: what the page shows, no code asked
    with page.expect_download() as download:
        page.get_by_role("button", name="Xuất bảng ra Excel · Độ bao phủ").click()
    sheet = workbook(Path(download.value.path()).read_bytes()).worksheets[0]
    rows = [row for row in sheet.iter_rows(values_only=True) if row[0]]
    assert ("Tổng: " + province["s1"].name, 40, 2, 0.05) == rows[-1][:4]
    assert "Lê Thị Sớm" not in str(rows) and PHONE2 not in str(rows)

    # the station's data quality, then its due list (phones masked above the station)
    follow(ui, page.get_by_role("link", name=f"Chất lượng dữ liệu của {province['s1'].name}"))
    expect(page.locator("#quality-rows")).to_contain_text("Lê Thị Sớm")
    ui.check("reports-quality")
    follow(ui, page.get_by_role("link", name="Về báo cáo tiêm chủng"))
    follow(ui, page.get_by_role(
        "link", name=f"Danh sách đến hạn, quá hạn của {province['s1'].name}"))
    table = page.locator("#due-table")
    expect(table).to_contain_text("Trần Văn Hẹn")
    expect(table).to_contain_text(masked(PHONE))
    expect(table).not_to_contain_text(PHONE)
    ui.check()
