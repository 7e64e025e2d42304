"""Attacks through Excel: formula text typed into every text field comes back as text in the
exported workbook and in the import's error report (P1, P3.4); an oversized or fake upload
(text, HTML, a plain zip, a zip bomb dressed as a workbook) gets a clear Vietnamese refusal,
imports nothing and never answers 500."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl.utils.escape import unescape

from tests.attacks.support import leaks_traceback
from tests.helpers import export_now, html, sheet_xml, spreadsheet, upload, workbook
from vaxportal.exports.models import ImportJob, JobStatus
from vaxportal.exports.reader import MAX_INFLATE_RATIO
from vaxportal.extensions import db
from vaxportal.recipients.codes import CODED_FIELDS
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.services import RECIPIENT_FIELDS, create_recipient

FORMULAS = [
    "=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example","bấm vào")', "+SUM(1;2)",
    "-2+3", "@SUM(A1:A9)", "=1+1", "{=A1*2}", "=DDE(\"cmd\";\"/C calc\";\"x\")",
]
#: the recipient fields a person types freely (IDs, phone, dates and gender are validated;
#: coded fields take only a code of their kept list)
FREE_TEXT = [key for key, _label, kind in RECIPIENT_FIELDS
             if kind == "text" and key not in ("gender", "national_id", "insurance_number",
                                               "phone", *CODED_FIELDS)]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_person(n: int) -> dict:
    """A register form with formula text in every free-text field (rotated per person)."""
    data = {"date_of_birth": "01/02/1985", "gender": "female", "phone": "0912345678"}
    for i, key in enumerate(FREE_TEXT):
        data[key] = FORMULAS[(n + i) % len(FORMULAS)]
    return data


def assert_all_text(data: bytes, expected: set[str]) -> None:
    """No cell of the workbook is a formula; every expected text is there, intact, as text,
    with the quote prefix when Excel would read it as a formula after an edit."""
    xml = sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml
    found = set()
    for sheet in workbook(data).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if not isinstance(cell.value, str):
                    continue
                assert cell.data_type == "s", (cell.coordinate, cell.value)
                text = unescape(cell.value)  # "_x000D_" is how a workbook stores a CR
                if text.startswith(FORMULA_START):
                    assert cell.quotePrefix, (cell.coordinate, text)
                found.add(text)
    assert expected <= found, expected - found


def test_p3_4_formula_text_in_every_exported_text_column_stays_text(nurse, person, factory,
                                                                    place, outbox):
    for n in range(len(FORMULAS)):  # typed into the register form, as a user would
        response = nurse.post("/recipients/new", data=formula_person(n))
        assert response.status_code == 303, html(response)
    # text the form would trim (tab and CR first) may still come from elsewhere: a legacy list
    person("s1", full_name="\t=1+1", street="\r=cmd|' /C calc'!A0", occupation="\t@SUM(1)")
    _job, data = export_now(nurse, outbox)
    expected = set(FORMULAS) | {"\t=1+1", "\r=cmd|' /C calc'!A0", "\t@SUM(1)", "+84912345678"}
    assert_all_text(data, expected)


def test_p3_4_formula_facility_name_stays_text_in_the_export(signed_in, factory, place, outbox):
    """The facility column comes from the facility tree, which admins type."""
    station = factory.facility("S1F", "commune_station", parent=place["d1"],
                               name="=HYPERLINK(\"http://evil.example\",\"Trạm\")")
    create_recipient({"full_name": "Hồ Văn Tên", "date_of_birth": date(1990, 1, 1),
                      "gender": "male"}, station.id)
    db.session.commit()
    supervisor = signed_in("supervisor", facility=place["d1"])
    _job, data = export_now(supervisor, outbox)
    assert_all_text(data, {station.name})


def test_p3_4_formula_text_in_an_upload_stays_text_in_the_error_report(nurse):
    rows = [{key: FORMULAS[(n + i) % len(FORMULAS)] for i, key in enumerate(FREE_TEXT)}
            | {"date_of_birth": "=TODAY()", "gender": "=1+1", "national_id": "=A1"}
            for n in range(len(FORMULAS))]
    assert upload(nurse, spreadsheet(rows)).status_code == 303
    job = db.session.scalars(sa.select(ImportJob)).one()
    response = nurse.get(f"/exports/import/{job.id}/report")
    assert response.status_code == 200
    assert_all_text(response.data, set(FORMULAS) | {"=TODAY()", "=A1"})


# -- uploads --------------------------------------------------------------------------------

LIMIT = 64 * 1024


@pytest.fixture
def config(config):
    config["IMPORT_MAX_BYTES"] = LIMIT
    config["MAX_CONTENT_LENGTH"] = 4 * LIMIT
    return config


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def xlsx_bomb(megabytes: int) -> bytes:
    """A real workbook whose one cell holds ``megabytes`` MB of text: about a thousand times
    its packed size once inflated (an upload of the allowed size would inflate to GBs)."""
    base = zipfile.ZipFile(io.BytesIO(spreadsheet([{"full_name": "An",
                                                    "date_of_birth": "01/01/1990",
                                                    "gender": "Nam"}])))
    sheet = base.read("xl/worksheets/sheet1.xml")
    cut = sheet.index(b"<t>An</t>") + len(b"<t>An")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in base.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info, base.read(info.filename))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(sheet[:cut])
            for _ in range(megabytes):
                part.write(b"A" * (1 << 20))
            part.write(sheet[cut:])
    return buffer.getvalue()


NOT_XLSX = "không phải là tệp Excel .xlsx"
FAKES = {
    "text": (b"Ho ten;Ngay sinh\nNguyen Van An;01/01/1990\n", NOT_XLSX),
    "html": (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", NOT_XLSX),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000, NOT_XLSX),
    "zip": (_zip({"ds.csv": b"Nguyen Van An;01/01/1990\n"}), NOT_XLSX),
    "zip_bomb": (_zip({"bomb.bin": b"\0" * (30 << 20)}), NOT_XLSX),
    "xlsx_bomb": (None, NOT_XLSX),  # built in the test (it is big unpacked)
    "xlsx_bomb_of_small_parts": (None, NOT_XLSX),
    "oversized": (os.urandom(LIMIT + 1), "Tệp quá lớn: tối đa"),
    "empty": (b"", "Tệp rỗng"),
}


def _fake(kind: str) -> bytes:
    if kind == "xlsx_bomb":
        return xlsx_bomb(8)
    if kind == "xlsx_bomb_of_small_parts":  # each part under the ratio floor, many together
        parts = {f"xl/media/image{n}.bin": b"\0" * (1 << 20) for n in range(30)}
        workbook_zip = zipfile.ZipFile(io.BytesIO(spreadsheet([{"full_name": "An"}])))
        parts.update({i.filename: workbook_zip.read(i) for i in workbook_zip.infolist()})
        return _zip(parts)
    return FAKES[kind][0]


def test_fake_or_oversized_upload_is_refused_in_vietnamese(app, nurse):
    people = db.session.scalar(sa.select(sa.func.count(Recipient.id)))
    for kind in sorted(FAKES):
        data = _fake(kind)
        assert len(data) <= 4 * LIMIT, kind
        response = upload(nurse, data, "danh-sach.xlsx")
        assert response.status_code == 400, (kind, response.status_code)
        body = html(response)
        assert FAKES[kind][1] in body and not leaks_traceback(body), kind
        assert "<script>alert(1)" not in body
    assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Recipient.id))) == people
    kept = [files for _dir, _sub, files in os.walk(app.config["EXPORT_DIR"]) if files]
    assert not kept, f"refused files were kept: {kept}"


def test_a_real_workbook_is_not_taken_for_a_bomb(nurse):
    """The control: an ordinary list inflates about ten times and is accepted."""
    rows = [{"full_name": f"Nguyễn Văn {n}", "date_of_birth": "01/01/1990", "gender": "Nam",
             "street": f"{n} Trần Hưng Đạo"} for n in range(800)]
    data = spreadsheet(rows)
    parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert max(p.file_size / p.compress_size for p in parts) < MAX_INFLATE_RATIO / 4
    assert len(data) <= LIMIT and upload(nurse, data).status_code == 303


def test_an_upload_over_the_request_limit_gets_the_vietnamese_413_page(nurse):
    response = upload(nurse, os.urandom(5 * LIMIT))
    assert response.status_code == 413
    body = html(response)
    assert "Tệp hoặc dữ liệu gửi lên quá lớn" in body and not leaks_traceback(body)
    assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0


def test_a_broken_workbook_is_rejected_by_the_dry_run_and_cannot_be_confirmed(nurse):
    """Right parts, rubbish inside: accepted as a file, rejected by the dry run with a clear
    message; nothing can be imported from it."""
    data = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<not-a-workbook",
                 "xl/worksheets/sheet1.xml": b"\0\1\2"})
    people = db.session.scalar(sa.select(sa.func.count(Recipient.id)))
    response = upload(nurse, data)
    assert response.status_code == 303
    page = nurse.get(response.headers["Location"])
    assert page.status_code == 200 and "Không đọc được tệp Excel này" in html(page)
    job = db.session.scalars(sa.select(ImportJob)).one()
    db.session.refresh(job)
    assert job.status == JobStatus.rejected
    response = nurse.post(f"/exports/import/{job.id}/confirm", follow_redirects=True)
    assert "không còn chờ xác nhận" in html(response)
    assert db.session.scalar(sa.select(sa.func.count(Recipient.id))) == people
