"""The register's duplicate check outside the account's scope, in a browser (P1, issue 11):
the field check (JavaScript on) or the submitted form (off) names only the facility and
offers the cross-facility look-up beside the form; the ID travels by POST and the look-up
asks for its reason."""

from __future__ import annotations

from datetime import date

from tests.helpers import PASSWORD, add_person

FAR_ID = "089075300301"


def test_p1_register_offers_the_look_up_beside_the_form(ui, factory, station, nurse_account):
    far = factory.facility("X9", "commune_station", name="Trạm Y tế Xa")
    add_person(far, "Trần Văn Xa", FAR_ID, born=date(1975, 3, 4))
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/new")
    ui.page.fill("input[name=full_name]", "Ai Đó")
    ui.page.fill("input[name=national_id]", FAR_ID)
    if ui.js:  # the field is checked as it is left; the offer arrives out of band
        # left as a person leaves it (a change event dispatched by hand would leave the
        # field's own change pending, and checking it again on the way to the reason would
        # send the offer again over the reason being typed)
        ui.page.keyboard.press("Tab")
        ui.page.wait_for_selector("#lookup-offer form")
    else:
        ui.page.fill("input[name=date_of_birth]", "01/01/1990")
        ui.page.select_option("select[name=gender]", "female")
        ui.submit("#recipient-form form button[type=submit]")
    text = ui.text()
    assert "Trạm Y tế Xa" in text
    assert "Trần Văn Xa" not in text and "04/03/1975" not in text
    ui.check()
    ui.page.fill("#lookup-offer textarea[name=reason]", "Tiêm mũi nhắc tại trạm")
    with ui.page.expect_response(lambda r: r.request.method == "POST"):
        ui.page.locator("#lookup-offer button[type=submit]").click()
    ui.page.wait_for_load_state("load")
    assert ui.page.url.endswith("/recipients/lookup") and not ui.url_shows(FAR_ID)
    assert "Trần Văn Xa" in ui.text()
