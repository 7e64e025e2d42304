"""Fixtures of the exports tests: a small province, recipients, searches, SMS codes, workbooks."""

from __future__ import annotations

import io
import itertools
import zipfile
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa
from flask import g

from vaxportal.exports.models import ExportJob, ImportJob
from vaxportal.extensions import db
from vaxportal.recipients.search import RegisterFilter, save_search
from vaxportal.recipients.services import RECIPIENT_FIELDS, create_recipient


def _forget_previous_request():
    """The ``app`` fixture keeps one app context for the whole test, so ``g`` (the account
    cached by Flask-Login, the session row) would leak from one client's request into the
    next client's. Start every request clean."""
    for key in ("_login_user", "user_session"):
        g.pop(key, None)


@pytest.fixture
def config(config):
    config["EXPORT_JOB_THRESHOLD"] = 1_000
    return config


@pytest.fixture
def app(app):
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_previous_request)
    # base.html links to the auth pages; until they land, stand-ins keep url_for working.
    for endpoint, rule in (("auth.sessions", "/auth/sessions"), ("auth.logout", "/auth/logout"),
                           ("auth.login", "/auth/login")):
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint, lambda: "", methods=["GET", "POST"])
    return app


@pytest.fixture
def place(factory):
    """DOH → district D1 → stations S1, S1B; DOH → district D2 → station S2."""
    return factory.place()


@pytest.fixture
def nurse(signed_in, place):
    """A data-entry client at station S1."""
    return signed_in("data_entry", facility=place["s1"], full_name="Trần Thị Nhập")


@pytest.fixture
def reviewer(signed_in, place):
    return signed_in("reviewer", facility=place["doh"], full_name="Lê Văn Duyệt")


_nid = itertools.count(100_001)


def next_nid() -> str:
    return f"089080{next(_nid):06d}"


@pytest.fixture
def person(place):
    """``person(facility="s1", **fields)`` → a committed Recipient (via the service)."""

    def make(facility="s1", **fields):
        values = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                  "gender": "male", "national_id": next_nid()}
        values.update(fields)
        recipient = create_recipient(values, place[facility].id)
        db.session.commit()
        return recipient

    return make


def search_id(client, **filters) -> str:
    """A stored register search of the client's account (what the register links with)."""
    sid = save_search(RegisterFilter(**filters), client.account, None)
    db.session.commit()
    return sid


def html(response) -> str:
    return response.get_data(as_text=True)


def request_export(client, sid: str | None = None) -> ExportJob:
    """POST the statement page's button: a pending export and its SMS code."""
    response = client.post("/exports/new", data={"s": sid or ""})
    assert response.status_code == 303, html(response)
    job_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    return db.session.get(ExportJob, job_id)


def code_for(outbox, job: ExportJob) -> str:
    """The secret of the last SMS that names this export."""
    messages = [m for m in outbox() if job.short_ref in m["body"]]
    assert messages, f"no SMS names export {job.short_ref}"
    return messages[-1]["secret"]


def confirm(client, job: ExportJob, code: str | None, **kwargs):
    data = {} if code is None else {"code": code}
    return client.post(f"/exports/{job.id}/confirm", data=data, **kwargs)


def export_now(client, outbox, sid: str | None = None):
    """Request, confirm with the export's own code, download the file its page links to."""
    job = request_export(client, sid)
    response = confirm(client, job, code_for(outbox, job))
    assert response.status_code == 303, html(response)
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200, html(download)
    db.session.expire_all()
    return db.session.get(ExportJob, job.id), download.data


def workbook(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist()
                       if name.startswith("xl/worksheets/"))


def all_values(book) -> list:
    return [cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


HEADERS = [str(label) for _key, label, _kind in RECIPIENT_FIELDS]


def spreadsheet(rows: list[dict], headers: list[str] | None = None) -> bytes:
    """An .xlsx as people make it: Vietnamese headers on the first row, one row per person."""
    book = openpyxl.Workbook()
    sheet = book.active
    keys = [key for key, _label, _kind in RECIPIENT_FIELDS]
    sheet.append(headers or HEADERS)
    for row in rows:
        sheet.append([row.get(key) for key in keys])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed text, not a formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "danh-sach.xlsx", **fields):
    form = {"file": (io.BytesIO(data), name), **fields}
    if "facility_id" not in form:
        form["facility_id"] = str(client.account.facility_id)
    return client.post("/exports/import", data=form, content_type="multipart/form-data")


def last_import() -> ImportJob:
    db.session.expire_all()
    return db.session.scalars(sa.select(ImportJob).order_by(ImportJob.created_at.desc())).first()

