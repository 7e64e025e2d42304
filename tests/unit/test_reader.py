"""Uploaded workbooks read by content, the import template and the error report."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from flask import Flask
from flask_babel import Babel

from vaxportal.exports.reader import (
    ImportFileError,
    iter_rows,
    looks_like_xlsx,
    write_error_report,
    write_template,
)
from vaxportal.exports.xlsx import Column

COLUMNS = [
    Column("full_name", "Họ và tên"),
    Column("date_of_birth", "Ngày sinh", kind="date"),
    Column("gender", "Giới tính"),
    Column("national_id", "Số CCCD/CMND"),
]
HEADERS = [c.header for c in COLUMNS]
EXAMPLE = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5), "gender": "Nam",
           "national_id": "089080123456"}


@pytest.fixture(autouse=True)
def app_context():
    app = Flask(__name__)
    Babel(app)
    with app.app_context():
        yield


def _xlsx(rows: list[list], path=None) -> io.BytesIO:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    if path is not None:
        path.write_bytes(buffer.getvalue())
    return buffer


def _zip(names: list[str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    buffer.seek(0)
    return buffer


# -- looks_like_xlsx -------------------------------------------------------------------


def test_a_real_xlsx_looks_like_one_and_the_position_is_kept():
    data = _xlsx([HEADERS])
    data.seek(7)
    assert looks_like_xlsx(data)
    assert data.tell() == 7


@pytest.mark.parametrize("content", [
    b"Ho ten;Ngay sinh\nAn;01/01/1990\n",  # a CSV or .txt renamed .xlsx
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,  # an old .xls
    b"PK\x03\x04" + b"\0" * 100,  # the zip magic and nothing behind it
    b"",
])
def test_other_content_does_not(content):
    data = io.BytesIO(content)
    assert not looks_like_xlsx(data)
    assert data.tell() == 0


def test_a_zip_without_the_workbook_parts_does_not():
    assert not looks_like_xlsx(_zip(["[Content_Types].xml", "word/document.xml"]))
    assert not looks_like_xlsx(_zip(["xl/workbook.xml"]))
    assert looks_like_xlsx(_zip(["[Content_Types].xml", "xl/workbook.xml"]))


# -- iter_rows -------------------------------------------------------------------------


def test_rows_under_the_header_with_extra_columns_reordered_and_a_title(tmp_path):
    path = tmp_path / "danh sach.dat"  # the name is not trusted either way
    _xlsx([
        ["Danh sách tiêm chủng xã Mỹ Bình"],
        [],
        ["STT", "  SỐ CCCD/CMND ", "họ và  tên", "Ghi chú", "Giới tính", "Ngày sinh"],
        [1, "089080123456", "  Lê Thị Hồng ", "x", "Nữ", datetime(1980, 9, 5)],
        [None, None, None, "chỉ ghi chú", None, None],
        [],
        [3, 89080123457, "Trần Văn Bình", None, "Nam", "05/09/1981"],
    ], path)
    rows = list(iter_rows(str(path), COLUMNS))
    assert rows == [
        (4, {"full_name": "Lê Thị Hồng", "date_of_birth": datetime(1980, 9, 5),
             "gender": "Nữ", "national_id": "089080123456"}),
        (7, {"full_name": "Trần Văn Bình", "date_of_birth": "05/09/1981", "gender": "Nam",
             "national_id": 89080123457}),
    ]


def test_reads_from_an_open_file_and_a_path_object(tmp_path):
    path = tmp_path / "a.xlsx"
    data = _xlsx([HEADERS, ["An", None, "Nam", "  "]], path)
    expected = [(2, {"full_name": "An", "date_of_birth": None, "gender": "Nam",
                     "national_id": None})]
    assert list(iter_rows(data, COLUMNS)) == expected
    assert list(iter_rows(path, COLUMNS)) == expected


def test_missing_headers_are_named():
    data = _xlsx([["Họ và tên", "Ngày sinh", "Ghi chú"], ["An", "01/01/1990", ""]])
    with pytest.raises(ImportFileError) as caught:
        list(iter_rows(data, COLUMNS))
    message = str(caught.value)
    assert "Giới tính" in message and "Số CCCD/CMND" in message
    assert "Họ và tên" not in message


def test_a_header_below_row_20_is_not_found():
    data = _xlsx([[f"dòng {i}"] for i in range(20)] + [HEADERS, ["An", None, "Nam", "1"]])
    with pytest.raises(ImportFileError):
        list(iter_rows(data, COLUMNS))


def test_an_unreadable_file_is_an_import_error():
    with pytest.raises(ImportFileError) as caught:
        list(iter_rows(_zip(["[Content_Types].xml", "xl/workbook.xml"]), COLUMNS))
    assert "Không đọc được tệp Excel" in str(caught.value)


# -- the template ----------------------------------------------------------------------


def test_template_has_headers_example_and_a_dropdown(tmp_path):
    path = tmp_path / "mau.xlsx"
    write_template(path, COLUMNS, choices={"gender": ["Nam", "Nữ", "Khác"]}, example=EXAMPLE)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADERS
    example = sheet[2]
    assert [c.value for c in example] == ["Nguyễn Văn An", datetime(1980, 9, 5), "Nam",
                                          "089080123456"]
    assert example[3].number_format == "@"  # an ID stays text: leading zeros survive
    (rule,) = sheet.data_validations.dataValidation
    assert rule.type == "list" and str(rule.sqref) == "C2:C10000"
    assert rule.formula1 == '"Nam,Nữ,Khác"'


def test_template_long_list_goes_on_a_hidden_sheet(tmp_path):
    path = tmp_path / "mau.xlsx"
    groups = [f"Nhóm {i}: người làm việc ở cơ sở y tế tuyến {i}" for i in range(12)]
    write_template(path, COLUMNS, choices={"gender": groups}, example=EXAMPLE)
    book = openpyxl.load_workbook(path)
    (rule,) = book.worksheets[0].data_validations.dataValidation
    assert "!" in rule.formula1 and "$A$1:$A$12" in rule.formula1
    lists = book.worksheets[1]
    assert lists.sheet_state == "hidden"
    assert [row[0] for row in lists.iter_rows(values_only=True)] == groups


def test_template_is_formula_safe_and_reads_back(tmp_path):
    path = tmp_path / "mau.xlsx"
    write_template(path, COLUMNS, choices={}, example={**EXAMPLE, "full_name": "=1+1"})
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet["A2"].value == "=1+1" and sheet["A2"].quotePrefix
    with path.open("rb") as handle:
        assert looks_like_xlsx(handle)
    assert [row for _n, row in iter_rows(path, COLUMNS)][0]["full_name"] == "=1+1"


# -- the error report ------------------------------------------------------------------


def test_error_report_round_trips(tmp_path):
    path = tmp_path / "bao-cao.xlsx"
    reported = [
        (2, {"full_name": '=HYPERLINK("http://x","y")', "date_of_birth": date(1990, 1, 2),
             "gender": "Nam", "national_id": "12345"},
         ["Số CCCD/CMND: Số CCCD gồm 12 chữ số", "Ngày sinh: không có trên lịch"]),
        (5, {"full_name": "Lê Thị Hồng", "gender": "Nữ", "national_id": "089080123456"}, []),
        (9, {"full_name": "@Ai Đó"}, "Trùng số CCCD/CMND với dòng 2 của tệp."),
    ]
    write_error_report(path, COLUMNS, reported)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert [c.value for c in sheet[1]] == ["Dòng", *HEADERS, "Lỗi"]
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in values] == [2, 5, 9]
    assert values[0][-1] == "Số CCCD/CMND: Số CCCD gồm 12 chữ số; Ngày sinh: không có trên lịch"
    assert values[1][-1] is None
    assert values[2][-1] == "Trùng số CCCD/CMND với dòng 2 của tệp."
    assert sheet["B2"].value == '=HYPERLINK("http://x","y")' and sheet["B2"].quotePrefix
    assert sheet["B4"].quotePrefix
    with zipfile.ZipFile(path) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
    again = [row for _n, row in iter_rows(path, COLUMNS)]
    assert again[0] == {**reported[0][1], "date_of_birth": datetime(1990, 1, 2)}
    assert again[1] == {**reported[1][1], "date_of_birth": None}


def test_error_report_to_a_file_object():
    buffer = io.BytesIO()
    write_error_report(buffer, COLUMNS, [(2, {"full_name": "An"}, ["lỗi"])])
    buffer.seek(0)
    assert looks_like_xlsx(buffer)
    assert openpyxl.load_workbook(buffer).worksheets[0]["F2"].value == "lỗi"


# -- reading every kind of cell as openpyxl does -----------------------------------------

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>'),
    "xl/workbook.xml": (
        f'<workbook {_NS} xmlns:r="{_R}"><sheets>'
        '<sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_R}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_R}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId3" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/>'
        '</Relationships>'),
    "xl/styles.xml": (
        f'<styleSheet {_NS}><fonts count="1"><font><sz val="11"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0"/>'
        '<xf numFmtId="14" applyNumberFormat="1"/></cellXfs><cellStyles count="1">'
        '<cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
    "xl/sharedStrings.xml": (
        f'<sst {_NS} count="2" uniqueCount="2"><si><t>Họ và tên</t></si>'
        '<si><r><t>Lê </t></r><r><rPr><b/></rPr><t>Thị Hồng</t></r></si></sst>'),
}
#: header row, then: shared rich text, a date, a boolean, a formula's cached text, an error;
#: inline text in runs with a phonetic guide, a number, no reference (next column); a gap
_SHEET = (
    f'<worksheet {_NS}><dimension ref="A1:B2"/><sheetData>'
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>Ngày sinh</t>'
    '</is></c><c r="C1" t="inlineStr"><is><t>Giới tính</t></is></c>'
    '<c r="D1" t="inlineStr"><is><t>Số CCCD/CMND</t></is></c></row>'
    '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" s="1"><v>29469</v></c>'
    '<c r="C2" t="b"><v>1</v></c><c r="D2" t="str"><f>"0"&amp;"89"</f><v>089</v></c>'
    '<c r="E2" t="e"><v>#N/A</v></c></row>'
    '<row r="4"><c r="A4" t="inlineStr"><is><r><t>Trần </t></r><r><rPr><i/></rPr>'
    '<t xml:space="preserve">Văn Bình</t></r><rPh sb="0" eb="1"><t>ト</t></rPh></is></c>'
    '<c t="inlineStr"><is><t>05/09/1981</t></is></c><c r="D4"><v>89080123457</v></c></row>'
    '<row><c r="C5" t="inlineStr"><is><t>Nữ</t></is></c></row>'
    '</sheetData></worksheet>')


def test_every_kind_of_cell_reads_as_openpyxl_reads_it(tmp_path):
    path = tmp_path / "kinds.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {**_PARTS, "xl/worksheets/sheet1.xml": _SHEET}.items():
            archive.writestr(name, text)
    sheet = openpyxl.load_workbook(path, read_only=True, data_only=True).worksheets[0]
    sheet.reset_dimensions()
    openpyxl_rows = [row for row in sheet.iter_rows(min_row=2, values_only=True)
                     if any(value is not None for value in row)]
    rows = list(iter_rows(path, COLUMNS))
    assert [number for number, _values in rows] == [2, 4, 5]
    assert [tuple(values.values()) for _n, values in rows] == [
        tuple(int(v) if isinstance(v, float) else v for v in (*row, None, None)[:4])
        for row in openpyxl_rows]
    assert rows[0][1] == {"full_name": "Lê Thị Hồng", "date_of_birth": datetime(1980, 9, 5),
                          "gender": True, "national_id": "089"}
    assert rows[1][1] == {"full_name": "Trần Văn Bình", "date_of_birth": "05/09/1981",
                          "gender": None, "national_id": 89080123457}
    assert rows[2][1] == {"full_name": None, "date_of_birth": None, "gender": "Nữ",
                          "national_id": None}
