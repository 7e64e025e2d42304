"""Workbooks written by vaxportal.exports.xlsx, reopened with openpyxl (P1, P3.4)."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from datetime import UTC, date, datetime

import openpyxl
import pytest
from flask import Flask, has_app_context
from flask_babel import Babel
from xlsxwriter.worksheet import Worksheet

from vaxportal.exports.xlsx import (
    Column,
    ExportCancelled,
    Watermark,
    WriteResult,
    sheet_name,
    write_workbook,
)

FORMULAS = ['=HYPERLINK("http://x","y")', "+84912345678", "@SUM(1)", "-1+2", "=1+1",
            "\tTab", "=cmd|' /C calc'!A0"]
COLUMNS = [
    Column("full_name", "Họ và tên", width=28),
    Column("date_of_birth", "Ngày sinh", kind="date", width=12),
    Column("doses", "Số mũi", kind="int", width=8),
    Column("phone", "Số điện thoại", width=15),
]
MARK = Watermark(account="nhap.s1", person="Trần Thị Nhập",
                 at=datetime(2025, 3, 1, 17, 30, 5, tzinfo=UTC), export_id="EXP-7f3a",
                 scope="Trạm Y tế Mỹ Bình; tên chứa “an”")
WATERMARK_ROWS = 4  # then the header row


@pytest.fixture(autouse=True)
def app_context():
    app = Flask(__name__)
    Babel(app)
    with app.app_context():
        yield


def _row(i: int, **values) -> dict:
    return {"full_name": f"Người Số {i:02d}", "date_of_birth": date(1980, 1, 1 + i % 28),
            "doses": i, "phone": f"09{i:08d}", **values}


def _write(tmp_path, rows, **kwargs) -> tuple[WriteResult, object]:
    path = tmp_path / "out.xlsx"
    result = write_workbook(path, COLUMNS, rows, watermark=MARK, **kwargs)
    return result, path


def _sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "".join(archive.read(n).decode() for n in archive.namelist()
                       if n.startswith("xl/worksheets/"))


def _top_text(sheet) -> str:
    return " ".join(str(v) for row in sheet.iter_rows(max_row=WATERMARK_ROWS, values_only=True)
                    for v in row if v is not None)


def _data(sheet) -> list[tuple]:
    return [row for row in sheet.iter_rows(min_row=WATERMARK_ROWS + 2, values_only=True)
            if any(v is not None for v in row)]


def test_formula_looking_text_stays_text_with_quote_prefix(tmp_path):
    rows = [_row(i, full_name=text) for i, text in enumerate(FORMULAS)]
    _result, path = _write(tmp_path, rows)
    xml = _sheet_xml(path)
    assert "<f>" not in xml and "<f " not in xml
    sheet = openpyxl.load_workbook(path).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=WATERMARK_ROWS + 2) if row[0].value]
    assert [c.value for c in cells] == FORMULAS
    for cell in cells:
        assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate


def test_text_goes_through_write_string_only(tmp_path, monkeypatch):
    """Not the generic write(), whose meaning depends on the workbook's options."""
    strings = []
    real = Worksheet.write_string

    def spy(self, row, col, string, *args):
        strings.append(string)
        return real(self, row, col, string, *args)

    def refused(*_args, **_kwargs):
        raise AssertionError("text must be written with write_string")

    monkeypatch.setattr(Worksheet, "write_string", spy)
    for name in ("write", "write_formula", "write_url", "write_rich_string"):
        monkeypatch.setattr(Worksheet, name, refused)
    _write(tmp_path, [_row(i, full_name=text) for i, text in enumerate(FORMULAS)])
    assert set(FORMULAS) <= set(strings)


def test_plain_text_has_no_quote_prefix_and_numbers_stay_numbers(tmp_path):
    _result, path = _write(tmp_path, [_row(3, full_name="Nguyễn Văn An", phone="0912345678")])
    sheet = openpyxl.load_workbook(path).worksheets[0]
    name, _dob, doses, phone = sheet[WATERMARK_ROWS + 2]
    assert name.value == "Nguyễn Văn An" and not name.quotePrefix
    assert phone.value == "0912345678" and phone.data_type == "s"  # leading zero kept
    assert doses.value == 3 and doses.data_type == "n"


def test_dates_are_dates_shown_dd_mm_yyyy(tmp_path):
    late = datetime(2024, 12, 31, 18, 0, tzinfo=UTC)  # already 1 January in Vietnam
    rows = [_row(0, date_of_birth=date(1975, 12, 31)), _row(1, date_of_birth=late)]
    _result, path = _write(tmp_path, rows)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    first, second = (sheet.cell(WATERMARK_ROWS + 2 + i, 2) for i in range(2))
    assert first.is_date and first.value.date() == date(1975, 12, 31)
    assert second.value == datetime(2025, 1, 1, 1, 0)
    assert first.number_format.lower() == second.number_format.lower() == "dd/mm/yyyy"


def test_none_is_a_blank_cell(tmp_path):
    _result, path = _write(tmp_path, [_row(1, phone=None, date_of_birth=None)])
    row = openpyxl.load_workbook(path).worksheets[0][WATERMARK_ROWS + 2]
    assert row[1].value is None and row[3].value is None


def test_watermark_in_the_first_rows_and_the_properties(tmp_path):
    _result, path = _write(tmp_path, [_row(1)])
    book = openpyxl.load_workbook(path)
    top = _top_text(book.worksheets[0])
    for expected in ("nhap.s1", "Trần Thị Nhập", "EXP-7f3a", "Trạm Y tế Mỹ Bình",
                     "02/03/2025 00:30:05"):  # 17:30:05 UTC is 00:30:05 the next day in VN
        assert expected in top, expected
    assert "dữ liệu cá nhân" in top and "không được chia sẻ" in top
    props = book.properties
    assert "Trần Thị Nhập" in props.creator and "nhap.s1" in props.creator
    assert "EXP-7f3a" in props.description and "dữ liệu cá nhân" in props.description
    assert props.title


def test_header_is_bold_frozen_and_filtered(tmp_path):
    _result, path = _write(tmp_path, [_row(i) for i in range(3)])
    sheet = openpyxl.load_workbook(path).worksheets[0]
    header = sheet[WATERMARK_ROWS + 1]
    assert [c.value for c in header] == [str(c.header) for c in COLUMNS]
    assert all(c.font.b for c in header)
    assert sheet.freeze_panes == f"A{WATERMARK_ROWS + 2}"
    assert sheet.auto_filter.ref == f"A{WATERMARK_ROWS + 1}:D{WATERMARK_ROWS + 4}"
    assert sheet.column_dimensions["A"].width == pytest.approx(28, abs=1)


def test_rows_split_over_sheets_each_with_watermark_and_header(tmp_path):
    rows = [_row(i) for i in range(25)]
    result, path = _write(tmp_path, rows, sheet_max_rows=10)
    book = openpyxl.load_workbook(path)
    per_sheet = 10 - WATERMARK_ROWS - 1
    assert result.rows == 25 and result.sheets == len(book.worksheets) == 5
    assert book.sheetnames[:2] == ["Danh sách", "Danh sách 2"]
    names = []
    for sheet in book.worksheets:
        assert sheet.max_row <= 10
        assert "EXP-7f3a" in _top_text(sheet) and "dữ liệu cá nhân" in _top_text(sheet)
        assert sheet.cell(WATERMARK_ROWS + 1, 1).value == "Họ và tên"
        data = _data(sheet)
        assert 0 < len(data) <= per_sheet
        names += [row[0] for row in data]
    assert names == [f"Người Số {i:02d}" for i in range(25)]


def test_a_limit_below_the_watermark_still_writes_one_row_per_sheet(tmp_path):
    result, path = _write(tmp_path, [_row(i) for i in range(3)], sheet_max_rows=2)
    assert result.sheets == 3 == len(openpyxl.load_workbook(path).worksheets)


def test_no_rows_still_gives_a_sheet_with_watermark_and_header(tmp_path):
    calls = []
    result, path = _write(tmp_path, [], progress=calls.append)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert (result.rows, result.sheets, calls) == (0, 1, [0])
    assert "EXP-7f3a" in _top_text(sheet) and sheet.cell(WATERMARK_ROWS + 1, 1).value


def test_progress_every_n_rows_and_at_the_end(tmp_path):
    calls = []
    _write(tmp_path, [_row(i) for i in range(25)], progress=calls.append, progress_every=10)
    assert calls == [10, 20, 25]
    calls.clear()
    _write(tmp_path, [_row(i) for i in range(20)], progress=calls.append, progress_every=10)
    assert calls == [10, 20]


def test_cancellation_deletes_the_partial_file(tmp_path):
    seen = []

    def rows():
        for i in range(100):
            seen.append(i)
            yield _row(i)

    path = tmp_path / "out.xlsx"
    with pytest.raises(ExportCancelled):
        write_workbook(path, COLUMNS, rows(), watermark=MARK, progress_every=10,
                       cancelled=lambda: len(seen) >= 30)
    assert not path.exists()
    assert len(seen) == 30  # stopped at the first check that saw the request


def test_a_failing_row_source_leaves_no_file(tmp_path):
    def rows():
        yield _row(1)
        raise RuntimeError("database gone")

    path = tmp_path / "out.xlsx"
    with pytest.raises(RuntimeError):
        write_workbook(path, COLUMNS, rows(), watermark=MARK)
    assert not path.exists()


def test_sha256_is_the_files(tmp_path):
    result, path = _write(tmp_path, [_row(i) for i in range(5)])
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_writes_outside_an_app_context(tmp_path):
    """A background job may write without Flask: lazy strings fall back to the source."""
    outcome = {}

    def job():  # a new thread starts with no app context
        outcome["context"] = has_app_context()
        outcome["result"] = write_workbook(tmp_path / "bg.xlsx", COLUMNS, [_row(1)],
                                           watermark=MARK)

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert outcome["context"] is False and outcome["result"].rows == 1
    assert "dữ liệu cá nhân" in _top_text(openpyxl.load_workbook(tmp_path / "bg.xlsx").active)


def test_sheet_names_are_valid_and_numbered():
    assert sheet_name("Danh sách", 1) == "Danh sách"
    assert sheet_name("Danh sách", 12) == "Danh sách 12"
    assert sheet_name("a/b:c" + "x" * 40, 3).endswith(" 3")
    assert len(sheet_name("x" * 40, 100)) <= 31
    assert not set("[]:*?/\\") & set(sheet_name("a[b]:c*?/\\", 1))
