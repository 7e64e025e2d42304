"""Coverage against target populations, and doses over time, for any subtree: every figure
is one GROUP BY in the database (never rows in Python), scoped through the policy.

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
from vaxportal.reports.models import ALL, TargetPopulation

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


def band_column(as_of: date):
    """``age_band`` as SQL: birth dates against the bands' limits on ``as_of``."""
    whens = [(Recipient.date_of_birth <= years_before(as_of, low), code)
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


def _recipients(account, node: Facility) -> sa.Select:
    """``SELECT id`` of the people counted: not merged away, at home in the subtree, in the
    account's scope (walks the recipient's facility index)."""
    stmt = sa.select(Recipient.id).where(Recipient.merged_into_id.is_(None))
    return policy.scope(account).filter_below(stmt, Recipient.facility_id, node.id)


def _people(as_of: date, recipient_ids: sa.Select):
    """Per recipient of ``recipient_ids`` with a dose by ``as_of``: completed a series? had a
    booster? (the doses are read through their recipient index, never the whole table)"""
    complete = sa.case((Dose.dose_number >= Vaccine.doses_in_series, 1), else_=0)
    booster = sa.case((Dose.dose_number > Vaccine.doses_in_series, 1), else_=0)
    return (
        sa.select(Dose.recipient_id.label("recipient_id"),
                  sa.func.max(complete).label("complete"),
                  sa.func.max(booster).label("booster"))
        .join(Vaccine, Vaccine.id == Dose.vaccine_id)
        .where(Dose.given_on <= as_of, Dose.recipient_id.in_(recipient_ids))
        .group_by(Dose.recipient_id)
        .subquery("people")
    )


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


def _counts(account, node: Facility, as_of: date, key, joins=()) -> dict:
    people = _people(as_of, _recipients(account, node))
    stmt = (sa.select(key.label("key"), sa.func.count().label("dose1"),
                      sa.func.sum(people.c.complete), sa.func.sum(people.c.booster))
            .select_from(Recipient)
            .join(people, people.c.recipient_id == Recipient.id))
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.group_by(key)
    return {row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0))
            for row in db.session.execute(stmt)}


def _targets(account, node: Facility, as_of: date, key, where, joins=()) -> dict:
    stmt = sa.select(key.label("key"), sa.func.sum(TargetPopulation.total))
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(TargetPopulation.period_start <= as_of,
                      TargetPopulation.period_end >= as_of, *where)
    stmt = policy.scope(account).filter_below(
        stmt, TargetPopulation.facility_id, node.id).group_by(key)
    return {row[0]: int(row[1] or 0) for row in db.session.execute(stmt)}


_WHOLE = (TargetPopulation.priority_group == ALL, TargetPopulation.age_band == ALL)


def coverage(account, node: Facility, as_of: date, by: str = "facility") -> Coverage:
    """The subtree of ``node`` on ``as_of``: its total, and one line per child facility,
    priority group or age band (``by``)."""
    one = sa.literal(1)
    counts = _counts(account, node, as_of, one).get(1, (0, 0, 0))
    target = _targets(account, node, as_of, one, _WHOLE).get(1)
    total = Figure(key="total", label=node.name, dose1=counts[0], complete=counts[1],
                   booster=counts[2], target=target, facility_id=node.id)
    return Coverage(total=total, lines=_LINES[by](account, node, as_of))


def _facility_lines(account, node: Facility, as_of: date) -> list[Figure]:
    lines = _children(node)
    counts = _counts(account, node, as_of, lines.c.line,
                     [(lines, lines.c.fid == Recipient.facility_id)])
    targets = _targets(account, node, as_of, lines.c.line, _WHOLE,
                       [(lines, lines.c.fid == TargetPopulation.facility_id)])
    children = db.session.execute(policy.scope(account).filter(
        sa.select(Facility.id, Facility.name).where(Facility.parent_id == node.id), Facility.id
    ).order_by(Facility.name, Facility.id)).all()
    own = [(node.id, node.name)] if node.id in counts or node.id in targets else []
    return [_figure(fid, name, counts, targets, facility_id=fid)
            for fid, name in own + [tuple(row) for row in children]]


def _group_lines(account, node: Facility, as_of: date) -> list[Figure]:
    from vaxportal.recipients.codes import priority_groups

    key = sa.func.coalesce(Recipient.priority_group, UNKNOWN)
    counts = _counts(account, node, as_of, key)
    targets = _targets(account, node, as_of, TargetPopulation.priority_group,
                       (TargetPopulation.priority_group != ALL,
                        TargetPopulation.age_band == ALL))
    labels = dict(priority_groups(active_only=False))
    keys = sorted(set(counts) | set(targets), key=lambda k: (k == UNKNOWN, k))
    return [_figure(k, labels.get(k, k) if k else str(_l("Chưa ghi nhóm")), counts, targets)
            for k in keys]


def _band_lines(account, node: Facility, as_of: date) -> list[Figure]:
    counts = _counts(account, node, as_of, band_column(as_of))
    targets = _targets(account, node, as_of, TargetPopulation.age_band,
                       (TargetPopulation.age_band != ALL,
                        TargetPopulation.priority_group == ALL))
    return [_figure(code, code, counts, targets) for code in BAND_CODES
            if code in counts or code in targets]


def _figure(key, label, counts: dict, targets: dict, facility_id=None) -> Figure:
    dose1, complete, booster = counts.get(key, (0, 0, 0))
    return Figure(key=key, label=label, dose1=dose1, complete=complete, booster=booster,
                  target=targets.get(key), facility_id=facility_id)


_LINES = {"facility": _facility_lines, "group": _group_lines, "band": _band_lines}


# -- doses over a period ---------------------------------------------------------------------


def _doses(account, node: Facility, start: date, end: date) -> sa.Select:
    stmt = sa.select().select_from(Dose).where(Dose.given_on >= start, Dose.given_on <= end)
    return policy.scope(account).filter_below(stmt, Dose.facility_id, node.id)


def doses_by_vaccine(account, node: Facility, start: date, end: date) -> list[dict]:
    """Per vaccine given in the subtree over the period: doses by dose number."""
    stmt = (_doses(account, node, start, end)
            .add_columns(Vaccine.name, Dose.dose_number, sa.func.count())
            .join(Vaccine, Vaccine.id == Dose.vaccine_id)
            .group_by(Vaccine.name, Dose.dose_number))
    table: dict[str, dict[int, int]] = defaultdict(dict)
    for name, number, count in db.session.execute(stmt):
        table[name][number] = int(count)
    return [{"vaccine": name, "by_number": by_number, "total": sum(by_number.values())}
            for name, by_number in sorted(table.items())]


def doses_over_time(account, node: Facility, start: date, end: date,
                    step: str = "day") -> list[tuple[date, int]]:
    """Doses given in the subtree per day (or per week from Monday), every day or week of
    the period listed, with 0 where none was given."""
    stmt = (_doses(account, node, start, end)
            .add_columns(Dose.given_on, sa.func.count()).group_by(Dose.given_on))
    per_day = {given_on: int(count) for given_on, count in db.session.execute(stmt)}
    buckets: dict[date, int] = {}
    day = start
    while day <= end:
        bucket = day - timedelta(days=day.weekday()) if step == "week" else day
        buckets[bucket] = buckets.get(bucket, 0) + per_day.get(day, 0)
        day += timedelta(days=1)
    return list(buckets.items())
