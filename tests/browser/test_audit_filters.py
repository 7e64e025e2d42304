"""Browser journey of the audit filters (issue 15), JavaScript on and off: a district
supervisor reads the trail with view events hidden, shows them with the box, then narrows it
to one person by national ID, typed in a POSTed form: the address bar never holds the
number; axe on each page."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import PASSWORD, add_person


def test_a_supervisor_filters_the_trail_by_views_and_by_person(ui, station, factory):
    mine = add_person(station, "Lê Văn Tư", "089075000123")
    add_person(station, "Phạm Thị Khác", "089175000456")
    supervisor = factory.account("supervisor", facility=station.parent,
                                 full_name="Phan Văn Giám")
    ui.sign_in(supervisor.username, PASSWORD)
    ui.goto(f"/recipients/{mine.id}")  # an identity view: an access event
    ui.goto("/audit/")
    page = ui.page
    rows = page.locator("#audit-rows")
    expect(rows).to_contain_text("Thêm")
    expect(rows).not_to_contain_text("Xem hồ sơ đối tượng tiêm")
    ui.check()
    page.check("input[name=views]")
    ui.apply_filter("/audit/?", form="main form[role=search]")  # rows swapped in place
    expect(rows).to_contain_text("Xem hồ sơ đối tượng tiêm")
    page.fill("input[name=national_id]", "089075000123")
    with page.expect_navigation():
        page.locator("form[action='/audit/person'] button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "who=" in page.url and "views=y" in page.url
    assert not ui.url_shows("089075000123")
    expect(page.locator("main")).to_contain_text(f"#{mine.id}")
    body = rows.locator("tbody tr")
    expect(body).to_have_count(2)  # the insert and the view, not the other person's
    ui.check()
