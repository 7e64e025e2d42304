"""Browser journey of the district supervisor on the reports (issue 15): the dashboard of its
district, the period and breakdown form (htmx swaps the panel with JavaScript, a plain GET
without), drilling down to a station by a link, and the station's due list with its phones
masked (P1). JavaScript on and off, axe on every page through the ``ui`` fixture."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.helpers import PASSWORD
from tests.reports.support import add_dose, add_person
from vaxportal.extensions import db
from vaxportal.reports.models import TargetPopulation
from vaxportal.validators import local_today

PHONE = "+84912345678"


@pytest.fixture
def district(factory):
    place = factory.place()
    today = local_today()
    due = add_person(place["s1"], name="Trần Văn Hẹn", phone=PHONE)
    done = add_person(place["s1b"], name="Lê Thị Đủ", born=today.replace(year=today.year - 70))
    db.session.flush()
    add_dose(due, "AZ", 1, today - timedelta(days=30))
    add_dose(done, "PFIZER", 1, today - timedelta(days=50))
    add_dose(done, "PFIZER", 2, today - timedelta(days=20))
    db.session.add(TargetPopulation(facility_id=place["s1"].id, total=40,
                                    period_start=today - timedelta(days=60),
                                    period_end=today + timedelta(days=300)))
    db.session.commit()
    return place


def test_supervisor_reads_coverage_drills_down_and_sees_who_is_due(ui, district, factory):
    supervisor = factory.account("supervisor", facility=district["d1"],
                                 full_name="Phạm Văn Giám Sát")
    ui.sign_in(supervisor.username, PASSWORD)
    page = ui.page
    with page.expect_navigation():
        page.locator("nav.main a", has_text="Báo cáo").click()
    expect(page.locator("h1")).to_have_text("Báo cáo tiêm chủng")
    coverage = page.locator("#coverage-table")
    expect(coverage.locator("tr[data-key=total]")).to_contain_text("2 (5,0%)")
    expect(page.locator("svg.chart").first).to_be_visible()
    ui.check("reports-dashboard")

    # the breakdown by age band and a weekly time series, through the form
    page.select_option("select[name=by]", "band")
    page.select_option("select[name=step]", "week")
    ui.apply_filter(f"/reports/f/{district['d1'].id}")
    expect(coverage.locator("tr[data-key='65+']")).to_contain_text("1")
    expect(page.locator("#time-heading")).to_have_text("Mũi tiêm theo tuần")
    assert "by=band" in page.url and not ui.url_shows("Trần")
    if ui.js:
        assert page.evaluate("() => !!document.querySelector('#report-panel')")
    ui.check()

    # drill down to the station by its link (back to the breakdown by facility first)
    page.select_option("select[name=by]", "facility")
    ui.apply_filter(f"/reports/f/{district['d1'].id}")
    with page.expect_navigation():
        coverage.get_by_role("link", name=district["s1"].name).click()
    expect(page.locator("nav.breadcrumbs")).to_contain_text(district["d1"].name)
    expect(coverage.locator("tr[data-key=total]")).to_contain_text("1 (2,5%)")
    ui.check()

    with page.expect_navigation():
        name = f"Danh sách đến hạn, quá hạn của {district['s1'].name}"
        page.get_by_role("link", name=name).click()
    table = page.locator("#due-table")
    expect(table).to_contain_text("Trần Văn Hẹn")
    expect(table).to_contain_text("*" * (len(PHONE) - 3) + PHONE[-3:])
    expect(table).not_to_contain_text(PHONE)
    ui.check("reports-due")
