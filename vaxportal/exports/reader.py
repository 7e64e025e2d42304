"""Uploaded workbooks read as lists of rows, and the workbooks given back to importers: the
import template and the error report.

Uploads are judged by their content, never their name. Reading (``exports/sheet.py``) streams
the sheet (openpyxl's read-only mode), so a file of 200,000 rows needs tens of MB, not GB.
"""

from __future__ import annotations

import os
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from xlsxwriter import Workbook
from xlsxwriter.utility import quote_sheetname, xl_range_abs
from xlsxwriter.worksheet import Worksheet

from vaxportal.exports.xlsx import (
    DATE_FORMAT,
    WORKBOOK_OPTIONS,
    CellWriter,
    Column,
    Target,
    open_workbook,
    sheet_name,
    write_header,
)

HEADER_SEARCH_ROWS = 20
TEMPLATE_ROWS = 10_000  # data validation covers Excel rows 2..TEMPLATE_ROWS
ZIP_MAGIC = b"PK\x03\x04"
REQUIRED_PARTS = ("[Content_Types].xml", "xl/workbook.xml")
#: a part may inflate to at most this many times its packed size (Apache POI's default for
#: the same check); spreadsheets inflate 5-20 times, zip bombs about a thousand
MAX_INFLATE_RATIO = 100
RATIO_FLOOR = 1 << 20  # parts up to 1 MB (styles, themes) may inflate as they like
_INLINE_LIST_MAX = 255  # Excel's limit for a list typed into a data validation
_TEXT = {"num_format": "@"}

Source = str | os.PathLike[str] | IO[bytes]
ReportRow = tuple[int, Mapping[str, Any], Sequence[str] | str]


class ImportFileError(Exception):
    """The upload cannot be read as a list; ``str(error)`` is the Vietnamese message."""


def looks_like_xlsx(fileobj: IO[bytes], max_unpacked: int | None = None) -> bool:
    """True when the content is an Office Open XML workbook and no zip bomb (see
    ``inflates_safely``; ``max_unpacked`` caps the inflated total); the position is
    restored."""
    try:
        start = fileobj.tell()
    except (AttributeError, OSError, ValueError):
        return False
    try:
        fileobj.seek(0)
        if fileobj.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            return False
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            parts = archive.infolist()
        names = {part.filename for part in parts}
        return all(part in names for part in REQUIRED_PARTS) and inflates_safely(
            parts, max_unpacked)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return False
    finally:
        with suppress(OSError, ValueError):
            fileobj.seek(start)


def inflates_safely(parts: Sequence[zipfile.ZipInfo], max_unpacked: int | None) -> bool:
    """False for a zip bomb: a part inflating to more than MAX_INFLATE_RATIO times its
    packed size, or all parts together to more than ``max_unpacked`` bytes. Judged on the
    sizes the archive declares, nothing inflated: ``zipfile`` never reads a part past its
    declared size, so a lying archive only fails its CRC check."""
    if max_unpacked is not None and sum(part.file_size for part in parts) > max_unpacked:
        return False
    return all(part.file_size <= RATIO_FLOOR
               or part.file_size <= MAX_INFLATE_RATIO * max(part.compress_size, 1)
               for part in parts)


# -- reading -----------------------------------------------------------------------------


def iter_rows(path_or_file: Source, columns: Sequence[Column],
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(Excel row number, {key: value}) for every non-empty row under the header row
    (``exports/sheet.py``).

    Raises ``ImportFileError`` when the file cannot be read or has no header row."""
    # here, not at the top: openpyxl, with the Pillow it loads, takes 8 MB in every process
    # that imports it, and only a process that reads an upload needs it (a web worker's
    # peak memory, issue 13)
    from vaxportal.exports import sheet

    return sheet.iter_rows(path_or_file, columns)


def normalize_header(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


# -- the template ------------------------------------------------------------------------


def write_template(target: Target, columns: Sequence[Column], *,
                   choices: Mapping[str, Sequence[str]], example: Mapping[str, Any]) -> None:
    """Headers, one example row, drop-downs for the coded columns, text columns as text."""
    # small, and its list sheet is written column by column: not in constant-memory mode
    with open_workbook(target, {**WORKBOOK_OPTIONS, "constant_memory": False}) as book:
        sheet = book.add_worksheet(sheet_name(str(_l("Mẫu nhập danh sách")), 1))
        cells = CellWriter(book, _TEXT)
        _template_columns(book, sheet, columns)
        write_header(cells, sheet, 0, [column.header for column in columns])
        for col, column in enumerate(columns):
            cells.write(sheet, 1, col, example.get(column.key))
        sheet.freeze_panes(1, 0)
        _ChoiceLists(book, cells).add_validations(sheet, columns, choices)


def _template_columns(book: Workbook, sheet: Worksheet, columns: Sequence[Column]) -> None:
    """Formats for what people type: text (IDs keep leading zeros), dates, whole numbers."""
    formats = {"text": book.add_format(_TEXT), "date": book.add_format({"num_format": DATE_FORMAT}),
               "int": book.add_format({"num_format": "0"})}
    for col, column in enumerate(columns):
        sheet.set_column(col, col, column.width, formats.get(column.kind, formats["text"]))


class _ChoiceLists:
    """Drop-down lists: typed into the validation when short, else on a hidden sheet."""

    def __init__(self, book: Workbook, cells: CellWriter) -> None:
        self.book, self.cells = book, cells
        self.sheet: Worksheet | None = None
        self.used = 0

    def add_validations(self, sheet: Worksheet, columns: Sequence[Column],
                        choices: Mapping[str, Sequence[str]]) -> None:
        for col, column in enumerate(columns):
            items = [str(item) for item in choices.get(column.key, ())]
            if items:
                sheet.data_validation(1, col, TEMPLATE_ROWS - 1, col, self._rule(items))

    def _rule(self, items: list[str]) -> dict[str, Any]:
        return {
            "validate": "list",
            "source": items if _fits_inline(items) else self._listed(items),
            "error_type": "stop",
            "error_title": str(_l("Giá trị không hợp lệ"))[:32],
            "error_message": str(_l("Hãy chọn một giá trị trong danh sách."))[:255],
        }

    def _listed(self, items: list[str]) -> str:
        """A formula naming the range where the items are written on the hidden sheet."""
        if self.sheet is None:
            self.sheet = self.book.add_worksheet(sheet_name(str(_l("Danh mục")), 1))
            self.sheet.hide()
        col, self.used = self.used, self.used + 1
        for row, item in enumerate(items):
            self.cells.text(self.sheet, row, col, item)
        cells = xl_range_abs(0, col, len(items) - 1, col)
        return f"={quote_sheetname(self.sheet.name)}!{cells}"


def _fits_inline(items: Sequence[str]) -> bool:
    return (len(",".join(items)) <= _INLINE_LIST_MAX
            and not any("," in item or '"' in item for item in items))


# -- the error report --------------------------------------------------------------------


def write_error_report(target: Target, columns: Sequence[Column],
                       rows: Iterable[ReportRow]) -> None:
    """One row per input row given (the import's: those with a message): its row number
    in the upload, its values, its messages.

    The header row carries the import headers, so the rows corrected in a report can be
    uploaded again (the extra "Dòng" and "Lỗi" columns are ignored when reading)."""
    headers = [str(_l("Dòng")), *(str(c.header) for c in columns), str(_l("Lỗi"))]
    with open_workbook(target) as book:
        book.set_properties({"title": str(_l("Báo cáo kiểm tra tệp nhập")),
                             "company": "vaxportal", "comments": _personal_data_notice()})
        sheet = book.add_worksheet(sheet_name(str(_l("Kết quả kiểm tra")), 1))
        cells = CellWriter(book)
        for col, width in enumerate([8, *(c.width for c in columns), 60]):
            sheet.set_column(col, col, width)
        write_header(cells, sheet, 0, headers)
        sheet.freeze_panes(1, 0)
        last = 0
        for last, (number, values, messages) in enumerate(rows, start=1):
            _report_row(cells, sheet, last, columns, number, values, messages)
        sheet.autofilter(0, 0, last, len(headers) - 1)


def _report_row(cells: CellWriter, sheet: Worksheet, row: int, columns: Sequence[Column],
                number: int, values: Mapping[str, Any], messages: Sequence[str] | str) -> None:
    cells.write(sheet, row, 0, number)
    for col, column in enumerate(columns, start=1):
        cells.write(sheet, row, col, values.get(column.key))
    text = messages if isinstance(messages, str) else "; ".join(str(m) for m in messages if m)
    if text:
        cells.text(sheet, row, len(columns) + 1, text, font_color="#9C0006")


def _personal_data_notice() -> str:
    return str(_l("Tệp chứa dữ liệu cá nhân — không được chia sẻ cho người không có thẩm "
                  "quyền."))
