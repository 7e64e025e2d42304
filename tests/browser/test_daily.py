"""Browser journeys of the daily report (issue 15): a station's data-entry account opens its
day from the navigation and confirms it in one click; the district supervisor sees which
stations have not confirmed, picks another day with the form (htmx swaps the panel with
JavaScript, a plain GET without) and drills down to a station. JavaScript on and off, axe on
every page through the ``ui`` fixture."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.helpers import PASSWORD
from tests.reports.support import add_dose, add_person
from vaxportal.extensions import db
from vaxportal.validators import local_today


@pytest.fixture
def district(factory):
    """Today: two doses at S1, one at S1B; yesterday: one at S1B."""
    place = factory.place()
    today = local_today()
    first, second = add_person(place["s1"]), add_person(place["s1"], name="Lê Thị Hai")
    other = add_person(place["s1b"], name="Phạm Văn Ba")
    db.session.flush()
    add_dose(first, "AZ", 1, today)
    add_dose(second, "PFIZER", 1, today)
    add_dose(other, "AZ", 1, today - timedelta(days=1))
    db.session.commit()
    return place


def test_station_confirms_its_day_in_one_click(ui, district, factory):
    nurse = factory.account("data_entry", facility=district["s1"])
    ui.sign_in(nurse.username, PASSWORD)
    page = ui.page
    with page.expect_navigation():
        page.locator("nav.main a", has_text="Số liệu ngày").click()
    expect(page.locator("h1")).to_have_text("Báo cáo ngày")
    own = page.locator("#daily-own")
    expect(own.locator("tr[data-key=own-total]")).to_contain_text("2")
    expect(own.locator(".badge")).to_have_text("Chưa xác nhận")
    ui.check("reports-daily-station")

    ui.submit("#daily-own form button[type=submit]")
    ui.arrive(f"/reports/f/{district['s1'].id}/daily")
    expect(own.locator(".badge")).to_have_text("Đã xác nhận")
    expect(own.locator("form")).to_have_count(0)
    ui.check()


def test_supervisor_sees_who_has_not_confirmed_and_drills_down(ui, district, factory):
    supervisor = factory.account("supervisor", facility=district["d1"])
    ui.sign_in(supervisor.username, PASSWORD)
    page = ui.page
    ui.goto("/reports/daily")
    listing = page.locator("#daily-subtree")
    expect(listing.locator("tr[data-key=all-total]")).to_contain_text("2")
    expect(page.locator("#daily-waiting")).to_contain_text("2 trên 2")
    ui.check("reports-daily-district")

    # yesterday, through the form
    yesterday = (local_today() - timedelta(days=1)).strftime("%d/%m/%Y")
    page.fill("input[name=day]", yesterday)
    ui.apply_filter("/daily")
    expect(page.locator(f"tr[data-key=f{district['s1b'].id}]")).to_contain_text("1")
    expect(listing.locator("tr[data-key=all-total]")).to_contain_text("1")
    assert "day=" in page.url
    ui.check()

    with page.expect_navigation():
        listing.get_by_role("link", name=district["s1b"].name).click()
    expect(page.locator("nav.breadcrumbs")).to_contain_text(district["d1"].name)
    expect(page.locator("#daily-own .badge")).to_have_text("Chưa xác nhận")
    expect(page.locator("#daily-own form")).to_have_count(0)  # not its own to confirm
    ui.check()
