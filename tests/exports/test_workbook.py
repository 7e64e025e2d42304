"""The exported workbook, reopened with openpyxl: text stays text, the watermark, masking by
role, dates, the sheet split (P1, P3.4)."""

from __future__ import annotations

from datetime import date, datetime

from tests.helpers import all_values, export_now, search_id, sheet_xml, workbook

FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(1)", "-2+3", "=1+1"]


def _data_rows(book, first_header="Họ và tên"):
    """Every data row of every sheet, as lists, after each sheet's header row."""
    rows = []
    for sheet in book.worksheets:
        seen_header = False
        for row in sheet.iter_rows(values_only=True):
            if seen_header:
                if any(v is not None for v in row):
                    rows.append(list(row))
            elif row and row[0] == first_header:
                seen_header = True
                header = list(row)
    return header, rows


def test_p3_4_formula_looking_text_stays_text(nurse, person, outbox):
    for text in FORMULAS:
        person(full_name=text)
    person(full_name="Phạm Thị Bích", occupation="+84 công nhân", street="=cmd|' /C calc'!A0")
    _job, data = export_now(nurse, outbox)
    assert "<f>" not in sheet_xml(data) and "<f " not in sheet_xml(data)
    book = workbook(data)
    header, rows = _data_rows(book)
    names = [row[header.index("Họ và tên")] for row in rows]
    for text in FORMULAS:
        assert text in names
    values = all_values(book)
    assert "+84 công nhân" in values and "=cmd|' /C calc'!A0" in values
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                    assert cell.data_type == "s", cell.coordinate
                    assert cell.quotePrefix, cell.coordinate


def test_phone_numbers_stay_as_typed_text(nurse, person, outbox):
    person(phone="+84912345678")
    _job, data = export_now(nurse, outbox)
    header, rows = _data_rows(workbook(data))
    assert rows[0][header.index("Số điện thoại")] == "+84912345678"


def test_dates_are_real_dates_shown_dd_mm_yyyy(nurse, person, outbox):
    person(date_of_birth=date(1975, 12, 31))
    _job, data = export_now(nurse, outbox)
    book = workbook(data)
    header, rows = _data_rows(book)
    born = rows[0][header.index("Ngày sinh")]
    assert isinstance(born, datetime) and born.date() == date(1975, 12, 31)
    cells = [c for s in book.worksheets for r in s.iter_rows() for c in r
             if isinstance(c.value, datetime) and c.value.year == 1975]
    assert cells and cells[0].number_format.lower() == "dd/mm/yyyy"


def test_p1_watermark_names_account_person_time_and_export(nurse, person, outbox):
    person()
    job, data = export_now(nurse, outbox)
    book = workbook(data)
    first_rows = " ".join(
        str(v) for row in book.worksheets[0].iter_rows(max_row=6, values_only=True)
        for v in row if v is not None
    )
    for expected in (nurse.account.username, "Trần Thị Nhập", job.id):
        assert expected in first_rows, expected
    assert "dữ liệu cá nhân" in first_rows.lower()
    props = book.properties
    meta = " ".join(str(v) for v in (props.creator, props.title, props.subject,
                                     props.description, props.keywords, props.category) if v)
    assert nurse.account.username in meta and job.id in meta


def test_p1_data_entry_export_has_full_identity_columns(nurse, person, outbox):
    person(national_id="089080123456", phone="+84912345678", street="12 Trần Hưng Đạo")
    _job, data = export_now(nurse, outbox)
    values = all_values(workbook(data))
    assert "089080123456" in values and "+84912345678" in values
    assert "12 Trần Hưng Đạo" in values


def test_p1_reviewer_export_masks_ids_as_the_register_does(reviewer, person, outbox):
    person("s2", national_id="089080123456", phone="+84912345678",
           insurance_number="GD4890123456789", street="12 Trần Hưng Đạo")
    _job, data = export_now(reviewer, outbox)
    book = workbook(data)
    header, rows = _data_rows(book)
    row = rows[0]
    nid = row[header.index("Số CCCD/CMND")]
    phone = row[header.index("Số điện thoại")]
    assert nid == "*********456"  # policy.mask_identifier, as on the register's screen
    assert phone == "*********678"
    xml = sheet_xml(data)
    assert "089080123456" not in xml and "+84912345678" not in xml
    assert "GD4890123456789" not in xml
    assert "12 Trần Hưng Đạo" not in all_values(book)


def test_p1_reviewer_given_the_right_sees_full_ids(app, reviewer, person, outbox):
    app.config["REVIEWER_SEES_FULL_IDS"] = True
    person("s2", national_id="089080123456")
    _job, data = export_now(reviewer, outbox)
    assert "089080123456" in all_values(workbook(data))


def test_p1_export_holds_only_the_accounts_scope_and_filter(nurse, person, outbox):
    person(full_name="Trong Phạm Vi")
    person(full_name="Cũng Trong")
    person("s2", full_name="Ngoài Phạm Vi")
    _job, data = export_now(nurse, outbox, search_id(nurse, q="trong pham"))
    names = all_values(workbook(data))
    assert "Trong Phạm Vi" in names
    assert "Cũng Trong" not in names and "Ngoài Phạm Vi" not in names


def test_sheet_split_past_the_per_sheet_limit(app, nurse, person, outbox):
    # 8 rows a sheet: the 4 watermark lines, the header and 3 data rows
    app.config["EXPORT_SHEET_MAX_ROWS"] = 8
    for i in range(8):
        person(full_name=f"Người Số {i}")
    job, data = export_now(nurse, outbox)
    book = workbook(data)
    assert len(book.worksheets) == job.sheets == 3
    names = [v for v in all_values(book) if isinstance(v, str) and v.startswith("Người Số")]
    assert sorted(names) == [f"Người Số {i}" for i in range(8)]
    for sheet in book.worksheets:
        assert sheet.max_row <= 8
        assert nurse.account.username in " ".join(  # every sheet carries the watermark
            str(v) for row in sheet.iter_rows(max_row=5, values_only=True) for v in row if v)
    assert job.rows_written == 8
