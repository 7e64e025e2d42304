"""The dashboard's aggregate tables as rows of cells, and their Excel file.

Each table holds the figures its panel shows (the same functions compute both), never a
person: facility, vaccine, priority group, age band or day, and counts. The workbook is in
Vietnamese whatever the interface's language (the caller renders under ``force_locale``),
written through ``exports/xlsx.py``'s cell writer (text stays text), with the watermark
naming the account, the time, the export's id and what was exported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from vaxportal.exports.xlsx import (
    MARK_STYLE,
    WORKBOOK_OPTIONS,
    CellWriter,
    Watermark,
    open_workbook,
    sheet_name,
    watermark_lines,
    write_header,
)
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.reports import aefi, coverage, quality

PERCENT_FORMAT = "0.0%"


@dataclass
class Table:
    """``columns``: (header, kind) with kind ``text``, ``int``, ``date`` or ``percent``."""

    key: str
    title: str
    period: str
    columns: list[tuple[str, str]]
    rows: list[list] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """What the dashboard was drawn for: its node, period and breakdowns."""

    account: object
    node: Facility
    start: date
    end: date
    by: str
    step: str
    today: date


def _vn(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _doses_period(ask: Request) -> str:
    return str(_l("Mũi tiêm từ %(start)s đến %(end)s", start=_vn(ask.start), end=_vn(ask.end)))


# -- the tables -----------------------------------------------------------------------------


_BY_HEADER = {"facility": _l("Cơ sở"), "group": _l("Nhóm ưu tiên"), "band": _l("Nhóm tuổi")}


def coverage_table(ask: Request) -> Table:
    cover = coverage.coverage(ask.account, ask.node, ask.end, ask.by)
    columns = [(str(_BY_HEADER[ask.by]), "text"), (str(_l("Đối tượng cần tiêm")), "int")]
    for header, share in ((_l("Đã tiêm mũi 1"), _l("Tỷ lệ đã tiêm mũi 1")),
                          (_l("Đủ liều cơ bản"), _l("Tỷ lệ đủ liều cơ bản")),
                          (_l("Mũi nhắc"), _l("Tỷ lệ mũi nhắc"))):
        columns += [(str(header), "int"), (str(share), "percent")]
    table = Table("coverage", f"{_l('Độ bao phủ')} · {coverage.BREAKDOWNS[ask.by]}",
                  str(_l("Độ bao phủ đến ngày %(end)s", end=_vn(ask.end))), columns)
    total = cover.total
    for line, label in [*((line, line.label) for line in cover.lines),
                        (total, str(_l("Tổng: %(name)s", name=ask.node.name)))]:
        table.rows.append([label, line.target, *(value for count in (
            line.dose1, line.complete, line.booster) for value in (count, line.share(count)))])
    return table


def dose_numbers(by_vaccine: list[dict]) -> list[int]:
    """The dose numbers given over the period: the vaccine table's columns."""
    return sorted({n for row in by_vaccine for n in row["by_number"]})


def vaccine_table(ask: Request) -> Table:
    by_vaccine = coverage.doses_by_vaccine(ask.account, ask.node, ask.start, ask.end)
    numbers = dose_numbers(by_vaccine)
    columns = [(str(_l("Vắc xin")), "text"),
               *((str(_l("Mũi %(n)s", n=n)), "int") for n in numbers),
               (str(_l("Tổng")), "int")]
    table = Table("vaccine", str(_l("Mũi tiêm theo vắc xin và mũi số")), _doses_period(ask),
                  columns)
    for row in by_vaccine:
        table.rows.append([row["vaccine"], *(row["by_number"].get(n, 0) for n in numbers),
                           row["total"]])
    if by_vaccine:
        table.rows.append([str(_l("Tổng")), *vaccine_totals(by_vaccine, numbers)])
    return table


def vaccine_totals(by_vaccine: list[dict], numbers: list[int]) -> list[int]:
    """The vaccine table's total line: doses per dose number, then all doses."""
    return [*(sum(row["by_number"].get(n, 0) for row in by_vaccine) for n in numbers),
            sum(row["total"] for row in by_vaccine)]


def time_table(ask: Request) -> Table:
    over_time = coverage.doses_over_time(ask.account, ask.node, ask.start, ask.end, ask.step)
    day = ask.step == "day"
    table = Table("time", str(_l("Mũi tiêm theo ngày") if day else _l("Mũi tiêm theo tuần")),
                  _doses_period(ask),
                  [(str(_l("Ngày") if day else _l("Tuần bắt đầu")), "date"),
                   (str(_l("Số mũi")), "int")])
    table.rows = [[start, n] for start, n in over_time]
    return table


def aefi_table(ask: Request) -> Table:
    lines, total = aefi.counts(ask.account, ask.node, ask.start, ask.end)
    table = Table("aefi", str(_l("Phản ứng nặng sau tiêm cần theo dõi")), _doses_period(ask),
                  [(str(_l("Cơ sở")), "text"), (str(_l("Số ca phản ứng nặng")), "int")])
    table.rows = [[line.label, line.severe] for line in lines]
    table.rows.append([str(_l("Tổng: %(name)s", name=ask.node.name)), total])
    return table


@dataclass
class QualityCounts:
    """The data-quality counts of a subtree, one line per facility with a flagged person."""

    counts: dict[str, dict[int, int]]
    lines: list[int]
    names: dict[int, str]
    totals: dict[str, int]


def quality_counts(account, node: Facility, today: date) -> QualityCounts:
    counts = quality.counts(account, node, today)
    facility_ids = sorted({fid for per in counts.values() for fid in per})
    names = dict(db.session.execute(
        sa.select(Facility.id, Facility.name).where(Facility.id.in_(facility_ids))).all())
    lines = sorted(facility_ids, key=lambda fid: (names.get(fid, ""), fid))
    return QualityCounts(counts, lines, names,
                         {key: sum(per.values()) for key, per in counts.items()})


def quality_table(ask: Request) -> Table:
    figures = quality_counts(ask.account, ask.node, ask.today)
    table = Table("quality", str(_l("Chất lượng dữ liệu")),
                  str(_l("Tính đến ngày %(day)s", day=_vn(ask.today))),
                  [(str(_l("Cơ sở")), "text"),
                   *((str(check.label), "int") for check in quality.CHECKS)])
    for fid in figures.lines:
        table.rows.append([figures.names[fid], *(figures.counts[check.key].get(fid, 0)
                                                 for check in quality.CHECKS)])
    table.rows.append([str(_l("Tổng")), *(figures.totals[check.key]
                                          for check in quality.CHECKS)])
    return table


TABLES: dict[str, Callable[[Request], Table]] = {
    "coverage": coverage_table,
    "vaccine": vaccine_table,
    "time": time_table,
    "aefi": aefi_table,
    "quality": quality_table,
}


# -- the workbook ---------------------------------------------------------------------------


def write(table: Table, target, mark: Watermark) -> None:
    """One sheet: the watermark, the header, the rows (numbers as numbers, shares as
    percentages, days as dates, every text cell as text)."""
    lines = watermark_lines(mark, notice=str(_l(
        "Số liệu tổng hợp, không chứa dữ liệu cá nhân. Mọi lượt xuất đều được ghi nhật ký.")))
    with open_workbook(target, {**WORKBOOK_OPTIONS, "constant_memory": False}) as book:
        book.set_properties({"title": table.title, "subject": mark.export_id,
                             "author": f"{mark.person} ({mark.account})",
                             "company": "vaxportal"})
        sheet = book.add_worksheet(sheet_name(table.title, 1))
        cells = CellWriter(book)
        for row, line in enumerate(lines):
            cells.text(sheet, row, 0, line, **MARK_STYLE)
        header = len(lines)
        write_header(cells, sheet, header, [title for title, _kind in table.columns])
        sheet.set_column(0, 0, 32)
        sheet.set_column(1, len(table.columns) - 1, 16)
        percent = cells.style(num_format=PERCENT_FORMAT)
        for row, values in enumerate(table.rows, start=header + 1):
            for col, ((_title, kind), value) in enumerate(zip(table.columns, values,
                                                              strict=True)):
                if kind == "percent" and value is not None:
                    sheet.write_number(row, col, value, percent)
                else:
                    cells.write(sheet, row, col, value)
        sheet.freeze_panes(header + 1, 1)
