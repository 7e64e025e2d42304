"""Excel workbooks written safely: text stays text, and every sheet carries the watermark.

Formula injection (P3.4): every text cell is written with ``write_string`` so nothing becomes a
formula, and text that Excel would read as a formula once someone edits the cell (it starts
with = + - @ tab or CR) also gets the quote prefix. The workbook runs in constant-memory mode:
rows go to disk as they are written, so an export of millions of rows needs little memory, and
rows must be written top to bottom.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

EXCEL_MAX_ROWS = 1_048_576
DATE_FORMAT = "dd/mm/yyyy"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_date_format": DATE_FORMAT,
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER_STYLE: dict[str, Any] = {"bold": True, "bg_color": "#DDEBF7", "border": 1}
MARK_STYLE: dict[str, Any] = {"italic": True, "font_color": "#9C0006"}
_SHEET_NAME_MAX = 31
_SHEET_NAME_BAD = "[]:*?/\\"
_HASH_CHUNK = 1 << 20

Target = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class Column:
    key: str  # key in the row mapping
    header: str  # lazy string, Vietnamese source
    kind: str = "text"  # "text" | "date" | "int"
    width: int = 18
    aliases: tuple[str, ...] = ()  # other headers read as this column (import: English)


@dataclass(frozen=True)
class Watermark:
    account: str  # exporting account username
    person: str  # custodian full name
    at: datetime  # aware (UTC); shown in Asia/Ho_Chi_Minh
    export_id: str
    scope: str  # human text describing scope and filter


@dataclass
class WriteResult:
    rows: int
    sheets: int
    sha256: str


class ExportCancelled(Exception):
    """The export was cancelled while being written; its partial file is gone."""


def needs_quote(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def local_naive(value: date) -> date:
    """Excel has no time zones: an aware datetime is shown as Vietnamese local time."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value


class CellWriter:
    """Writes one value into one cell, never as a formula.

    ``base`` is added to the format of every text cell (the template uses ``@``, text)."""

    def __init__(self, book: Workbook, base: Mapping[str, Any] | None = None) -> None:
        self._book = book
        self._base = dict(base or {})
        self._formats: dict[tuple, Format | None] = {}
        self._plain: dict[bool, Format | None] = {}
        self.date_format = book.add_format({"num_format": DATE_FORMAT})

    def style(self, quoted: bool = False, **extra: Any) -> Format | None:
        props = {**self._base, **extra}
        if quoted:
            props["quote_prefix"] = True
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self._book.add_format(props) if props else None
        return self._formats[key]

    def text(self, sheet: Worksheet, row: int, col: int, text: str, **extra: Any) -> None:
        if extra:
            style = self.style(needs_quote(text), **extra)
        else:  # most cells: the plain style or the quoted one, looked up once
            quoted = needs_quote(text)
            style = self._plain.get(quoted, _MISSING)
            if style is _MISSING:
                style = self._plain[quoted] = self.style(quoted)
        sheet.write_string(row, col, text, style)

    def write(self, sheet: Worksheet, row: int, col: int, value: Any) -> None:
        if value is None:
            return
        if type(value) is str:  # most cells: straight to the text's own check
            self.text(sheet, row, col, value)
        elif isinstance(value, date):
            sheet.write_datetime(row, col, local_naive(value), self.date_format)
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif _is_number(value):
            sheet.write_number(row, col, value)
        else:
            self.text(sheet, row, col, str(value))


_MISSING = object()


def _is_number(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, float | Decimal) and math.isfinite(value)


def write_header(cells: CellWriter, sheet: Worksheet, row: int, headers: Sequence[str]) -> None:
    for col, header in enumerate(headers):
        cells.text(sheet, row, col, str(header), **HEADER_STYLE)


def sheet_name(base: str, number: int) -> str:
    """A valid, numbered sheet name: "Danh sách", "Danh sách 2", ..."""
    suffix = "" if number == 1 else f" {number}"
    clean = "".join(" " if c in _SHEET_NAME_BAD else c for c in base).strip().strip("'")
    return (clean or "Sheet")[: _SHEET_NAME_MAX - len(suffix)].rstrip() + suffix


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def open_workbook(target: Target, options: Mapping[str, Any] = WORKBOOK_OPTIONS,
                  ) -> Iterator[Workbook]:
    """A workbook closed at the end; on any error closed and, if it is a file, deleted."""
    output = target if hasattr(target, "write") else os.fspath(target)
    book = Workbook(output, dict(options))
    try:
        yield book
    except BaseException:
        _abandon(book, output)
        raise
    book.close()


def _abandon(book: Workbook, output: Any) -> None:
    with suppress(Exception):
        book.close()
    if isinstance(output, str):
        with suppress(FileNotFoundError):
            os.remove(output)


# -- the export ------------------------------------------------------------------------


def watermark_lines(mark: Watermark, notice: str | None = None) -> list[str]:
    """The lines above a sheet's header; ``notice`` replaces the personal-data warning of a
    file that holds none (an aggregate table of the reports)."""
    at = mark.at if mark.at.tzinfo else mark.at.replace(tzinfo=UTC)  # naive: taken as UTC
    when = local_naive(at).strftime("%d/%m/%Y %H:%M:%S")
    return [
        str(_l("Người xuất: %(person)s (tài khoản %(account)s)",
               person=mark.person, account=mark.account)),
        str(_l("Thời điểm xuất: %(at)s (giờ Việt Nam) — Mã lượt xuất: %(export_id)s",
               at=when, export_id=mark.export_id)),
        str(_l("Phạm vi: %(scope)s", scope=mark.scope)),
        str(notice) if notice else str(_l(
            "Tệp chứa dữ liệu cá nhân — không được chia sẻ, sao chép hay gửi cho người "
            "không có thẩm quyền. Mọi lượt xuất đều được ghi nhật ký.")),
    ]


class _Ticker:
    """Reports progress and checks for cancellation every ``every`` rows and at the end."""

    def __init__(self, progress: Callable[[int], None] | None, every: int,
                 cancelled: Callable[[], bool] | None) -> None:
        self.progress, self.every, self.cancelled = progress, max(1, every), cancelled
        self.last = -1

    def tick(self, rows: int) -> None:
        if rows % self.every == 0:
            self.report(rows)

    def end(self, rows: int) -> None:
        if rows != self.last:
            self.report(rows)

    def report(self, rows: int) -> None:
        if self.cancelled is not None and self.cancelled():
            raise ExportCancelled
        if self.progress is not None:
            self.progress(rows)
        self.last = rows


class _Sheets:
    """Data rows across as many sheets as needed, each opened with watermark and header."""

    def __init__(self, book: Workbook, columns: Sequence[Column], lines: Sequence[str],
                 max_rows: int) -> None:
        if not columns:
            raise ValueError("an export needs at least one column")
        self.book, self.columns, self.lines = book, columns, lines
        self.cells = CellWriter(book)
        self.header_row = len(lines)
        # at least one data row per sheet, whatever the limit, or the export never ends
        self.per_sheet = max(1, min(max_rows, EXCEL_MAX_ROWS) - self.header_row - 1)
        self.base_name = str(_l("Danh sách"))
        self.sheet: Worksheet | None = None
        self.count = self.row = self.in_sheet = 0

    def add(self, values: Mapping[str, Any]) -> None:
        if self.sheet is None or self.in_sheet >= self.per_sheet:
            self._open()
        for col, column in enumerate(self.columns):
            self.cells.write(self.sheet, self.row, col, values.get(column.key))
        self.row += 1
        self.in_sheet += 1

    def finish(self) -> None:
        if self.sheet is None:
            self._open()
        self._close()

    def _open(self) -> None:
        if self.sheet is not None:
            self._close()
        self.count += 1
        sheet = self.sheet = self.book.add_worksheet(sheet_name(self.base_name, self.count))
        for row, line in enumerate(self.lines):
            self.cells.text(sheet, row, 0, line, **MARK_STYLE)
        for col, column in enumerate(self.columns):
            sheet.set_column(col, col, column.width)
        write_header(self.cells, sheet, self.header_row, [c.header for c in self.columns])
        sheet.freeze_panes(self.header_row + 1, 0)
        self.row, self.in_sheet = self.header_row + 1, 0

    def _close(self) -> None:
        last = max(self.row - 1, self.header_row)
        self.sheet.autofilter(self.header_row, 0, last, len(self.columns) - 1)


def _set_properties(book: Workbook, mark: Watermark, title: str, lines: Sequence[str]) -> None:
    book.set_properties({
        "title": str(title),
        "subject": mark.export_id,
        "author": f"{mark.person} ({mark.account})",
        "company": "vaxportal",
        "comments": "\n".join(lines),
    })


def write_workbook(
    target: str | os.PathLike[str],
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    watermark: Watermark,
    sheet_max_rows: int = EXCEL_MAX_ROWS,
    title: str = _l("Danh sách đối tượng tiêm chủng"),
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
    cancelled: Callable[[], bool] | None = None,
) -> WriteResult:
    """Write ``rows`` in order; ``sheet_max_rows`` counts each sheet's watermark and header.

    Raises ``ExportCancelled`` (the file deleted) when ``cancelled()`` answers True."""
    path = os.fspath(target)
    ticker = _Ticker(progress, progress_every, cancelled)
    lines = watermark_lines(watermark)
    with open_workbook(path) as book:
        _set_properties(book, watermark, title, lines)
        sheets = _Sheets(book, columns, lines, sheet_max_rows)
        written = 0
        for values in rows:
            sheets.add(values)
            written += 1
            ticker.tick(written)
        ticker.end(written)
        sheets.finish()
    return WriteResult(rows=written, sheets=sheets.count, sha256=file_sha256(path))
