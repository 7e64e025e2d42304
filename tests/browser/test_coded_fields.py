"""Browser journey of the coded fields (issue 14): a nurse registers a person choosing
ethnicity, province and commune from plain selects, with JavaScript (the commune list is
swapped when the province changes) and without (a button re-renders the form)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.browser.test_recipients import nurse, station  # noqa: F401  (fixtures)
from tests.helpers import PASSWORD
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient


def test_register_with_coded_pickers_typed_without_diacritics(ui, nurse):  # noqa: F811
    ui.sign_in(nurse.username, PASSWORD)
    ui.goto("/recipients/new")
    page = ui.page
    page.fill("input[name=full_name]", "Lê Văn Tư")
    page.fill("input[name=date_of_birth]", "02/03/1975")
    page.select_option("select[name=gender]", "male")
    # a select's own type-ahead, letters without diacritics: "dak" finds Đắk Lắk
    page.focus("select[name=province]")
    page.keyboard.type("dak")
    assert page.eval_on_selector("select[name=province]", "e => e.value") == "66"
    page.select_option("select[name=province]", "91")
    if ui.js:
        ui.settle()
        page.wait_for_selector("select[name=ward] option[value='30307']", state="attached")
    else:
        ui.submit("button[name=pick_province]")
        assert page.input_value("input[name=full_name]") == "Lê Văn Tư"  # kept
    assert page.locator("select[name=ward] option[value='00070']").count() == 0
    page.select_option("select[name=ward]", "30307")
    page.focus("select[name=ethnicity]")
    page.keyboard.type("tay")
    assert page.eval_on_selector("select[name=ethnicity]", "e => e.value") == "02"
    ui.check("register-coded")
    ui.submit("main form button[type=submit]:not([name])")
    recipient = db.session.scalar(sa.select(Recipient).where(Recipient.name_key == "le van tu"))
    assert recipient is not None, ui.text()
    ui.arrive(f"/recipients/{recipient.id}")
    assert (recipient.province, recipient.ward, recipient.ethnicity) == ("91", "30307", "02")
    assert "Phường Long Xuyên" in ui.text() and "Tày" in ui.text()
