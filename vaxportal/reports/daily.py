"""The daily report (issue 15): each vaccinating facility's totals of one day (doses by
vaccine and dose number, severe adverse events), its confirmation by the facility, and what a
supervisor or reviewer sees of its subtree.

Every figure comes from ONE grouped statement over the day's doses (the
``(facility_id, given_on)`` index), scoped through the policy; Python only adds up its few
aggregate rows. The same statement gives each facility's fingerprint of the doses behind its
totals: their count, the sums of their ids, of their versions, of id x version and of their
recipients' ids. A dose of the day added, corrected (its ``version_id`` grows on every
update) or deleted changes it (SQLite may give a new dose the id of the last one deleted: the
recipient and the version still tell them apart), so a confirmation whose stored fingerprint
differs from today's is re-opened, with no listener on the doses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from vaxportal import policy
from vaxportal.extensions import db
from vaxportal.facilities.models import VACCINATING_KINDS, Facility
from vaxportal.recipients.models import Aefi, Dose, Vaccine
from vaxportal.reports.models import DailyReportConfirmation
from vaxportal.timeutil import utcnow

CONFIRMED = "confirmed"
UNCONFIRMED = "unconfirmed"
REOPENED = "reopened"
_ZERO = (0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Line:
    """Doses of one vaccine and dose number on the day, and how many had a severe AEFI."""

    code: str
    vaccine: str
    number: int
    doses: int
    severe: int


@dataclass
class DayTotals:
    """A facility's (or a subtree's) day: its lines, by vaccine name then dose number."""

    lines: dict[tuple[str, int], Line] = field(default_factory=dict)
    prints: tuple[int, ...] = _ZERO

    @property
    def doses(self) -> int:
        return sum(line.doses for line in self.lines.values())

    @property
    def severe(self) -> int:
        return sum(line.severe for line in self.lines.values())

    @property
    def fingerprint(self) -> str:
        return ".".join(str(n) for n in self.prints)

    def sorted_lines(self) -> list[Line]:
        return sorted(self.lines.values(), key=lambda line: (line.vaccine, line.number))

    def numbers(self) -> list[int]:
        return sorted({line.number for line in self.lines.values()})

    def per_number(self) -> dict[int, int]:
        """{dose number: doses}: the table's foot."""
        found: dict[int, int] = defaultdict(int)
        for line in self.lines.values():
            found[line.number] += line.doses
        return dict(found)

    def by_vaccine(self) -> list[tuple[str, dict[int, int], int, int]]:
        """(vaccine, {dose number: doses}, doses, severe) per vaccine: the table's rows."""
        table: dict[str, dict[int, int]] = defaultdict(dict)
        severe: dict[str, int] = defaultdict(int)
        for line in self.lines.values():
            table[line.vaccine][line.number] = line.doses
            severe[line.vaccine] += line.severe
        return [(name, row, sum(row.values()), severe[name]) for name, row in sorted(
            table.items())]

    def add(self, line: Line, prints=_ZERO) -> None:
        key = (line.code, line.number)
        old = self.lines.get(key)
        if old is not None:
            line = Line(line.code, line.vaccine, line.number, old.doses + line.doses,
                        old.severe + line.severe)
        self.lines[key] = line
        self.prints = tuple(a + b for a, b in zip(self.prints, prints, strict=True))

    def snapshot(self) -> dict:
        """The totals as a confirmation stores them (JSON)."""
        return {"lines": [[line.code, line.vaccine, line.number, line.doses, line.severe]
                          for line in self.sorted_lines()]}

    @classmethod
    def from_snapshot(cls, data: dict | None) -> DayTotals:
        totals = cls()
        for code, vaccine, number, doses, severe in (data or {}).get("lines", []):
            totals.add(Line(code, vaccine, int(number), int(doses), int(severe)))
        return totals


@dataclass(frozen=True)
class Change:
    """One line whose figures differ between the confirmed totals and today's."""

    vaccine: str
    number: int
    doses_before: int
    doses_now: int
    severe_before: int
    severe_now: int


def changes(confirmed: DayTotals, current: DayTotals) -> list[Change]:
    """The lines that differ, in the table's order."""
    keys = sorted(set(confirmed.lines) | set(current.lines),
                  key=lambda key: ((current.lines.get(key) or confirmed.lines[key]).vaccine,
                                   key[1]))
    found = []
    for key in keys:
        before = confirmed.lines.get(key)
        now = current.lines.get(key)
        figures = (before.doses if before else 0, now.doses if now else 0,
                   before.severe if before else 0, now.severe if now else 0)
        if figures[0] != figures[1] or figures[2] != figures[3]:
            found.append(Change((now or before).vaccine, key[1], *figures))
    return found


# -- the figures ---------------------------------------------------------------------------


def _day_statement(day: date) -> sa.Select:
    severe = sa.case((Dose.aefi == Aefi.severe, 1), else_=0)
    return (sa.select(Dose.facility_id, Vaccine.code, Vaccine.name, Dose.dose_number,
                      sa.func.count(), sa.func.sum(severe), sa.func.sum(Dose.id),
                      sa.func.sum(Dose.version_id),
                      sa.func.sum(sa.cast(Dose.id, sa.BigInteger) * Dose.version_id),
                      sa.func.sum(Dose.recipient_id))
            .join(Vaccine, Vaccine.id == Dose.vaccine_id)
            .where(Dose.given_on == day)
            .group_by(Dose.facility_id, Vaccine.code, Vaccine.name, Dose.dose_number))


def _collect(stmt: sa.Select) -> dict[int, DayTotals]:
    per_facility: dict[int, DayTotals] = defaultdict(DayTotals)
    for fid, code, name, number, count, severe, *sums in db.session.execute(stmt):
        per_facility[fid].add(Line(code, name, int(number), int(count), int(severe or 0)),
                              (int(count), *(int(n) for n in sums)))
    return dict(per_facility)


def facility_totals(facility_id: int, day: date) -> DayTotals:
    """One facility's own day (its doses only), for its confirmation; the caller has checked
    that the facility is the account's own."""
    stmt = _day_statement(day).where(Dose.facility_id == facility_id)
    return _collect(stmt).get(facility_id, DayTotals())


def subtree_totals(account, node: Facility, day: date) -> dict[int, DayTotals]:
    """{facility id: its day} of every facility at or below ``node`` in the account's scope
    that gave a dose that day."""
    return _collect(policy.scope(account).filter_below(
        _day_statement(day), Dose.facility_id, node.id))


def total_of(per_facility: dict[int, DayTotals]) -> DayTotals:
    whole = DayTotals()
    for totals in per_facility.values():
        for line in totals.lines.values():
            whole.add(line)
    return whole


# -- each facility's state -----------------------------------------------------------------


@dataclass
class FacilityDay:
    """A facility of the report: its totals, its confirmation and what it says now."""

    facility_id: int
    name: str
    totals: DayTotals
    confirmation: DailyReportConfirmation | None = None

    @property
    def status(self) -> str:
        if self.confirmation is None:
            return UNCONFIRMED
        if self.confirmation.fingerprint != self.totals.fingerprint:
            return REOPENED
        return CONFIRMED

    @property
    def confirmed_totals(self) -> DayTotals | None:
        return None if self.confirmation is None else DayTotals.from_snapshot(
            self.confirmation.totals)

    def changes(self) -> list[Change]:
        confirmed = self.confirmed_totals
        return [] if confirmed is None else changes(confirmed, self.totals)


@dataclass
class DailyReport:
    node: Facility
    day: date
    total: DayTotals
    facilities: list[FacilityDay]

    @property
    def own(self) -> FacilityDay | None:
        """The node itself, when it is one of the facilities that report."""
        return next((f for f in self.facilities if f.facility_id == self.node.id), None)

    @property
    def waiting(self) -> list[FacilityDay]:
        return [f for f in self.facilities if f.status != CONFIRMED]


def _facilities(account, node: Facility, giving: set[int]) -> list[tuple[int, str]]:
    """(id, name) of the vaccinating facilities at or below ``node`` in scope, and of
    any other that gave a dose that day."""
    stmt = sa.select(Facility.id, Facility.name).where(sa.or_(
        Facility.kind.in_(sorted(VACCINATING_KINDS)), Facility.id.in_(sorted(giving))))
    stmt = policy.scope(account).filter_below(stmt, Facility.id, node.id)
    return [tuple(row) for row in db.session.execute(stmt.order_by(Facility.name, Facility.id))]


def _confirmations(account, node: Facility, day: date) -> dict[int, DailyReportConfirmation]:
    stmt = sa.select(DailyReportConfirmation).where(DailyReportConfirmation.day == day)
    stmt = policy.scope(account).filter_below(stmt, DailyReportConfirmation.facility_id,
                                              node.id)
    return {row.facility_id: row for row in db.session.scalars(stmt)}


def report(account, node: Facility, day: date) -> DailyReport:
    """The day of ``node``'s subtree as ``account`` reads it: its total, and each reporting
    facility with its totals and confirmation, those still to confirm first."""
    per_facility = subtree_totals(account, node, day)
    confirmed = _confirmations(account, node, day)
    days = [FacilityDay(fid, name, per_facility.get(fid, DayTotals()), confirmed.get(fid))
            for fid, name in _facilities(account, node, set(per_facility))]
    days.sort(key=lambda f: f.status == CONFIRMED)  # stable: by name within each group
    return DailyReport(node=node, day=day, total=total_of(per_facility), facilities=days)


# -- confirming ----------------------------------------------------------------------------


class TotalsChanged(Exception):
    """The day's doses changed between the page the account read and its click."""


def confirm(account, facility_id: int, day: date, seen: str) -> DailyReportConfirmation:
    """Record that the facility's account confirmed the totals it was shown (``seen``, their
    fingerprint); a confirmation of the same day is replaced (the audit trail keeps the
    earlier one). The caller commits."""
    totals = facility_totals(facility_id, day)
    if totals.fingerprint != seen:
        raise TotalsChanged
    row = db.session.scalar(sa.select(DailyReportConfirmation).where(
        DailyReportConfirmation.facility_id == facility_id,
        DailyReportConfirmation.day == day))
    if row is None:
        row = DailyReportConfirmation(facility_id=facility_id, day=day)
        db.session.add(row)
    row.account_id = account.id
    row.confirmed_at = utcnow()
    row.totals = totals.snapshot()
    row.fingerprint = totals.fingerprint
    return row
