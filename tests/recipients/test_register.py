"""Registering a recipient: checked as typed and on submit, duplicates caught at entry."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from tests.helpers import PERSON_FORM, assert_no_personal_data_in_urls, html
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate, Recipient
from vaxportal.recipients.services import (
    RECIPIENT_FIELDS,
    create_recipient,
    find_by_id_number,
    find_by_national_id,
    find_possible_duplicates,
    validate_recipient_data,
)


def count_recipients() -> int:
    return db.session.scalar(sa.select(sa.func.count(Recipient.id)))


def test_form_page_renders_fields_with_check_as_you_leave(nurse):
    """Each field is checked as it is left; its answer goes into the field's message slot,
    which is always in the page and describes the input."""
    body = html(nurse.get("/recipients/new"))
    assert 'hx-post="/recipients/new/validate/full_name"' in body
    assert 'hx-trigger="change"' in body
    assert 'hx-swap="innerHTML"' in body and 'hx-target="#national_id-msg"' in body
    assert '<div class="field-message" id="national_id-msg" aria-live="polite"></div>' in body
    assert 'aria-describedby="national_id-msg national_id-hint"' in body
    assert 'placeholder="dd/mm/yyyy"' in body
    assert "autofocus" in body


def test_plain_post_registers_and_redirects_to_the_page(nurse, place):
    response = nurse.post("/recipients/new", data=PERSON_FORM)
    assert response.status_code == 303
    recipient = db.session.scalar(sa.select(Recipient))
    assert response.headers["Location"].endswith(f"/recipients/{recipient.id}")
    assert recipient.name_key == "le thi hong"
    assert recipient.date_of_birth == date(1980, 9, 5)
    assert recipient.phone == "+84912345678"
    assert recipient.insurance_number == "GD4890123456789"
    assert recipient.facility_id == place["s1"].id
    assert recipient.district is None
    assert "Lê Thị Hồng" in html(nurse.get(response.headers["Location"]))


def test_htmx_post_registers_with_hx_redirect(nurse):
    response = nurse.hx("POST", "/recipients/new", data=PERSON_FORM)
    assert response.status_code == 204
    recipient = db.session.scalar(sa.select(Recipient))
    assert response.headers["HX-Redirect"].endswith(f"/recipients/{recipient.id}")


@pytest.mark.parametrize("hx", [False, True])
def test_errors_in_vietnamese_beside_fields_nothing_typed_lost(nurse, hx):
    bad = dict(PERSON_FORM, date_of_birth="31/02/1980", national_id="12345", phone="0123",
               insurance_number="XX9")
    response = (nurse.hx("POST", "/recipients/new", data=bad) if hx
                else nurse.post("/recipients/new", data=bad))
    body = html(response)
    assert response.status_code == 200
    assert ("<html" in body) is not hx
    assert "không có trên lịch" in body
    assert "Số CCCD gồm 12 chữ số" in body
    assert "Số điện thoại không hợp lệ" in body
    assert "Số thẻ BHYT gồm 15 ký tự" in body
    for typed in ("31/02/1980", "12345", "0123", "XX9", "Lê Thị Hồng", "12 Trần Hưng Đạo"):
        assert f'value="{typed}"' in body, typed
    assert count_recipients() == 0


def test_date_in_the_future_refused(nurse):
    body = html(nurse.post("/recipients/new", data=dict(PERSON_FORM, date_of_birth="01/01/2999")))
    assert "Ngày không được sau hôm nay" in body
    assert count_recipients() == 0


def test_validate_endpoint_returns_the_field_message_never_the_field(nurse):
    """The answer is the message for the field's slot: the input the user may be typing in
    again by then is never sent back to replace it."""
    response = nurse.hx("POST", "/recipients/new/validate/national_id",
                        data=dict(PERSON_FORM, national_id="999"))
    body = html(response)
    assert response.status_code == 200 and "<html" not in body
    assert body.strip().startswith(
        '<p class="field-error" id="national_id-error">Số CCCD gồm 12 chữ số')
    assert 'id="field-national_id"' not in body and "<input" not in body
    assert 'value="999"' not in body
    assert "Họ và tên" not in body  # nothing of the other fields
    ok = html(nurse.hx("POST", "/recipients/new/validate/national_id", data=PERSON_FORM))
    assert "field-error" not in ok and "<input" not in ok
    for name in ("full_name", "date_of_birth", "gender", "phone", "ward", "street"):
        answer = html(nurse.hx("POST", f"/recipients/new/validate/{name}",
                               data=dict(PERSON_FORM, full_name="", date_of_birth="x",
                                         phone="0123")))
        assert f'name="{name}"' not in answer, name
    assert nurse.hx("POST", "/recipients/new/validate/nope", data=PERSON_FORM).status_code == 404


def test_a_province_check_brings_the_ward_field_out_of_band_never_the_province(nurse):
    """The province's answer replaces the ward field (new communes, and the province they
    are listed for, so that Enter still saves the form), never the province's select."""
    body = html(nurse.hx("POST", "/recipients/new/validate/province",
                         data=dict(PERSON_FORM, province="01")))
    assert body.split('<div class="vfield" id="v-ward" hx-swap-oob="true">')[0].strip() == ""
    assert 'name="province"' not in body and 'name="pick_province"' not in body
    assert 'name="province_shown" value="01"' in body
    assert 'hx-target="#ward-msg"' in body


def test_the_national_id_check_brings_the_existing_record_out_of_band(nurse, person):
    existing = person(full_name="Võ Văn Cũ", national_id="089180123456")
    body = html(nurse.hx("POST", "/recipients/new/validate/national_id", data=PERSON_FORM))
    message, _sep, rest = body.partition('<div id="existing-record" hx-swap-oob="true">')
    assert "Số CCCD/CMND này đã được đăng ký" in message and "Võ Văn Cũ" not in message
    assert "Võ Văn Cũ" in rest and f'href="/recipients/{existing.id}"' in rest
    assert '<div id="lookup-offer" hx-swap-oob="true">' in rest
    # the full page (no JavaScript) shows the same record in the same slot
    page = html(nurse.post("/recipients/new", data=PERSON_FORM))
    slot = page.split('<div id="existing-record">')[1].split('<div class="vfield"')[0]
    assert "Võ Văn Cũ" in slot and f'href="/recipients/{existing.id}"' in slot


def test_duplicate_national_id_refused_points_to_the_record(nurse, person):
    existing = person(full_name="Võ Văn Cũ", national_id="089180123456")
    response = nurse.post("/recipients/new", data=PERSON_FORM)
    body = html(response)
    assert response.status_code == 200
    assert "Số CCCD/CMND này đã được đăng ký" in body
    assert f'href="/recipients/{existing.id}"' in body
    assert count_recipients() == 1


def test_duplicate_national_id_at_another_facility_minimal_fields_only(nurse, person):
    other = person("s2", full_name="Võ Văn Xa", national_id="089180123456",
                   phone="+84987654321", street="99 Đường Bí Mật")
    body = html(nurse.post("/recipients/new", data=PERSON_FORM))
    assert "Số CCCD/CMND này đã được đăng ký" in body
    assert "Trạm Y tế Vĩnh Mỹ" in body  # the facility only (P1): no name, no birth date
    assert "Võ Văn Xa" not in body and "05/09/1980" in body  # the date typed stays typed
    assert "+84987654321" not in body and "Bí Mật" not in body
    assert f"/recipients/{other.id}" not in body  # no link into another facility's record
    assert 'action="/recipients/lookup"' in body  # the look-up offered, the ID by POST
    assert count_recipients() == 1
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "view_minimal"))
    assert event.category == "access" and event.entity_id == str(other.id)


def test_duplicate_national_id_as_you_leave_the_field(nurse, person):
    existing = person(national_id="089180123456")
    body = html(nurse.hx("POST", "/recipients/new/validate/national_id", data=PERSON_FORM))
    assert "Số CCCD/CMND này đã được đăng ký" in body
    assert f'href="/recipients/{existing.id}"' in body


@pytest.mark.parametrize("hx", [False, True])
def test_same_name_dob_gender_warns_then_register_anyway_queues_the_pair(nurse, person, hx):
    existing = person("s2", full_name="LE THI HONG", gender="female",
                      date_of_birth=date(1980, 9, 5))
    post = (lambda data: nurse.hx("POST", "/recipients/new", data=data)) if hx else (
        lambda data: nurse.post("/recipients/new", data=data))
    warned = post(PERSON_FORM)
    body = html(warned)
    assert warned.status_code == 200
    assert "Có thể trùng" in body and "Trạm Y tế Vĩnh Mỹ" in body
    assert "LE THI HONG" not in body  # another facility's spelling is not echoed (P1)
    assert 'name="confirm_duplicate" value="1"' in body
    assert count_recipients() == 1
    done = post(dict(PERSON_FORM, confirm_duplicate="1"))
    assert done.status_code == (204 if hx else 303)
    assert count_recipients() == 2
    pair = db.session.scalar(sa.select(DuplicateCandidate)
                             .options(joinedload(DuplicateCandidate.recipient)))
    assert pair.other_id == existing.id and pair.status == "open"
    assert pair.recipient.full_name == "Lê Thị Hồng"


def test_no_personal_data_in_any_url_of_the_form(nurse, person):
    person(national_id="089180123456")
    response = nurse.post("/recipients/new", data=PERSON_FORM)
    assert_no_personal_data_in_urls(response, "Lê Thị Hồng", "089180123456", "912345678")


def test_reviewer_and_admin_may_not_register(signed_in, place):
    reviewer = signed_in("reviewer", facility=place["doh"])
    assert reviewer.get("/recipients/new").status_code == 403
    assert reviewer.post("/recipients/new", data=PERSON_FORM).status_code == 403
    admin = signed_in("admin", facility=place["doh"])
    assert admin.get("/recipients/").status_code == 403  # P2.1, P2.2
    assert count_recipients() == 0


def test_supervisor_chooses_a_facility_of_its_subtree(signed_in, place):
    supervisor = signed_in("supervisor", facility=place["d1"])
    body = html(supervisor.get("/recipients/new"))
    assert "Trạm Y tế Mỹ Long" in body and "Trạm Y tế Vĩnh Mỹ" not in body
    refused = supervisor.post("/recipients/new", data=dict(PERSON_FORM, facility_id=place["s2"].id))
    assert "Vui lòng chọn cơ sở quản lý" in html(refused)
    supervisor.post("/recipients/new", data=dict(PERSON_FORM, facility_id=place["s1b"].id))
    assert db.session.scalar(sa.select(Recipient.facility_id)) == place["s1b"].id


# -- the services contract (imports) -------------------------------------------------------


def test_validate_recipient_data_uses_the_form_rules(app):
    clean, errors = validate_recipient_data(
        dict(PERSON_FORM, date_of_birth=date(1980, 9, 5), gender="Nữ", national_id=89180123456.0)
    )
    assert errors == {"national_id": "Số CCCD gồm 12 chữ số, hoặc số CMND cũ gồm 9 chữ số."}
    assert clean["gender"] == "female" and clean["date_of_birth"] == date(1980, 9, 5)
    assert clean["phone"] == "+84912345678" and "national_id" not in clean
    clean, errors = validate_recipient_data({"full_name": " ", "date_of_birth": "1980-09-05"})
    assert set(errors) == {"full_name", "date_of_birth", "gender"}
    assert errors["full_name"] == "Vui lòng nhập họ và tên."
    assert [key for key, _label, _kind in RECIPIENT_FIELDS][:3] == [
        "full_name", "date_of_birth", "gender"]
    assert {k: kind for k, _l, kind in RECIPIENT_FIELDS}["date_of_birth"] == "date"


def test_services_find_and_create(place):
    clean, errors = validate_recipient_data(PERSON_FORM)
    assert not errors
    recipient = create_recipient(clean, place["s2"].id)
    assert recipient.id and recipient.name_key == "le thi hong"
    db.session.commit()
    assert find_by_national_id("089180123456") == recipient  # the stored form
    assert find_by_national_id("089180000000") is None and find_by_national_id(None) is None
    assert find_by_id_number("0891 8012 3456") == [recipient]  # as typed in a look-up
    assert find_by_id_number("000") == [] and find_by_id_number(None) == []
    assert find_possible_duplicates("LÊ THỊ HỒNG", date(1980, 9, 5), "female") == [recipient]
    # a spreadsheet's words are normalised once, by the form's rules, before the look-up
    typed, _errors = validate_recipient_data(
        dict(PERSON_FORM, full_name="Le Thi Hong", gender="Nữ"))
    assert find_possible_duplicates(typed["full_name"], typed["date_of_birth"],
                                    typed["gender"]) == [recipient]
    assert find_possible_duplicates("Le Thi Hong", date(1980, 9, 5), "female",
                                    exclude_id=recipient.id) == []
    assert find_possible_duplicates("Le Thi Hong", date(1980, 9, 5), "male") == []


# -- a check as you go never replaces the field it checks ---------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
_VERBS = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")


class _Element:
    def __init__(self, tag: str, attrs: dict, parent: _Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent

    def ancestors_and_self(self):
        node = self
        while node is not None:
            yield node
            node = node.parent

    def matches(self, selector: str) -> bool:
        """A simple selector: a tag, ``.class`` or ``#id``."""
        if selector.startswith("#"):
            return self.attrs.get("id") == selector[1:]
        if selector.startswith("."):
            return selector[1:] in (self.attrs.get("class") or "").split()
        return self.tag == selector


class _Page(HTMLParser):
    """The elements of a page or fragment, each knowing its parent (``html.parser``)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#document", {}, None)
        self.elements: list[_Element] = []
        self._open = self.root
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = _Element(tag, {k: v or "" for k, v in attrs}, self._open)
        self.elements.append(element)
        if tag not in _VOID:
            self._open = element

    def handle_startendtag(self, tag, attrs):
        self.elements.append(_Element(tag, {k: v or "" for k, v in attrs}, self._open))

    def handle_endtag(self, tag):
        for node in self._open.ancestors_and_self():
            if node.tag == tag:
                self._open = node.parent or self.root
                return

    def by_id(self, element_id: str) -> _Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)


def _inherited(element: _Element, name: str) -> tuple[str | None, _Element | None]:
    """htmx 1.9's value of ``name`` for ``element``: its own, or the nearest ancestor's that
    does not disinherit it; and the element holding it."""
    for node in element.ancestors_and_self():
        if name in node.attrs:
            disinherit = node.attrs.get("hx-disinherit", "").split()
            if node is not element and ("*" in disinherit or name in disinherit):
                return None, None
            return node.attrs[name], node
    return None, None


def _target(page: _Page, element: _Element) -> _Element | None:
    value, holder = _inherited(element, "hx-target")
    if value is None:
        return element  # htmx's default: the element itself
    value = value.strip()
    if value == "this":
        return holder
    if value.startswith("closest "):
        selector = value[len("closest "):].strip()
        return next((n for n in element.ancestors_and_self() if n.matches(selector)), None)
    if value.startswith("#") and " " not in value:
        return page.by_id(value[1:])
    raise AssertionError(f"the guard does not read hx-target={value!r} yet: teach it")


def replaces_itself(text: str) -> list[str]:
    """Every form control of ``text`` that sends a request of its own (checked as it is left,
    searched as typed) and whose answer would replace the control itself: its target is the
    control or contains it, swapped by outerHTML or innerHTML (htmx's default)."""
    page = _Page(text)
    found = []
    for element in page.elements:
        if element.tag not in ("input", "select", "textarea") or not any(
                verb in element.attrs for verb in _VERBS):
            continue
        swap = (_inherited(element, "hx-swap")[0] or "innerHTML").split()[0]
        target = _target(page, element)
        assert target is not None, f"{element.attrs.get('name')}: no target in the page"
        if swap in ("outerHTML", "innerHTML") and target in set(element.ancestors_and_self()):
            found.append(f"{element.attrs.get('name')} -> {target.tag}#{target.attrs.get('id')}")
    return found


def test_the_guard_catches_a_field_whose_answer_replaces_it():
    old_register_field = ('<form hx-post="/f" hx-target="#form" hx-swap="outerHTML">'
                          '<div class="vfield" id="v-phone"><div class="field">'
                          '<input name="phone" hx-post="/check" hx-target="#v-phone" '
                          'hx-swap="outerHTML"></div></div></form>')
    assert replaces_itself(old_register_field) == ["phone -> div#v-phone"]
    inherits_the_forms = ('<div id="form"><form hx-post="/f" hx-target="#form" '
                          'hx-swap="outerHTML"><select name="kind" hx-get="/f"></select>'
                          '</form></div>')
    assert replaces_itself(inherits_the_forms) == ["kind -> div#form"]
    assert replaces_itself('<input name="q" hx-get="/q">') == ["q -> input#None"]
    disinherited = ('<div id="form" hx-target="#form" hx-disinherit="hx-target">'
                    '<input name="q" hx-get="/q" hx-swap="none"></div>')
    assert replaces_itself(disinherited) == []
    assert replaces_itself(
        '<p id="q-msg"></p><input name="q" hx-post="/c" hx-target="#q-msg">') == []


def test_no_check_as_you_go_replaces_the_field_it_checks(nurse, person):
    """The register, its search and its edit pages, with and without errors shown, and the
    province check's answer (the ward field it brings): no field sends a request whose
    answer would replace that field while the user may be typing in it again."""
    recipient = person(province="91", ward="30307")
    bad = dict(PERSON_FORM, phone="0123", national_id="1")
    pages = {
        "register": nurse.get("/recipients/new"),
        "register with errors": nurse.post("/recipients/new", data=bad),
        "register with errors (htmx)": nurse.hx("POST", "/recipients/new", data=bad),
        "province picked": nurse.post("/recipients/new",
                                      data=dict(PERSON_FORM, province="01", pick_province="1")),
        "province check": nurse.hx("POST", "/recipients/new/validate/province",
                                   data=dict(PERSON_FORM, province="01")),
        "search": nurse.get("/recipients/"),
        "edit": nurse.get(f"/recipients/{recipient.id}/edit"),
        "edit identity": nurse.get(f"/recipients/{recipient.id}/identity"),
        "new dose": nurse.get(f"/recipients/{recipient.id}/doses/new"),
    }
    checked = 0
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert replaces_itself(html(response)) == [], name
        checked += html(response).count('hx-trigger="change"')
    assert checked > 20  # the register's fields were among those read
