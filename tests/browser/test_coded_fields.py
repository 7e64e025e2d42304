"""Browser journeys of the coded fields (issue 14): a nurse registers a person choosing
ethnicity, province and commune from plain selects, with JavaScript (the commune list is
swapped when the province changes) and without (a button re-renders the form); a supervisor
reads the codes in the audit trail as their labels."""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import request
from playwright.sync_api import expect

from tests.helpers import PASSWORD, add_person
from vaxportal.extensions import db
from vaxportal.recipients import codes
from vaxportal.recipients.models import Recipient


def test_register_with_coded_pickers_typed_without_diacritics(ui, nurse_account):
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/new")
    page = ui.page
    page.fill("input[name=full_name]", "Lê Văn Tư")
    page.fill("input[name=date_of_birth]", "02/03/1975")
    page.select_option("select[name=gender]", "male")
    # a select's own type-ahead, letters without diacritics: "dak" finds Đắk Lắk; then
    # another province straight away, while the earlier fields' checks may still be queued:
    # an answer fills only its field's message, never the select being typed in, so no
    # letter and no queued check is lost
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


def test_a_stale_field_check_never_puts_an_older_choice_back(ui, nurse_account, app, monkeypatch):
    """The class of the province race: a field changed again while its first check is on
    the way (a select's type-ahead on a slow line) keeps the newer value; the older answer is
    dropped and the newer one brings the newer commune list."""
    view = app.view_functions["recipients.validate_field"]

    def slow_for_the_first_choice(name):
        if name == "province" and request.form.get("province") == "66":
            time.sleep(1.5)  # the first answer arrives after the second choice was made
        return view(name)

    monkeypatch.setitem(app.view_functions, "recipients.validate_field",
                        slow_for_the_first_choice)
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/new")
    page = ui.page
    page.select_option("select[name=province]", "66")
    if ui.js:  # the first check is in flight: change the choice again
        page.wait_for_selector("select[name=province].htmx-request", state="attached")
        page.select_option("select[name=province]", "91")
        page.wait_for_selector("select[name=ward] option[value='30307']", state="attached")
        ui.settle()
        page.wait_for_timeout(1000)  # long enough for any late answer to land
    else:
        page.select_option("select[name=province]", "91")
        ui.submit("button[name=pick_province]")
    assert page.eval_on_selector("select[name=province]", "e => e.value") == "91"
    assert page.locator("select[name=ward] option[value='30307']").count() == 1


def test_the_audit_trail_reads_coded_fields_as_their_labels(ui, station, factory):
    """Issue 14: the district supervisor filters the trail to changed recipients and opens
    the change: the codes read as the register's labels, the code beside each."""
    person = add_person(station, "Lê Văn Tư", "089075000123")
    person.ethnicity, person.priority_group, person.province, person.ward = (
        "02", "N03", "91", "30307")
    db.session.commit()
    supervisor = factory.account("supervisor", facility=station.parent,
                                 full_name="Phan Văn Giám")
    ui.sign_in(supervisor.username, PASSWORD)
    ui.goto("/audit/")
    page = ui.page
    page.select_option("select[name=entity]", "recipient")
    page.select_option("select[name=action]", "update")
    ui.apply_filter("/audit/?", form="main form[role=search]")  # rows swapped in place
    rows = page.locator("#audit-rows tbody tr")
    expect(rows).to_have_count(1)
    ui.check()
    with page.expect_navigation():
        rows.first.locator("a").click()
    changes = page.locator("main table")
    expect(changes).to_contain_text("Tày (02)")
    expect(changes).to_contain_text(f"{codes.label('priority_group', 'N03')} (N03)")
    expect(changes).to_contain_text("An Giang (91)")
    expect(changes).to_contain_text("Phường Long Xuyên (30307)")
    ui.check()


def test_on_a_slow_line_the_last_province_chosen_wins(ui, nurse_account):
    """A nurse changes the province again before the first commune list has arrived (a slow
    line, or letters typed to find it): the province shown and its communes are the last
    choice, never the first one's answer over it."""
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/new")
    page = ui.page
    if ui.js:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 800, "downloadThroughput": -1, "uploadThroughput": -1})
    page.focus("select[name=province]")
    page.keyboard.type("dak")  # the select's own type-ahead: Đắk Lắk
    page.select_option("select[name=province]", "91")
    if ui.js:
        ui.settle()
    else:
        ui.submit("button[name=pick_province]")
    page.wait_for_selector("select[name=ward] option[value='30307']", state="attached")
    assert page.eval_on_selector("select[name=province]", "e => e.value") == "91"
