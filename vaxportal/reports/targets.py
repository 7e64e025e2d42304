"""Entering target populations: one figure typed by the supervisor, or a spreadsheet of them
(facility code, priority group, age band, count). A facility outside the supervisor's
subtree, an unknown code or a bad count refuses the whole file: nothing is written unless
every row is right."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import IO

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from vaxportal import policy
from vaxportal.exports import reader
from vaxportal.exports.xlsx import Column
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.reports.coverage import BAND_CODES
from vaxportal.reports.models import ALL, TargetPopulation

IMPORT_COLUMNS = (
    Column("facility_code", _l("Mã cơ sở"), aliases=("Facility code",)),
    Column("priority_group", _l("Nhóm ưu tiên"), aliases=("Priority group",)),
    Column("age_band", _l("Nhóm tuổi"), aliases=("Age band",)),
    Column("total", _l("Số người"), kind="int", aliases=("Count",)),
)
#: more rows than this in one file is not a list of targets
MAX_ROWS = 20_000


class TargetError(ValueError):
    """``str()`` is the message for the person who typed it."""


@dataclass
class Figure:
    facility_id: int
    priority_group: str
    age_band: str
    total: int


def writable_facilities(account) -> list[tuple[int, str]]:
    """(id, name) of the facilities the account enters targets for (its write scope)."""
    return [tuple(row) for row in db.session.execute(
        policy.scoped(sa.select(Facility.id, Facility.name), Facility.id, account, write=True)
        .order_by(Facility.path)
    )]


def save(figure: Figure, start: date, end: date) -> TargetPopulation:
    """Add or change the figure of a period (same start: changed); a period overlapping
    another of the same facility, group and band is refused (coverage would count twice)."""
    row = db.session.scalar(sa.select(TargetPopulation).where(
        TargetPopulation.facility_id == figure.facility_id,
        TargetPopulation.period_start == start,
        TargetPopulation.priority_group == figure.priority_group,
        TargetPopulation.age_band == figure.age_band,
    ))
    overlapping = db.session.scalar(sa.select(sa.func.count(TargetPopulation.id)).where(
        TargetPopulation.facility_id == figure.facility_id,
        TargetPopulation.priority_group == figure.priority_group,
        TargetPopulation.age_band == figure.age_band,
        TargetPopulation.period_start != start,
        TargetPopulation.period_start <= end, TargetPopulation.period_end >= start,
    ))
    if overlapping:
        raise TargetError(_("Đã có số đối tượng của một khoảng thời gian chồng lên khoảng "
                            "này (cùng cơ sở, nhóm ưu tiên và nhóm tuổi)."))
    if row is None:
        row = TargetPopulation(facility_id=figure.facility_id, period_start=start,
                               priority_group=figure.priority_group, age_band=figure.age_band)
        db.session.add(row)
    row.period_end = end
    row.total = figure.total
    db.session.flush()
    return row


@dataclass
class ImportResult:
    saved: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_file(upload: IO[bytes], start: date, end: date, account) -> ImportResult:
    """Check every row, then write them all (flushed, not committed), or none."""
    if not reader.looks_like_xlsx(upload, int(current_app.config["IMPORT_MAX_BYTES"]) * 20):
        raise TargetError(_("Tệp tải lên không phải tệp Excel (.xlsx)."))
    codes = {code: fid for fid, code in db.session.execute(
        policy.scoped(sa.select(Facility.id, Facility.code), Facility.id, account, write=True))}
    result, figures = ImportResult(), []
    try:
        for number, record in reader.iter_rows(upload, IMPORT_COLUMNS):
            if number > MAX_ROWS:
                raise TargetError(_("Tệp có quá nhiều dòng (tối đa %(n)s).", n=MAX_ROWS))
            try:
                figures.append(_figure(record, codes))
            except TargetError as error:
                result.errors.append((number, str(error)))
    except reader.ImportFileError as error:
        raise TargetError(str(error)) from error
    if not figures and not result.errors:
        raise TargetError(_("Tệp không có dòng số liệu nào."))
    if result.errors:
        return result
    for figure in figures:
        save(figure, start, end)
    result.saved = len(figures)
    return result


def _figure(record: dict, codes: dict[str, int]) -> Figure:
    from vaxportal.recipients.codes import priority_groups

    code = str(record.get("facility_code") or "").strip().upper()
    if code not in codes:  # unknown and outside the subtree answer alike
        raise TargetError(_("Mã cơ sở không có trong phạm vi của tài khoản."))
    group = str(record.get("priority_group") or "").strip().upper()
    if group and group not in dict(priority_groups()):
        raise TargetError(_("Nhóm ưu tiên không có trong danh mục."))
    band = str(record.get("age_band") or "").strip()
    if band and band not in BAND_CODES:
        raise TargetError(_("Nhóm tuổi phải là một trong: %(bands)s.",
                            bands=", ".join(BAND_CODES)))
    if group and band:
        raise TargetError(_("Một dòng ghi số theo nhóm ưu tiên hoặc theo nhóm tuổi, "
                            "không cả hai."))
    total = record.get("total")
    if isinstance(total, str) and total.strip().isdigit():
        total = int(total.strip())
    if not isinstance(total, int) or isinstance(total, bool) or not 0 <= total <= 50_000_000:
        raise TargetError(_("Số người phải là số nguyên từ 0 đến 50.000.000."))
    return Figure(codes[code], group or ALL, band or ALL, total)


def listed(account, limit: int = 200) -> list[TargetPopulation]:
    """The latest figures of the account's subtree, newest period first."""
    stmt = policy.scoped(sa.select(TargetPopulation), TargetPopulation.facility_id, account)
    return list(db.session.scalars(stmt.order_by(
        TargetPopulation.period_end.desc(), TargetPopulation.facility_id,
        TargetPopulation.priority_group, TargetPopulation.age_band).limit(limit)))
