"""Coverage against target populations, and doses over time, for any subtree: every figure
is one GROUP BY in the database (never rows in Python), scoped through the policy. People
are counted from the coverage summary (``summary.py``: ``CoverageTally`` rolled up to each
facility, or ``CoveragePerson`` where the scope holds only part of a branch), kept in the
same transaction as the doses, so a province costs about what a commune does.

* people with dose 1: recipients (not merged away) of the subtree with any dose given by the
  reference day;
* a complete primary series: a dose whose number reaches its vaccine's ``doses_in_series``;
* a booster: a dose whose number is above it;
* the target: ``TargetPopulation`` rows of the subtree whose period holds the reference day.

People count at their home facility (``recipient.facility_id``); doses count where they
were given (``dose.facility_id``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from vaxportal import policy
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.reports.models import (
    ALL,
    EVERY,
    CoveragePerson,
    CoverageTally,
    DoseTally,
    TargetPopulation,
)

#: (code, youngest age, oldest age + 1 or None): the age bands of targets and coverage
AGE_BANDS = (
    ("0-11", 0, 12),
    ("12-17", 12, 18),
    ("18-49", 18, 50),
    ("50-64", 50, 65),
    ("65+", 65, None),
)
BAND_CODES = tuple(code for code, _lo, _hi in AGE_BANDS)
#: breakdowns of the coverage table
BREAKDOWNS = {
    "facility": _l("Theo cơ sở"),
    "group": _l("Theo nhóm ưu tiên"),
    "band": _l("Theo nhóm tuổi"),
}
STEPS = {"day": _l("Theo ngày"), "week": _l("Theo tuần")}
UNKNOWN = ""  # a recipient without a priority group


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band(date_of_birth: date, as_of: date) -> str:
    """The band of a person on ``as_of`` (the same rule as ``band_column``, for one date)."""
    for code, low, _high in reversed(AGE_BANDS):
        if date_of_birth <= years_before(as_of, low):
            return code
    return AGE_BANDS[0][0]


def band_column(as_of: date, born=Recipient.date_of_birth):
    """``age_band`` as SQL: birth dates against the bands' limits on ``as_of``."""
    whens = [(born <= years_before(as_of, low), code)
             for code, low, _high in reversed(AGE_BANDS) if low > 0]
    return sa.case(*whens, else_=AGE_BANDS[0][0])


# -- the figures ---------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the coverage table."""

    key: object
    label: str = ""
    dose1: int = 0
    complete: int = 0
    booster: int = 0
    target: int | None = None
    facility_id: int | None = None  # a line that drills down to this facility

    def share(self, count: int) -> float | None:
        return count / self.target if self.target else None


@dataclass
class Coverage:
    total: Figure
    lines: list[Figure] = field(default_factory=list)


def _on_day(as_of: date) -> tuple:
    """The tally's rows up to ``as_of``, as three index ranges: whole years before its
    year, the months of its year before its month, the days of its month up to it. (Three
    statements of one UNION ALL: an OR of the three lets SQLite's planner read the node's
    every row, the birthdays of years to come included.)"""
    year, month = as_of.replace(month=1, day=1), as_of.replace(day=1)
    grain, day = CoverageTally.grain, CoverageTally.day
    return ((grain == "y", day < year),
            (grain == "m", day >= year, day < month),
            (grain == "d", day >= month, day <= as_of))


class _Counts:
    """People with dose 1, a complete series, a booster on ``as_of``, by a key. When the
    account's scope holds the node's whole branch (``Scope.covers_below``), from the tally
    rolled up to the node and its children (a few hundred rows, whatever the number of
    people); otherwise from the per-person summary of the facilities in scope."""

    def __init__(self, account, node: Facility, as_of: date) -> None:
        self.account, self.node, self.as_of = account, node, as_of
        self.rolled = policy.scope(account).covers_below(node.id)

    def by(self, key: str) -> dict:
        """``key`` is ``group`` or ``band``."""
        if self.rolled:
            tally = CoverageTally
            column, where = {
                "group": (tally.priority_group, (tally.band == EVERY,
                                                 tally.priority_group != EVERY)),
                "band": (tally.band, (tally.priority_group == EVERY, tally.band != EVERY)),
            }[key]
            return self._tally(column, tally.node_id == self.node.id, *where)
        column = {"group": CoveragePerson.priority_group,
                  "band": band_column(self.as_of, CoveragePerson.date_of_birth)}[key]
        return self._people(column)

    def lines(self, child_ids: list[int]) -> dict:
        """By child of the node (the node's own people under its own id)."""
        if not self.rolled:
            lines = _children(self.node)
            return self._people(lines.c.line,
                                [(lines, lines.c.fid == CoveragePerson.facility_id)])
        counts = self._tally(CoverageTally.node_id,
                             CoverageTally.node_id.in_([self.node.id, *child_ids]),
                             CoverageTally.priority_group == EVERY, CoverageTally.band == EVERY)
        own = list(counts.pop(self.node.id, (0, 0, 0)))
        for child in counts.values():
            own = [a - b for a, b in zip(own, child, strict=True)]
        if own[0]:
            counts[self.node.id] = tuple(own)
        return counts

    def _tally(self, key, *where) -> dict:
        tally = CoverageTally
        parts = sa.union_all(*(
            sa.select(key.label("key"), tally.dose1, tally.complete, tally.booster)
            .where(*where, *bounds) for bounds in _on_day(self.as_of))).subquery("rows")
        stmt = (sa.select(parts.c.key, sa.func.sum(parts.c.dose1),
                          sa.func.sum(parts.c.complete), sa.func.sum(parts.c.booster))
                .group_by(parts.c.key))
        rows = ((k, int(d or 0), int(c or 0), int(b or 0))
                for k, d, c, b in db.session.execute(stmt))
        return {k: (d, c, b) for k, d, c, b in rows if d}

    def _people(self, key, joins=()) -> dict:
        person, as_of = CoveragePerson, self.as_of
        stmt = sa.select(key.label("key"), sa.func.count(),
                         sa.func.sum(sa.case((person.complete_on <= as_of, 1), else_=0)),
                         sa.func.sum(sa.case((person.booster_on <= as_of, 1), else_=0)))
        stmt = stmt.select_from(person)
        for target, on in joins:
            stmt = stmt.join(target, on)
        stmt = policy.scope(self.account).filter_below(
            stmt.where(person.first_on <= as_of), person.facility_id, self.node.id)
        return {row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0))
                for row in db.session.execute(stmt.group_by(key))}


def _children(node: Facility):
    """(facility id, line id) of the subtree: each facility under the child of ``node`` it
    belongs to; the node itself is its own line."""
    child = sa.orm.aliased(Facility)
    below = (sa.select(Facility.id.label("fid"), child.id.label("line"))
             .join(child, sa.and_(child.parent_id == node.id,
                                  Facility.path >= child.path,
                                  Facility.path < child.path + "\uffff")))
    own = sa.select(sa.literal(node.id).label("fid"), sa.literal(node.id).label("line"))
    return sa.union_all(below, own).subquery("lines")


#: the dashboard's lines of a subtree, for the other per-facility tables (``aefi.py``)
facility_lines = _children


def _targets(account, node: Facility, as_of: date, lines=None) -> dict:
    """{(line, group, band): total} of the subtree's target rows whose period holds
    ``as_of``, in one query (by child line of ``node`` when ``lines`` is given)."""
    tp = TargetPopulation
    keys = [tp.priority_group, tp.age_band]
    if lines is not None:
        keys.insert(0, lines.c.line)
    stmt = sa.select(*keys, sa.func.sum(tp.total))
    if lines is not None:
        stmt = stmt.join(lines, lines.c.fid == tp.facility_id)
    stmt = stmt.where(tp.period_start <= as_of, tp.period_end >= as_of)
    stmt = policy.scope(account).filter_below(stmt, tp.facility_id, node.id).group_by(*keys)
    rows = db.session.execute(stmt).all()
    if lines is None:
        return {(node.id, group, band): int(total or 0) for group, band, total in rows}
    return {(line, group, band): int(total or 0) for line, group, band, total in rows}


def _target_lines(targets: dict, part: str) -> dict:
    """{key: total} of one breakdown: by line (the whole population's rows), by group or by
    band (the other one ``ALL``)."""
    out: dict = {}
    for (line, group, band), total in targets.items():
        key = {"facility": line if group == ALL and band == ALL else None,
               "group": group if group != ALL and band == ALL else None,
               "band": band if band != ALL and group == ALL else None}[part]
        if key is not None:
            out[key] = out.get(key, 0) + total
    return out


def coverage(account, node: Facility, as_of: date, by: str = "facility") -> Coverage:
    """The subtree of ``node`` on ``as_of``: its total, and one line per child facility,
    priority group or age band (``by``). Each person is on one line of any breakdown, so the
    total is the lines' sum: two or three statements in all."""
    lines, counts, targets = _LINES[by](account, node, as_of, _Counts(account, node, as_of))
    sums = [sum(values) for values in zip(*counts.values(), strict=True)] or [0, 0, 0]
    whole = _target_lines(targets, "facility")
    total = Figure(key="total", label=node.name, dose1=sums[0], complete=sums[1],
                   booster=sums[2], target=sum(whole.values()) if whole else None,
                   facility_id=node.id)
    return Coverage(total=total, lines=lines)


def _facility_lines(account, node: Facility, as_of: date, counter: _Counts):
    children = db.session.execute(policy.scope(account).filter(
        sa.select(Facility.id, Facility.name).where(Facility.parent_id == node.id), Facility.id
    ).order_by(Facility.name, Facility.id)).all()
    counts = counter.lines([fid for fid, _name in children])
    targets = _targets(account, node, as_of, _children(node))
    by_line = _target_lines(targets, "facility")
    own = [(node.id, node.name)] if node.id in counts or node.id in by_line else []
    return ([_figure(fid, name, counts, by_line, facility_id=fid)
             for fid, name in own + [tuple(row) for row in children]], counts, targets)


def _group_lines(account, node: Facility, as_of: date, counter: _Counts):
    from vaxportal.recipients.codes import priority_groups

    counts = counter.by("group")
    targets = _targets(account, node, as_of)
    by_group = _target_lines(targets, "group")
    labels = dict(priority_groups(active_only=False))
    keys = sorted(set(counts) | set(by_group), key=lambda k: (k == UNKNOWN, k))
    return ([_figure(k, labels.get(k, k) if k else str(_l("Chưa ghi nhóm")), counts, by_group)
             for k in keys], counts, targets)


def _band_lines(account, node: Facility, as_of: date, counter: _Counts):
    counts = counter.by("band")
    targets = _targets(account, node, as_of)
    by_band = _target_lines(targets, "band")
    return ([_figure(code, code, counts, by_band) for code in BAND_CODES
             if code in counts or code in by_band], counts, targets)


def _figure(key, label, counts: dict, targets: dict, facility_id=None) -> Figure:
    dose1, complete, booster = counts.get(key, (0, 0, 0))
    return Figure(key=key, label=label, dose1=dose1, complete=complete, booster=booster,
                  target=targets.get(key), facility_id=facility_id)


_LINES = {"facility": _facility_lines, "group": _group_lines, "band": _band_lines}


# -- doses over a period ---------------------------------------------------------------------


def _doses(account, node: Facility, start: date, end: date):
    """(the count, a statement of the subtree's doses over the period): from ``DoseTally``
    at the node when the scope holds its whole branch, else from the doses in scope."""
    if policy.scope(account).covers_below(node.id):
        tally = DoseTally
        stmt = sa.select().select_from(tally).where(
            tally.node_id == node.id, tally.day >= start, tally.day <= end)
        return sa.func.sum(tally.doses), stmt, tally
    stmt = sa.select().select_from(Dose).where(Dose.given_on >= start, Dose.given_on <= end)
    return (sa.func.count(), policy.scope(account).filter_below(stmt, Dose.facility_id, node.id),
            None)


def doses_by_vaccine(account, node: Facility, start: date, end: date) -> list[dict]:
    """Per vaccine given in the subtree over the period: doses by dose number."""
    count, stmt, tally = _doses(account, node, start, end)
    vaccine_id = tally.vaccine_id if tally is not None else Dose.vaccine_id
    number = tally.dose_number if tally is not None else Dose.dose_number
    stmt = (stmt.add_columns(Vaccine.name, number, count)
            .join(Vaccine, Vaccine.id == vaccine_id)
            .group_by(Vaccine.name, number))
    table: dict[str, dict[int, int]] = defaultdict(dict)
    for name, dose_number, doses in db.session.execute(stmt):
        if doses:
            table[name][dose_number] = table[name].get(dose_number, 0) + int(doses)
    return [{"vaccine": name, "by_number": by_number, "total": sum(by_number.values())}
            for name, by_number in sorted(table.items())]


def doses_over_time(account, node: Facility, start: date, end: date,
                    step: str = "day") -> list[tuple[date, int]]:
    """Doses given in the subtree per day (or per week from Monday), every day or week of
    the period listed, with 0 where none was given."""
    count, stmt, tally = _doses(account, node, start, end)
    day = tally.day if tally is not None else Dose.given_on
    stmt = stmt.add_columns(day, count).group_by(day)
    per_day = {given_on: int(n or 0) for given_on, n in db.session.execute(stmt)}
    buckets: dict[date, int] = {}
    day = start
    while day <= end:
        bucket = day - timedelta(days=day.weekday()) if step == "week" else day
        buckets[bucket] = buckets.get(bucket, 0) + per_day.get(day, 0)
        day += timedelta(days=1)
    return list(buckets.items())
