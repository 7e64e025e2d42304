"""Uploaded workbooks read as lists of rows, and the workbooks given back to importers: the
import template and the error report.

Uploads are judged by their content, never their name. Reading streams the sheet (openpyxl's
read-only mode), so a file of 200,000 rows needs tens of MB, not GB.
"""

from __future__ import annotations

import math
import os
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import IO, Any

import openpyxl
from flask_babel import lazy_gettext as _l
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.escape import unescape
from openpyxl.worksheet._reader import (
    CELL_TAG,
    INLINE_STRING,
    ROW_TAG,
    VALUE_TAG,
    WorkSheetParser,
)
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse
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
    """(Excel row number, {key: value}) for every non-empty row under the header row.

    Raises ``ImportFileError`` when the file cannot be read or has no header row."""
    with _binary(path_or_file) as handle, ExitStack() as stack:
        rows, positions = _table(stack, handle, columns)
        for number, values in _guarded(rows):
            record = _record(values, positions)
            if any(value is not None for value in record.values()):
                yield number, record


@contextmanager
def _binary(source: Source) -> Iterator[IO[bytes]]:
    """A path opened here: given a path, openpyxl would judge the file by its extension."""
    if not isinstance(source, str | os.PathLike):
        yield source
        return
    with open(source, "rb") as handle:
        yield handle


def _table(stack: ExitStack, source: IO[bytes], columns: Sequence[Column]):
    try:
        book = _open(stack, source)
        return _find_header(book, columns)
    except ImportFileError:
        raise
    except Exception as error:  # whatever breaks in a user's file: the same clear message
        raise _unreadable() from error


def _open(stack: ExitStack, source: IO[bytes]):
    book = openpyxl.load_workbook(source, read_only=True, data_only=True, keep_links=False)
    stack.callback(book.close)
    return book


def _guarded(rows: Iterator) -> Iterator:
    try:
        yield from rows
    except Exception as error:
        raise _unreadable() from error


def _unreadable() -> ImportFileError:
    return ImportFileError(_l(
        "Không đọc được tệp Excel này (tệp hỏng hoặc không đúng định dạng .xlsx). Hãy mở tệp "
        "bằng Excel, lưu lại dưới dạng Excel Workbook (.xlsx) rồi tải lên lại."
    ))


def _find_header(book, columns: Sequence[Column]) -> tuple[Iterator, dict[str, int]]:
    """The rows after the header row, and each column's position in them.

    Every sheet is searched, in order, in its first HEADER_SEARCH_ROWS rows. A column is
    found by its header or any of its aliases (the same header in another language)."""
    wanted = {normalize_header(str(header)): column.key for column in columns
              for header in (*column.aliases, column.header)}
    keys = {column.key for column in columns}
    missing = [str(column.header) for column in columns]
    for sheet in book.worksheets:
        rows = _sheet_rows(sheet)
        for number, values in rows:
            if number > HEADER_SEARCH_ROWS:
                break
            positions = _header_positions(values, wanted)
            if len(positions) == len(keys):
                return rows, positions
            missing = min(missing, _missing(columns, positions), key=len)
    raise ImportFileError(_l(
        "Không tìm thấy dòng tiêu đề của danh sách. Thiếu các cột: %(columns)s. Hãy dùng tệp "
        "mẫu của hệ thống và giữ nguyên dòng tiêu đề.",
        columns=", ".join(f"“{header}”" for header in missing),
    ))


def _sheet_rows(sheet) -> Iterator[tuple[int, list[Any]]]:
    """(Excel row number, its values from column A) for each row the sheet holds, read by
    ``_RowParser`` from the part openpyxl's read-only sheet reads, with the workbook's
    shared strings, date styles and epoch, as its own ``iter_rows(values_only=True)``
    would (whatever dimensions the file states: some writers store wrong ones)."""
    book = sheet.parent
    with sheet._get_source() as source:
        parser = _RowParser(source, sheet._shared_strings, data_only=True, epoch=book.epoch,
                            date_formats=book._date_formats,
                            timedelta_formats=book._timedelta_formats)
        yield from parser.rows()


_TEXT_TAG = f"{{{SHEET_MAIN_NS}}}t"
_RUN_TAG = f"{{{SHEET_MAIN_NS}}}r"


class _RowParser(WorkSheetParser):
    """openpyxl's sheet parser reduced to the rows' values: a text cell (shared or inline)
    is read here, any other cell by openpyxl's own ``parse_cell``. openpyxl reads an inline
    string (what XlsxWriter's constant-memory mode writes: the app's own exports and
    reports) through its rich-text objects, which cost more than the rest of the cell."""

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        for _event, element in iterparse(self.source):
            if element.tag == ROW_TAG:
                yield self._row_number(element), self._values(element)
                element.clear()

    def _row_number(self, row) -> int:
        number = row.get("r")
        if number is None:
            self.row_counter += 1
        else:
            value = float(number)
            if not value.is_integer():
                raise ValueError(f"{number} is not a valid row number")
            self.row_counter = int(value)
        self.col_counter = 0
        return self.row_counter

    def _values(self, row) -> list[Any]:
        values: list[Any] = []
        for cell in row:
            if cell.tag != CELL_TAG:
                continue
            kind, ref = cell.get("t"), cell.get("r")
            if kind == "s" or kind == "inlineStr":
                self.col_counter = coordinate_to_tuple(ref)[1] if ref else self.col_counter + 1
                value = self._text(cell, kind)
            else:
                value = self.parse_cell(cell)["value"]  # sets col_counter
            if self.col_counter > len(values):
                values.extend([None] * (self.col_counter - len(values)))
            values[self.col_counter - 1] = value
        return values

    def _text(self, cell, kind: str) -> str | None:
        if kind == "s":
            index = cell.findtext(VALUE_TAG)
            return self.shared_strings[int(index)] if index else None
        inline = cell.find(INLINE_STRING)
        if inline is None:
            return None
        # the plain text and the runs' text, not the phonetic guides (openpyxl's ``content``)
        parts = []
        for part in inline:
            if part.tag == _TEXT_TAG:
                parts.append(part.text or "")
            elif part.tag == _RUN_TAG:
                parts.extend(text.text or "" for text in part if text.tag == _TEXT_TAG)
        return "".join(parts)


def normalize_header(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _header_positions(values: Sequence[Any], wanted: Mapping[str, str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, value in enumerate(values):
        key = wanted.get(normalize_header(value)) if isinstance(value, str) else None
        if key is not None and key not in positions:
            positions[key] = index
    return positions


def _missing(columns: Sequence[Column], positions: Mapping[str, int]) -> list[str]:
    return [str(column.header) for column in columns if column.key not in positions]


def _record(values: Sequence[Any], positions: Mapping[str, int]) -> dict[str, Any]:
    return {key: _clean(values[index]) if index < len(values) else None
            for key, index in positions.items()}


def _clean(value: Any) -> Any:
    """Text stripped (empty text is None); a whole float (1.0E10) as the int it is."""
    if isinstance(value, str):
        return (unescape(value) if "_x" in value else value).strip() or None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


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
    """One row per input row: its row number in the upload, its values, its errors.

    The header row carries the import headers, so a corrected report can be uploaded again
    (the extra "Dòng" and "Lỗi" columns are ignored when reading)."""
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
