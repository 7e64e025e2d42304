"""The register's check-as-you-leave, in a browser, on a slow line: a field's check answers
into the field's message (and, out of band, what follows the value: the province's commune
list), never over the input or select the user is working in. A field edited again while its
first check is still on its way keeps the newer value and stays the same element; so does
the province chosen twice while an earlier field's check holds the form's queue.

Only with JavaScript: without it nothing is checked as it is left (the whole form is checked
when sent, tests/browser/test_coded_fields.py and tests/recipients/test_register.py)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import request

from tests.helpers import PASSWORD
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient

#: the same element still in the page: an expando set on it before, read after
MARK = "(e) => { e.vxMark = 'before'; }"
MARKED = "(e) => e.vxMark === 'before'"


def _slow_checks(app, monkeypatch, slow) -> None:
    """The field check answers after 1.5 s for the values ``slow(name, form)`` picks."""
    view = app.view_functions["recipients.validate_field"]

    def delayed(name):
        if slow(name, request.form):
            time.sleep(1.5)
        return view(name)

    monkeypatch.setitem(app.view_functions, "recipients.validate_field", delayed)


def _field_state(page, selector: str) -> dict:
    return page.eval_on_selector(selector, """(e) => ({
        value: e.value, same: e.vxMark === 'before', focused: document.activeElement === e,
        invalid: e.getAttribute('aria-invalid'),
        hasError: e.closest('.field').classList.contains('has-error'),
        message: (document.getElementById(e.id + '-msg') || {textContent: ''})
                 .textContent.trim()})""")


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_a_text_field_typed_in_again_while_its_check_is_delayed_stays_as_typed(
        ui, nurse_account, app, monkeypatch, js):
    _slow_checks(app, monkeypatch, lambda name, form: form.get("phone") == "0123")
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/new")
    page = ui.page
    phone = "input[name=phone]"
    page.eval_on_selector(phone, MARK)
    page.fill(phone, "0123")  # not a phone number: its check says so, late
    page.keyboard.press("Tab")
    page.wait_for_selector(f"{phone}.htmx-request", state="attached")
    # back into the field before the answer: the nurse corrects the number and stays there
    page.focus(phone)
    page.keyboard.press("Control+A")
    page.keyboard.type("0912 345 67")
    ui.settle()  # the late answer to "0123" has come meanwhile
    page.keyboard.type("8")
    state = _field_state(page, phone)
    assert state == {"value": "0912 345 678", "same": True, "focused": True, "invalid": None,
                     "hasError": False, "message": ""}, state
    # leaving it checks the newer value; the answer is the message, the input stays
    page.keyboard.press("Tab")
    ui.settle()
    state = _field_state(page, phone)
    assert state["value"] == "0912 345 678" and state["same"] and not state["hasError"], state
    # a wrong number again: the message, the field's error look and aria-invalid follow it
    page.fill(phone, "0123")
    page.keyboard.press("Tab")
    page.wait_for_selector("#phone-msg .field-error")
    ui.settle()
    state = _field_state(page, phone)
    assert state["same"] and state["hasError"] and state["invalid"] == "true", state
    assert "Số điện thoại không hợp lệ" in state["message"]
    ui.check()


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_a_province_chosen_twice_behind_a_slow_check_keeps_the_select_and_its_communes(
        ui, nurse_account, app, monkeypatch, js):
    """Issue of the coded pickers' flaky journey: the province's checks wait in the form's
    queue behind an earlier field's slow check; the later choice's commune list still comes,
    the select is never replaced, and Enter then saves the form (the province the communes
    were listed for comes with them)."""
    _slow_checks(app, monkeypatch, lambda name, form: name == "full_name")
    ui.sign_in(nurse_account.username, PASSWORD)
    ui.goto("/recipients/new")
    page = ui.page
    province = "select[name=province]"
    page.eval_on_selector(province, MARK)
    page.fill("input[name=full_name]", "Lê Văn Tư")
    page.keyboard.press("Tab")
    page.wait_for_selector("input[name=full_name].htmx-request", state="attached")
    page.select_option(province, "66")  # queued behind the name's check
    page.select_option(province, "91")  # queued behind that
    page.wait_for_selector("select[name=ward] option[value='30307']", state="attached")
    ui.settle()
    page.wait_for_timeout(500)  # long enough for any late answer to land
    assert page.eval_on_selector(province, "e => e.value") == "91"
    assert page.eval_on_selector(province, MARKED), "the province select was replaced"
    assert page.input_value("input[name=province_shown]") == "91"
    assert page.input_value("input[name=full_name]") == "Lê Văn Tư"
    page.fill("input[name=date_of_birth]", "02/03/1975")
    page.select_option("select[name=gender]", "male")
    page.select_option("select[name=ward]", "30307")
    page.focus("input[name=street]")
    ui.check()
    # the form's first button is the province's: it saves, as the communes shown are its
    ui.press("Enter")
    recipient = db.session.scalar(sa.select(Recipient).where(Recipient.name_key == "le van tu"))
    assert recipient is not None, ui.text()
    ui.arrive(f"/recipients/{recipient.id}")
    assert (recipient.province, recipient.ward) == ("91", "30307")
