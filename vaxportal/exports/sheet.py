"""An uploaded workbook read as a list of rows (``reader.iter_rows`` loads this module when a
process first reads one): the first sheet holding the header row, streamed by openpyxl's
read-only reader, each text cell read without openpyxl's rich-text objects."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
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

from vaxportal.exports.reader import (
    HEADER_SEARCH_ROWS,
    ImportFileError,
    Source,
    normalize_header,
)
from vaxportal.exports.xlsx import Column


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
