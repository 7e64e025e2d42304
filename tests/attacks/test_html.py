"""HTML and script typed into every text field (recipients, doses, look-up reasons, searches,
imports, facility names, custodians, written requests, even the browser's user agent) is
shown escaped on every page that shows it, the audit trail included: a crawl of the site as
each role never meets the raw markup."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from tests.attacks.support import REQUEST, step_up
from tests.helpers import PASSWORD, approve_pending, html, login_through_forms, spreadsheet, upload
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose, Recipient

#: fits the shortest free-text field (a lot number, 40 characters)
PAYLOAD = "'\"><i id=xss><script>alert(1)</script>"
RAW = ("<i id=xss>", "<script>alert(1)")
ESCAPED = "&lt;script&gt;alert(1)"
EMAIL = '"><script>alert(1)</script>@x.vn'  # no blank allowed in an e-mail address
NATIONAL_ID = "089080777001"

SKIP = ("/static/", "/auth/logout", "/download", "/report", "/import/template")
LINK = re.compile(r'\b(href|hx-get)="([^"]*)"')


def assert_escaped(response, where: str) -> None:
    body = html(response)
    for marker in RAW:
        assert marker not in body, f"raw {marker!r} on {where}"
    for header in ("Location", "HX-Redirect", "HX-Trigger"):
        assert "<script" not in response.headers.get(header, ""), where


def crawl(client, start: list[str], limit: int = 400) -> dict[str, str]:
    """GET every same-site page reachable from ``start`` (links and hx-get fragments);
    returns {url: body} of the HTML answers, each checked for raw markup on the way."""
    seen, queue, pages = set(), [(url, False) for url in start], {}
    while queue and len(pages) < limit:
        url, fragment = queue.pop(0)
        key = url.split("#", 1)[0]
        if key in seen or any(part in key for part in SKIP):
            continue
        seen.add(key)
        response = client.hx("GET", key) if fragment else client.get(key)
        assert response.status_code < 500, f"{key}: {response.status_code}"
        if "text/html" not in response.content_type:
            continue
        assert_escaped(response, key)
        pages[key] = html(response)
        for attribute, link in LINK.findall(pages[key]):
            link = unescape(link)
            parts = urlsplit(link)
            if link.startswith("/") and not link.startswith("//") and not parts.netloc:
                queue.append((link, attribute == "hx-get"))
    assert not queue or all(url.split("#", 1)[0] in seen for url, _f in queue), \
        f"the crawl stopped at {limit} pages: raise the limit"
    return pages


def shown_on(pages: dict[str, str]) -> set[str]:
    return {url for url, body in pages.items() if ESCAPED in body}


@pytest.fixture
def planted(signed_in, nurse, admin, place, factory, outbox, client):
    """The payload typed into every text field, through the real forms of each role."""
    for browser in (nurse, admin):
        step_up(browser, outbox)
    record = dict.fromkeys(("full_name", "occupation", "district", "street"), PAYLOAD)
    record.update(date_of_birth="01/02/1985", gender="female", national_id=NATIONAL_ID)
    response = nurse.post("/recipients/new", data=record)
    assert response.status_code == 303, html(response)
    assert_escaped(nurse.get(response.headers["Location"]), "page after registering")  # flash
    recipient = db.session.scalar(sa.select(Recipient).where(
        Recipient.national_id == NATIONAL_ID))
    twin = {**record, "national_id": "", "confirm_duplicate": "1"}  # a possible duplicate
    assert nurse.post("/recipients/new", data=twin).status_code == 303
    dose = {"vaccine_id": "1", "dose_number": "1", "given_on": "01/06/2021",
            "lot_number": PAYLOAD, "vaccinator": PAYLOAD, "aefi": "mild", "aefi_note": PAYLOAD,
            "entry_token": "probe-entry-token"}
    assert nurse.post(f"/recipients/{recipient.id}/doses", data=dose).status_code == 303
    given = db.session.scalar(sa.select(Dose).where(Dose.recipient_id == recipient.id))
    correction = {**dose, "reason": PAYLOAD, "version_id": str(given.version_id),
                  "aefi_note": PAYLOAD + " (sửa)"}
    response = nurse.post(f"/recipients/doses/{given.id}/edit", data=correction)
    assert response.status_code == 303, html(response)
    response = nurse.post("/recipients/lookup", data={"id_number": NATIONAL_ID,
                                                      "reason": PAYLOAD})
    assert response.status_code == 200
    assert_escaped(response, "look-up results")
    response = nurse.post("/recipients/", data={"q": PAYLOAD})
    assert_escaped(nurse.get(response.headers["Location"]), "search results")
    assert_escaped(nurse.hx("POST", "/recipients/", data={"q": PAYLOAD}), "search fragment")
    response = upload(nurse, spreadsheet([{**record, "national_id": "", "date_of_birth": PAYLOAD,
                                           "gender": PAYLOAD}]))
    assert response.status_code == 303
    assert_escaped(nurse.get(response.headers["Location"]), "import dry run")
    # the admin: a facility, an account with its custodian, written requests
    station = {"code": "XSS1", "name": PAYLOAD, "kind": "commune_station", "parent_code": "D1"}
    assert admin.post("/facilities/new", data=station).status_code == 303
    facility = db.session.scalar(sa.select(Facility).where(Facility.code == "XSS1"))
    custodian = {"full_name": PAYLOAD, "gender": "female", "unit": PAYLOAD,
                 "position": PAYLOAD, "email": EMAIL, "custodian_phone": "0912000444"}
    issue = {"username": "xss.probe", "role": "data_entry", "phone": "0912000555", **custodian}
    response = admin.post(f"/facilities/{facility.id}/accounts/new", data=issue)
    assert response.status_code == 303, html(response)
    approve_pending(admin.application)  # a second admin approves (P2.1)
    probe = db.session.scalar(sa.select(Account).where(Account.username == "xss.probe"))
    written = {**REQUEST, "reason": PAYLOAD}
    response = admin.post(f"/facilities/accounts/{probe.id}/details",
                          data={**written, "role": "data_entry", "phone": "0912000666",
                                "unit": PAYLOAD, "position": PAYLOAD})
    assert response.status_code == 303, html(response)
    approve_pending(admin.application)
    support = factory.account("data_entry", username="viettel.ag", facility=factory.facility(
        "VT", "support_unit", parent=place["doh"], name="Viettel An Giang"))
    response = admin.post(f"/facilities/accounts/{support.id}/delegate", data={
        **written, "facility_code": "S1", "starts_on": "01/01/2024", "ends_on": "31/12/2099"})
    assert response.status_code == 303, html(response)
    approve_pending(admin.application)
    # a browser whose user agent is markup signs in: its session is listed
    client.environ_base["HTTP_USER_AGENT"] = PAYLOAD
    assert login_through_forms(client, nurse.account.username, PASSWORD,
                               outbox).status_code == 303
    return {"recipient": recipient, "facility": facility, "account": probe,
            "dose": given, "agent": client, "support": support}


START = ["/", "/recipients/", "/recipients/duplicates", "/recipients/lookup", "/exports/",
         "/exports/new", "/audit/", "/auth/sessions", "/facilities/", "/auth/totp"]


def test_p1_markup_in_every_text_field_is_escaped_on_every_page(planted, signed_in, place,
                                                                   nurse, admin):
    supervisor = signed_in("supervisor", facility=place["d1"])
    reviewer = signed_in("reviewer", facility=place["doh"])
    recipient, dose = planted["recipient"], planted["dose"]
    pages = {}
    for who, browser, extra in (
        ("nurse", planted["agent"], [f"/recipients/{recipient.id}/edit",
                                     f"/recipients/{recipient.id}/identity",
                                     f"/recipients/doses/{dose.id}/edit",
                                     f"/recipients/doses/{dose.id}/delete"]),
        ("supervisor", supervisor, []),
        ("reviewer", reviewer, []),
        ("admin", admin, [f"/facilities/{planted['facility'].id}",
                          f"/facilities/accounts/{planted['account'].id}",
                          f"/facilities/accounts/{planted['support'].id}"]),
    ):
        found = crawl(browser, START + extra)
        pages[who] = shown_on(found)
        print(f"\n{who}: {len(found)} pages crawled, the escaped payload on {len(pages[who])}:"
              f" {sorted(pages[who])}")
    # the crawl met the payload where it must be shown (so it checked something)
    assert f"/recipients/{recipient.id}" in pages["nurse"]
    assert "/auth/sessions" in pages["nurse"]  # the user agent
    assert "/recipients/duplicates" in pages["supervisor"]
    assert any(url.startswith("/audit/") and url != "/audit/" for url in pages["supervisor"])
    assert any(url.startswith("/audit/") for url in pages["reviewer"])
    assert f"/facilities/accounts/{planted['account'].id}" in pages["admin"]
    assert f"/facilities/accounts/{planted['support'].id}" in pages["admin"]  # the delegation
    assert any(url.startswith("/audit/") for url in pages["admin"])  # custodian, requests


def test_p1_markup_echoed_by_forms_is_escaped(client, nurse, signed_in, place, person,
                                                outbox):
    """What a page sends back as typed: the sign-in form, the field check, the step-up
    prompt carrying a form, the audit filter."""
    recipient = person("s1")
    response = client.post("/auth/login", data={"username": PAYLOAD, "password": "x",
                                                "next": PAYLOAD})
    assert_escaped(response, "sign-in form")
    assert_escaped(nurse.post("/recipients/new/validate/full_name",
                              data={"full_name": PAYLOAD}), "field check")
    form = {"full_name": PAYLOAD, "date_of_birth": PAYLOAD, "gender": "male",
            "national_id": PAYLOAD, "version_id": "1"}
    response = nurse.post(f"/recipients/{recipient.id}/identity", data=form)
    assert "Xác thực lại" in html(response)
    assert_escaped(response, "step-up prompt")
    step_up(nurse, outbox)
    assert_escaped(nurse.post(f"/recipients/{recipient.id}/identity", data=form),
                   "identity form errors")
    supervisor = signed_in("supervisor", facility=place["d1"])
    audit = supervisor.get("/audit/", query_string={
        "account": PAYLOAD, "action": PAYLOAD, "entity_id": PAYLOAD, "facility": PAYLOAD})
    assert audit.status_code == 200 and ESCAPED in html(audit)
    assert_escaped(audit, "audit filter")
    assert_escaped(client.get(f"/{PAYLOAD}"), "404 page")
