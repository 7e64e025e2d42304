"""Excel files are Vietnamese whatever the language of the interface: the export (headers,
watermark, title, sheet names), the import template and the dry run's error report. An
import reads headers in Vietnamese or in English (a template downloaded in English earlier
still imports)."""

from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa

from tests.helpers import (
    HEADERS,
    all_values,
    export_now,
    html,
    last_import,
    next_nid,
    spreadsheet,
    upload,
)
from vaxportal.exports.models import JobStatus
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient

#: the import headers as the English interface shows them (RECIPIENT_FIELDS' order)
ENGLISH_HEADERS = [
    "Full name", "Date of birth", "Sex", "Citizen ID (CCCD/CMND)",
    "Health insurance card no. / social insurance no.", "Phone number", "Occupation",
    "Ethnicity", "Nationality", "Priority group", "Province/City",
    "District (address before 2025)", "Ward/Commune", "House number, street, hamlet/village",
]


@pytest.fixture
def english(nurse):
    """The nurse switches the interface to English, as the language menu does."""
    response = nurse.post("/lang", data={"lang": "en", "next": "/exports/"})
    assert response.status_code == 303
    assert 'lang="en"' in html(nurse.get("/exports/"))  # the interface is English now
    return nurse


def _row(**fields) -> dict:
    row = {"full_name": "Lê Thị Hồng", "date_of_birth": "05/09/1980", "gender": "Nữ",
           "national_id": next_nid(), "province": "An Giang"}
    row.update(fields)
    return row


def _values(data: bytes) -> list:
    return all_values(openpyxl.load_workbook(io.BytesIO(data)))


def test_export_with_the_interface_in_english_is_in_vietnamese(english, person, outbox):
    person(gender="female")
    _job, data = export_now(english, outbox)
    book = openpyxl.load_workbook(io.BytesIO(data))
    values = all_values(book)
    for header in [*HEADERS, "Cơ sở quản lý", "Số mũi đã tiêm", "Ngày tiêm mũi gần nhất"]:
        assert header in values, header
    for english_text in [*ENGLISH_HEADERS, "Managing facility", "Female"]:
        assert english_text not in values, english_text
    assert "Nữ" in values  # coded values too
    assert any(str(v).startswith("Người xuất:") for v in values)  # the watermark
    assert not any(str(v).startswith("Exported by") for v in values)
    assert [sheet.title for sheet in book.worksheets] == ["Danh sách"]
    assert book.properties.title == "Danh sách đối tượng tiêm"
    assert "dữ liệu cá nhân" in book.properties.description


def test_import_template_with_the_interface_in_english_is_in_vietnamese(english):
    response = english.get("/exports/import/template")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert sheet.title == "Mẫu nhập danh sách"
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header == HEADERS
    example = [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert example[HEADERS.index("Giới tính")] == "Nam"
    formulas = " ".join(str(v.formula1) for v in sheet.data_validations.dataValidation)
    assert "Nam" in formulas and "Male" not in formulas


def test_error_report_with_the_interface_in_english_is_in_vietnamese(english):
    upload(english, spreadsheet([_row(), _row(national_id="12345")]))
    job = last_import()
    assert job.status == JobStatus.checked and job.error_rows == 1
    report = english.get(f"/exports/import/{job.id}/report")
    assert report.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(report.data))
    sheet = book.worksheets[0]
    assert sheet.title == "Kết quả kiểm tra"
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header == ["Dòng", *HEADERS, "Lỗi"]
    values = all_values(book)
    assert any("Số CCCD gồm 12 chữ số" in str(v) for v in values)
    assert not set(ENGLISH_HEADERS) & set(values)


def test_a_list_with_english_headers_imports(nurse, place):
    rows = [_row(full_name="Người Anh Ngữ", gender="Female"),
            _row(full_name="Người Thứ Hai", gender="Male")]
    response = upload(nurse, spreadsheet(rows, headers=ENGLISH_HEADERS))
    assert response.status_code == 303
    job = last_import()
    assert job.status == JobStatus.checked, job.error
    assert (job.total_rows, job.valid_rows, job.error_rows) == (2, 2, 0)
    assert nurse.post(f"/exports/import/{job.id}/confirm").status_code == 303
    db.session.expire_all()
    stored = db.session.scalar(sa.select(Recipient).where(
        Recipient.full_name == "Người Anh Ngữ"))
    assert stored is not None and stored.gender == "female"
    assert stored.facility_id == place["s1"].id


def test_english_headers_match_whatever_their_case_and_spacing(nurse):
    headers = [f"  {header.upper()} " for header in ENGLISH_HEADERS]
    upload(nurse, spreadsheet([_row()], headers=headers))
    job = last_import()
    assert job.status == JobStatus.checked and job.valid_rows == 1


def test_a_list_with_unknown_headers_is_refused_in_vietnamese(english):
    headers = ["Name", *ENGLISH_HEADERS[1:]]
    upload(english, spreadsheet([_row()], headers=headers))
    job = last_import()
    assert job.status == JobStatus.rejected
    assert job.error.startswith("Không tìm thấy dòng tiêu đề")
    assert "Thiếu các cột: “Họ và tên”" in job.error
