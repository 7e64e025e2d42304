"""Coded recipient fields in spreadsheets: exports show the labels (which an import reads
back), the import template offers the code lists."""

from __future__ import annotations

import io

import openpyxl

from tests.helpers import all_values, export_now, workbook


def test_export_shows_labels_of_coded_fields(nurse, person, outbox):
    person(ethnicity="05", nationality="VN", priority_group="N08", province="91",
           ward="30307")
    _job, data = export_now(nurse, outbox)
    values = all_values(workbook(data))
    for shown in ("Khơ-me", "Việt Nam", "An Giang", "Phường Long Xuyên"):
        assert shown in values, shown
    assert any(str(v).startswith("Nhóm 8:") for v in values)
    assert "30307" not in values and "N08" not in values


def test_import_template_offers_the_code_lists(nurse):
    book = openpyxl.load_workbook(io.BytesIO(nurse.get("/exports/import/template").data))
    listed = {str(c.value) for sheet in book.worksheets[1:] for row in sheet.iter_rows()
              for c in row if c.value is not None}
    assert {"Ơ-đu", "Đắk Lắk", "Campuchia"} <= listed
    assert any(item.startswith("Nhóm 18:") for item in listed)
