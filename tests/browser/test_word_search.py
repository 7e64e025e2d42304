"""Browser journey of search by any part of a name (issue 14): a nurse types a part of a
name, diacritics or not, and finds the person; an ID registered at another facility is not
shown, and the cross-facility look-up is offered with the ID filled in. JavaScript on and
off, through the ``ui`` fixture."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import PASSWORD, add_person, enter_navigates


def search_for(ui, text: str) -> None:
    """Type in the search box: as-you-type with JavaScript, Enter without."""
    page = ui.page
    page.focus("input[name=q]")
    page.keyboard.press("Control+a")
    if ui.js:
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.url.endswith("/recipients/")):
            page.keyboard.type(text)
        ui.settle()
    else:
        page.keyboard.type(text)
        enter_navigates(ui)


def test_p1_a_part_of_a_name_finds_the_person_and_an_id_elsewhere_offers_the_lookup(
        ui, station, nurse_account, factory):
    add_person(station, "Nguyễn Thị Hồng Đào", "089190555666", gender="female")
    add_person(station, "Trần Văn Bảo", "089080111222")
    other = factory.facility("S9", "commune_station", name="Trạm Y tế Bình Đức")
    add_person(other, "Lê Văn Xa", "089080777888")
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/")
    page = ui.page
    results = page.locator("#results")

    search_for(ui, "hong dao")
    expect(results).to_contain_text("Nguyễn Thị Hồng Đào")
    expect(results).not_to_contain_text("Trần Văn Bảo")
    assert not ui.url_shows("dao")

    search_for(ui, "089080777888")
    expect(results).to_contain_text("không có trong phạm vi")
    expect(results).not_to_contain_text("Lê Văn Xa")
    assert not ui.url_shows("089080777888")
    offer = results.locator("form[action='/recipients/lookup']")
    expect(offer.locator("input[name=id_number]")).to_have_value("089080777888")
    ui.check()
    offer.locator("textarea[name=reason]").fill("Người dân chuyển đến tiêm mũi 2")
    with page.expect_navigation():
        offer.locator("button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Lê Văn Xa")
    assert not ui.url_shows("089080777888")
