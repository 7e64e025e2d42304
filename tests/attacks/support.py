"""Helpers of the attack suite. Signing in and the CSRF-sending client come from
``tests/helpers.py``; these only add what attacks need: a picture
of the whole database (to prove a refused request changed nothing), the same-site test of a
redirect, a step-up through the real prompt, and a stolen cookie."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import sqlalchemy as sa

from tests.helpers import PASSWORD, RECENT, html, spreadsheet
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db

#: tables whose rows a refused request may add (refusals are recorded, P2.4)
AUDIT = ("audit_event",)
COOKIE = "vaxportal"


def db_state(skip=AUDIT) -> dict[str, list[tuple]]:
    """Every row of every table (but ``skip``), read past the ORM's identity map."""
    db.session.rollback()
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        order = list(table.primary_key.columns)
        state[table.name] = [tuple(row) for row in db.session.execute(
            sa.select(table).order_by(*order))]
    db.session.rollback()
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def audit_actions(since_id: int = 0) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.id > since_id).order_by(AuditEvent.id)))


def last_audit_id() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


# -- forms ------------------------------------------------------------------------------------

NEW_PASSWORD = "Tram-Y-te#2024xy"
REQUEST = {"ref_number": "99/SYT", "ref_date": RECENT, "reason": "Giả mạo văn bản đề nghị"}
CUSTODIAN = {"full_name": "Kẻ Giả Mạo", "gender": "male", "unit": "X", "position": "Y",
             "email": "x@example.vn", "custodian_phone": "0912000111"}
RECIPIENT = {"full_name": "Người Bị Giả", "date_of_birth": "01/01/1990", "gender": "male",
             "facility_id": "", "national_id": "", "occupation": "Nông dân"}
DOSE = {"vaccine_id": "1", "dose_number": "2", "given_on": "01/08/2021",
        "lot_number": "X-1", "vaccinator": "Kẻ Giả", "aefi": "none", "reason": "Sửa cho đúng"}

#: per endpoint, a form that would do something real if nothing stopped it
DATA = {
    "auth.login": {"username": "nobody", "password": PASSWORD},
    "auth.otp": {"code": "123456"},
    "auth.password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                      "confirm_password": NEW_PASSWORD},
    "auth.step_up": {"stepup_code": "123456", "next": "/"},
    "auth.totp": {"code": "123456"},
    "auth.end_sessions": {},
    "core.set_language": {"lang": "en", "next": "/"},
    "recipients.new": RECIPIENT,
    "recipients.search": {"q": "nguyen"},
    "recipients.edit": {"occupation": "Giả mạo", "ethnicity": "", "nationality": "",
                        "priority_group": "", "version_id": "1"},
    "recipients.save_identity": {**RECIPIENT, "version_id": "1"},
    "recipients.validate_field": RECIPIENT,
    "recipients.record_dose": DOSE,
    "recipients.lookup_dose": DOSE,
    "recipients.dose_correct": {**DOSE, "version_id": "1"},
    "recipients.dose_delete": {"reason": "Xoá giả mạo", "version_id": "1"},
    "recipients.resolve_duplicate": {"decision": "distinct"},
    "recipients.lookup": {"id_number": "089080000001", "reason": "Tra cứu giả mạo"},
    "exports.request_code": {"s": ""},
    "exports.confirm": {"code": "123456"},
    "facilities.create_facility": {"code": "FAKE1", "name": "Giả", "kind": "commune_station",
                                   "parent_code": "S1"},
    "facilities.issue": {"username": "gia.mao", "role": "data_entry", "phone": "0912000222",
                         **CUSTODIAN},
    "facilities.hand_over": {**REQUEST, **CUSTODIAN},
    "facilities.change_details": {**REQUEST, "role": "supervisor", "phone": "0912000333"},
    "facilities.delegate": {**REQUEST, "facility_code": "S1B", "starts_on": "01/01/2024",
                            "ends_on": "01/01/2030"},
}


def post_form(client, endpoint: str, url: str, *, csrf_token: str | None = "", **kwargs):
    """POST the endpoint's form from ``DATA`` to ``url``. ``csrf_token``: "" sends the
    session's own token (as the app's JavaScript does), None none, else that token."""
    data = dict(DATA.get(endpoint, {}))
    if endpoint == "exports.import_upload":
        data["file"] = (io.BytesIO(spreadsheet([{"full_name": "Người Bị Giả"}])), "ds.xlsx")
    if csrf_token:
        data["csrf_token"] = csrf_token
    return client.post(url, data=data, csrf=csrf_token == "", **kwargs)


# -- redirects ---------------------------------------------------------------------------------


def redirect_target(response) -> str | None:
    return response.headers.get("Location") or response.headers.get("HX-Redirect")


def is_same_site(url: str) -> bool:
    """A URL a browser resolves to this site: a path, or an absolute URL on localhost."""
    if any(ord(ch) < 32 for ch in url) or "\\" in url:
        return False
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https"):
        return False
    if parts.netloc:
        return parts.netloc == "localhost" and parts.scheme in ("http", "https")
    return url.startswith("/") and not url.startswith("//")


# -- step-up through the real prompt (P3.4) ----------------------------------------------------


def step_up(client, outbox) -> None:
    """Make the client's session fresh the way a person does: ask the prompt for an SMS code,
    type it."""
    response = client.post("/auth/step-up", data={"next": "/", "stepup_resend": "1"})
    assert response.status_code == 200, html(response)
    response = client.post("/auth/step-up", data={"next": "/",
                                                  "stepup_code": step_up_code(outbox)})
    assert response.status_code in (302, 303), html(response)


def step_up_code(outbox) -> str:
    messages = [m for m in outbox() if m["kind"] == "step_up"]
    assert messages, "no step-up SMS was sent"
    return messages[-1]["secret"]


# -- cookies --------------------------------------------------------------------------------


def stolen_cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "the client holds no session cookie"
    return cookie.value


def plant_cookie(client, value: str) -> None:
    client.set_cookie(COOKIE, value)


# -- pages ----------------------------------------------------------------------------------

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|"
                       r"sqlalchemy\.exc|werkzeug\.exceptions|jinja2\.exceptions")


def leaks_traceback(text: str) -> bool:
    return bool(TRACEBACK.search(text))
