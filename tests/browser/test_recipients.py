"""Browser journeys of the register (issue 5): a nurse finds a person and records doses with
the keyboard alone, and corrects a person's identity through the step-up OTP (P3.4).

Each journey runs with JavaScript on (htmx fragments; the page must not reload where htmx
answers) and off (plain forms and full pages), through the ``ui`` fixture.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import joinedload

from tests.helpers import PASSWORD, add_person, enter_navigates
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import UserSession
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.timeutil import utcnow

MARKER = "vx-journey"  # set on window: survives htmx swaps, not a page load


# -- the keyboard ----------------------------------------------------------------------------

FOCUSED = """() => { const e = document.activeElement;
  return e ? {tag: e.tagName.toLowerCase(), name: e.getAttribute('name') || '',
              text: (e.innerText || e.value || '').trim()} : {}; }"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def focus_on(page, label: str) -> None:
    """The field labelled ``label`` has the focus (autofocus runs after the page is shown:
    wait). Found by its label, as a screen reader announces it."""
    expect(page.get_by_label(label, exact=True)).to_be_focused()


def tab_to(page, *, name: str | None = None, text: str | None = None, tag: str | None = None,
           limit: int = 60) -> None:
    """Press Tab until the focus is on the element described (by name, text and tag)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if ((name is None or now.get("name") == name)
                and (text is None or now.get("text") == text)
                and (tag is None or now.get("tag") == tag)):
            return
    raise AssertionError(f"Tab never reached name={name!r} text={text!r} tag={tag!r}")


def retype(page, value: str) -> None:
    """Replace the focused field's content by typing."""
    page.keyboard.press("Control+a")
    page.keyboard.type(value)


def enter_swaps(ui, method: str, path_part: str):
    """Enter on the focused element; htmx asks for a fragment and swaps it in."""
    with ui.page.expect_response(
        lambda r: r.request.method == method and path_part in r.url
    ) as info:
        ui.page.keyboard.press("Enter")
    ui.settle()
    response = info.value
    assert response.request.headers.get("hx-request") == "true", response.url
    return response


def set_marker(ui) -> None:
    ui.page.evaluate(f"() => {{ window['{MARKER}'] = 1; }}")


def marker_kept(ui) -> bool:
    return ui.page.evaluate(f"() => window['{MARKER}'] === 1")


# -- 1. find a person and record doses, keyboard only ----------------------------------------


def test_search_and_record_doses_with_the_keyboard_only(ui, station, nurse_account):
    person_id = add_person(station, "Trần Văn Bảo", "089080111222").id
    add_person(station, "Lê Thị Cúc", "089180333444", gender="female")
    ui.sign_in(nurse_account.username, PASSWORD)
    page = ui.page

    # The register: the search box has the focus; "tran van bao" finds "Trần Văn Bảo".
    ui.goto("/recipients/")
    focus_on(page, "Tìm đối tượng")
    if ui.js:
        set_marker(ui)
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.url.endswith("/recipients/")) as search:
            page.keyboard.type("tran van bao")  # search as you type: no Enter
        assert search.value.request.headers.get("hx-request") == "true"
        ui.settle()
        assert marker_kept(ui), "the search reloaded the page instead of swapping results"
        assert focused(page)["name"] == "q"  # typing goes on where it was
    else:
        page.keyboard.type("tran van bao")
        enter_navigates(ui)
    results = page.locator("#results")
    expect(results).to_contain_text("1 đối tượng")
    expect(results).to_contain_text("Trần Văn Bảo")
    expect(results).not_to_contain_text("Lê Thị Cúc")
    assert "/recipients/?s=" in page.url  # the search id, never the term
    assert not ui.url_shows("tran")
    ui.check(screenshot="recipient-search")

    # "Ghi mũi tiêm" on the result's row: the short dose form, focus on the vaccine.
    tab_to(page, text="Ghi mũi tiêm", tag="a")
    if ui.js:
        enter_swaps(ui, "GET", f"/recipients/{person_id}/doses/new")
        assert marker_kept(ui)
        expect(page.locator("#dose-slot #dose-form")).to_be_visible()
    else:
        enter_navigates(ui)
        assert f"/recipients/{person_id}/doses/new" in page.url
    focus_on(page, "Vắc xin")
    assert page.input_value("input[name=dose_number]") == "1"  # suggested
    ui.check(screenshot="dose-entry")

    fill_dose(page, vaccine="Comirnaty", given_on="15/07/2021", lot="FK1234",
              vaccinator="Lê Thị Tiêm")
    if ui.js:  # saved in place; the register stays on screen
        enter_swaps(ui, "POST", f"/recipients/{person_id}/doses")
        assert marker_kept(ui)
        expect(page.locator("#dose-slot")).to_contain_text("Đã ghi nhận mũi 1.")
    else:  # back to the same search's results, the saved dose above them as with htmx
        enter_navigates(ui)
        assert "/recipients/?s=" in page.url
        expect(page.locator("#dose-slot")).to_contain_text("Đã ghi nhận mũi 1.")
        expect(page.locator("#dose-slot")).to_contain_text("Mũi 1: Trần Văn Bảo.")
        expect(page.locator("#results")).to_contain_text("Trần Văn Bảo")
    ui.check()

    # Open the person from the results: the dose is in the history.
    tab_to(page, text="Trần Văn Bảo", tag="a")
    enter_navigates(ui)
    assert page.url.endswith(f"/recipients/{person_id}")
    history = page.locator("main table").first
    expect(history).to_contain_text("Comirnaty (Pfizer-BioNTech)")
    expect(history).to_contain_text("15/07/2021")
    expect(history).to_contain_text("FK1234")
    ui.check(screenshot="recipient")

    # The second dose from the person's page: number, lot and vaccinator are remembered,
    # the focus waits on the lot number; only the date is typed.
    focus_on(page, "Số lô")
    assert page.input_value("input[name=dose_number]") == "2"
    assert page.input_value("input[name=lot_number]") == "FK1234"
    assert page.input_value("input[name=vaccinator]") == "Lê Thị Tiêm"
    page.keyboard.press("Shift+Tab")
    assert focused(page)["name"] == "given_on"
    retype(page, "05/08/2021")
    if ui.js:
        with page.expect_request(lambda r: r.method == "POST") as posted:
            enter_navigates(ui)  # htmx posts; the answer sends the browser to the page
        assert posted.value.headers.get("hx-request") == "true"
    else:
        enter_navigates(ui)
    assert page.url.endswith(f"/recipients/{person_id}")
    expect(page.locator("#flashes")).to_contain_text("Đã ghi nhận mũi 2.")
    rows = page.locator("main table").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("05/08/2021")
    ui.check()

    db.session.remove()
    doses = db.session.scalars(sa.select(Dose).where(Dose.recipient_id == person_id)
                               .options(joinedload(Dose.vaccine))
                               .order_by(Dose.dose_number)).all()
    assert [(d.dose_number, d.given_on, d.lot_number, d.vaccinator, d.vaccine.code)
            for d in doses] == [(1, date(2021, 7, 15), "FK1234", "Lê Thị Tiêm", "PFIZER"),
                                (2, date(2021, 8, 5), "FK1234", "Lê Thị Tiêm", "PFIZER")]


def fill_dose(page, *, vaccine: str, given_on: str, lot: str, vaccinator: str) -> None:
    """From the vaccine drop-down: type to choose, Tab from field to field."""
    assert focused(page)["name"] == "vaccine_id"
    page.keyboard.type(vaccine)
    assert page.evaluate(
        "() => { const s = document.activeElement; return s.options[s.selectedIndex].text; }"
    ).startswith(vaccine)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "dose_number"
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "given_on"
    retype(page, given_on)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "lot_number"
    retype(page, lot)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "lot_expires_on"  # typed only for a lot new here
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "vaccinator"
    retype(page, vaccinator)


# -- 2. an identity change through the step-up OTP (P3.4) ----------------------------------


def login_no_longer_fresh(account_id: int) -> None:
    """The sign-in's OTP was more than the step-up window ago."""
    db.session.remove()
    row = db.session.scalar(sa.select(UserSession).where(UserSession.account_id == account_id)
                            .order_by(UserSession.id.desc()))
    row.step_up_at = utcnow() - timedelta(minutes=10)
    db.session.commit()


def hidden_value(page, name: str) -> str:
    return page.locator(f"main form input[type=hidden][name={name}]").first.input_value()


def test_p3_4_identity_edit_through_the_step_up_keeps_what_was_typed(ui, station, nurse_account):
    person_id = add_person(station, "Trần Văn Bảo", "089080111222").id
    nurse_id = nurse_account.id
    ui.sign_in(nurse_account.username, PASSWORD)
    login_no_longer_fresh(nurse_id)
    page = ui.page

    ui.goto(f"/recipients/{person_id}")
    ui.check()
    with page.expect_navigation():
        page.get_by_role("link", name="Sửa thông tin định danh (cần mã OTP)").click()
    assert page.url.endswith(f"/recipients/{person_id}/identity")
    ui.check(screenshot="identity-edit")

    # New name and date of birth, and an ID number with a digit missing.
    page.fill("input[name=full_name]", "Trần Văn Bảo Long")
    page.fill("input[name=date_of_birth]", "06/09/1981")
    page.fill("input[name=national_id]", "08908111122")
    before = len(ui.outbox())
    ui.submit()

    # The OTP prompt, carrying what was typed; an SMS of kind step_up went out.
    expect(page.locator("main")).to_contain_text("Xác thực lại bằng mã OTP")
    assert hidden_value(page, "full_name") == "Trần Văn Bảo Long"
    assert hidden_value(page, "date_of_birth") == "06/09/1981"
    assert hidden_value(page, "national_id") == "08908111122"
    code = ui.code_since(before, kinds=("step_up",))
    ui.check(screenshot="identity-step-up")

    # A wrong code: refused, and the typed values are still carried.
    page.fill("input[name=stepup_code]", wrong(code))
    ui.submit()
    expect(page.locator("main")).to_contain_text("Mã không đúng")
    assert hidden_value(page, "full_name") == "Trần Văn Bảo Long"
    ui.check()

    # The right code: the form comes back with what was typed and the ID number's error.
    page.fill("input[name=stepup_code]", code)
    ui.submit()
    assert page.input_value("input[name=full_name]") == "Trần Văn Bảo Long"
    assert page.input_value("input[name=date_of_birth]") == "06/09/1981"
    assert page.input_value("input[name=national_id]") == "08908111122"
    expect(page.locator("#national_id-error")).to_contain_text("12 chữ số")
    focus_on(page, "Số CCCD/CMND")
    ui.check(screenshot="identity-kept")

    # Corrected and saved, without a second code (the session is fresh now).
    page.fill("input[name=national_id]", "089081111222")
    ui.submit()
    assert page.url.endswith(f"/recipients/{person_id}"), page.url
    expect(page.locator("#flashes")).to_contain_text("Đã lưu thay đổi.")
    identity = page.locator("main .card").first
    expect(identity).to_contain_text("Trần Văn Bảo Long")
    expect(identity).to_contain_text("06/09/1981")
    expect(identity).to_contain_text("089081111222")
    ui.check(screenshot="identity-saved")
    sms = [m for m in ui.outbox()[before:] if m["kind"] == "step_up"]
    assert len(sms) == 1

    db.session.remove()
    saved = db.session.get(Recipient, person_id)
    assert (saved.full_name, saved.date_of_birth, saved.national_id) == (
        "Trần Văn Bảo Long", date(1981, 9, 6), "089081111222")
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    change = [e for e in events if e.entity == "recipient" and e.action == "update"
              and e.entity_id == str(person_id)]
    assert len(change) == 1 and change[0].account_id == nurse_id
    assert change[0].changes["full_name"] == {"old": "Trần Văn Bảo", "new": "Trần Văn Bảo Long"}
    assert {"date_of_birth", "national_id"} <= set(change[0].changes)
    step_ups = [e.action for e in events if e.action.startswith("step_up")]
    assert step_ups == ["step_up_failed", "step_up_ok"]


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)
