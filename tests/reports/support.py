"""Helpers of the reports tests (the place is the shared ``place`` fixture): people and
doses, and a brute-force count of every figure straight from the rows (the reference the SQL
is compared with)."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.services import create_recipient
from vaxportal.reports.models import TargetPopulation

_nid = itertools.count(500_000)
_phone = itertools.count(1_000_000)

#: every recipient with its doses (no relationship loads itself)
WITH_DOSES = sa.select(Recipient).options(selectinload(Recipient.doses))


def vaccine(code: str) -> Vaccine:
    return db.session.scalar(sa.select(Vaccine).where(Vaccine.code == code))


def add_person(facility, *, born=date(1980, 1, 1), group=None, phone=None,
               name="Nguyễn Văn An") -> Recipient:
    values = {"full_name": name, "date_of_birth": born, "gender": "male",
              "national_id": f"089080{next(_nid):06d}", "priority_group": group,
              "phone": phone or f"+8491{next(_phone):07d}"}
    return create_recipient(values, facility.id)


def add_dose(recipient: Recipient, code: str, number: int, given_on: date,
             facility_id: int | None = None) -> Dose:
    dose = Dose(recipient_id=recipient.id, facility_id=facility_id or recipient.facility_id,
                vaccine_id=vaccine(code).id, lot_number=f"{code}-1", dose_number=number,
                given_on=given_on, vaccinator="Lê Thị Tiêm")
    db.session.add(dose)
    return dose


# -- the brute force: plain Python over every row ---------------------------------------------


def _subtree(node: Facility) -> set[int]:
    return {f.id for f in db.session.scalars(sa.select(Facility))
            if f.path.startswith(node.path)}


def _readable(account) -> set[int]:
    """The scope as the role table says it, written out again for the test."""
    if account.role in ("supervisor", "reviewer"):
        return _subtree(db.session.get(Facility, account.facility_id))
    return {account.facility_id}


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def band_of(born: date, on: date) -> str:
    age = _age(born, on)
    for code, low, high in (("0-11", 0, 12), ("12-17", 12, 18), ("18-49", 18, 50),
                            ("50-64", 50, 65), ("65+", 65, 999)):
        if low <= age < high:
            return code
    return "0-11"


def brute_coverage(account, node: Facility, as_of: date) -> dict:
    """{"total": (dose1, complete, booster), "facility": {line: ...}, "group": {...},
    "band": {...}} and the targets, from every row."""
    facilities = {f.id: f for f in db.session.scalars(sa.select(Facility))}
    keep = _subtree(node) & _readable(account)
    series = {v.id: v.doses_in_series for v in db.session.scalars(sa.select(Vaccine))}
    doses = defaultdict(list)
    for dose in db.session.scalars(sa.select(Dose)):
        if dose.given_on <= as_of:
            doses[dose.recipient_id].append(dose)
    out = {"total": [0, 0, 0], "facility": defaultdict(lambda: [0, 0, 0]),
           "group": defaultdict(lambda: [0, 0, 0]), "band": defaultdict(lambda: [0, 0, 0])}
    for person in db.session.scalars(WITH_DOSES):
        if person.merged_into_id or person.facility_id not in keep or not doses[person.id]:
            continue
        given = doses[person.id]
        flags = (1, int(any(d.dose_number >= series[d.vaccine_id] for d in given)),
                 int(any(d.dose_number > series[d.vaccine_id] for d in given)))
        keys = {"facility": _line(facilities, node, person.facility_id),
                "group": person.priority_group or "",
                "band": band_of(person.date_of_birth, as_of)}
        for i, flag in enumerate(flags):
            out["total"][i] += flag
            for by, key in keys.items():
                out[by][key][i] += flag
    out["targets"] = brute_targets(account, node, as_of)
    return out


def check_coverage(account, node: Facility, as_of: date) -> None:
    """Every figure of ``coverage.coverage``, each breakdown, equals the brute-force count."""
    from vaxportal.reports import coverage

    want = brute_coverage(account, node, as_of)
    for by in coverage.BREAKDOWNS:
        got = coverage.coverage(account, node, as_of, by)
        assert (got.total.dose1, got.total.complete, got.total.booster) == tuple(want["total"])
        assert (got.total.target or 0) == want["targets"]["total"]
        lines = {line.key: [line.dose1, line.complete, line.booster] for line in got.lines}
        expected = {k: v for k, v in want[by].items() if any(v)}
        assert {k: v for k, v in lines.items() if any(v)} == expected, by
        targets = {line.key: line.target for line in got.lines if line.target}
        assert targets == {k: v for k, v in want["targets"][by].items() if v}, by


def check_doses(account, node, start: date, end: date) -> None:
    """The doses by vaccine and number and by day (and week) equal the brute-force count."""
    from vaxportal.reports import coverage

    by_vaccine, by_day = brute_doses(account, node, start, end)
    got = {(row["vaccine"], n): count for row in coverage.doses_by_vaccine(account, node,
                                                                          start, end)
           for n, count in row["by_number"].items()}
    assert got == by_vaccine
    days = coverage.doses_over_time(account, node, start, end, "day")
    assert {day: n for day, n in days if n} == by_day
    assert len(days) == (end - start).days + 1
    weeks = coverage.doses_over_time(account, node, start, end, "week")
    assert sum(n for _day, n in weeks) == sum(by_day.values())
    assert all(day.weekday() == 0 for day, _n in weeks)


def _line(facilities: dict, node: Facility, facility_id: int) -> int:
    """The child of ``node`` whose subtree holds the facility (or the node itself)."""
    path = facilities[facility_id].path
    rest = path[len(node.path):].strip("/")
    return int(rest.split("/")[0]) if rest else node.id


def brute_targets(account, node: Facility, as_of: date) -> dict:
    facilities = {f.id: f for f in db.session.scalars(sa.select(Facility))}
    keep = _subtree(node) & _readable(account)
    out = {"total": 0, "facility": defaultdict(int), "group": defaultdict(int),
           "band": defaultdict(int)}
    for row in db.session.scalars(sa.select(TargetPopulation)):
        if row.facility_id not in keep or not row.period_start <= as_of <= row.period_end:
            continue
        if not row.priority_group and not row.age_band:
            out["total"] += row.total
            out["facility"][_line(facilities, node, row.facility_id)] += row.total
        elif row.priority_group and not row.age_band:
            out["group"][row.priority_group] += row.total
        elif row.age_band and not row.priority_group:
            out["band"][row.age_band] += row.total
    return out


def brute_doses(account, node: Facility, start: date, end: date) -> tuple[dict, dict]:
    """({(vaccine name, dose number): n}, {day: n}) of doses given in the subtree."""
    keep = _subtree(node) & _readable(account)
    names = {v.id: v.name for v in db.session.scalars(sa.select(Vaccine))}
    by_vaccine, by_day = defaultdict(int), defaultdict(int)
    for dose in db.session.scalars(sa.select(Dose)):
        if dose.facility_id in keep and start <= dose.given_on <= end:
            by_vaccine[(names[dose.vaccine_id], dose.dose_number)] += 1
            by_day[dose.given_on] += 1
    return dict(by_vaccine), dict(by_day)


def brute_due(account, facility_id: int, today: date, days_late: int) -> dict[str, set[int]]:
    """{"due": ids, "overdue": ids} of the facility's people, from every row."""
    vaccines = {v.id: v for v in db.session.scalars(sa.select(Vaccine))}
    out = {"due": set(), "overdue": set()}
    if facility_id not in _readable(account):
        return out
    for person in db.session.scalars(WITH_DOSES):
        if person.merged_into_id or person.facility_id != facility_id:
            continue
        given = sorted(person.doses, key=lambda d: (d.given_on, d.id))
        if not given:
            continue
        last = given[-1]
        v = vaccines[last.vaccine_id]
        if last.dose_number >= v.doses_in_series:
            continue
        due_on = last.given_on + timedelta(days=v.min_interval_days)
        if due_on > today:
            continue
        out["overdue" if (today - due_on).days > days_late else "due"].add(person.id)
    return out


def brute_quality(account, node: Facility, today: date) -> dict[str, set[int]]:
    """{check key: ids of the people it flags} for the subtree, from every row: each rule of
    the data-quality lists written out again in plain Python."""
    keep = _subtree(node) & _readable(account)
    vaccines = {v.id: v for v in db.session.scalars(sa.select(Vaccine))}
    people = [p for p in db.session.scalars(WITH_DOSES)
              if not p.merged_into_id and p.facility_id in keep]
    twins = defaultdict(int)
    for person in people:
        twins[(person.name_key, person.date_of_birth, person.gender)] += 1
    out = {key: set() for key in ("interval", "sequence", "mixed", "national_id", "dates",
                                  "uncoded", "twice")}
    for person in people:
        given = sorted(person.doses, key=lambda d: (d.given_on, d.dose_number, d.id))
        flags = {
            "interval": any((now.given_on - before.given_on).days
                            < vaccines[now.vaccine_id].min_interval_days
                            for before, now in zip(given, given[1:], strict=False)),
            "sequence": any(d.dose_number != i for i, d in enumerate(given, start=1)),
            "mixed": len({d.vaccine_id for d in given
                          if d.dose_number <= vaccines[d.vaccine_id].doses_in_series}) > 1,
            "national_id": not person.national_id,
            "dates": any(d.given_on < person.date_of_birth or d.given_on > today
                         for d in given),
            "uncoded": bool(person.uncoded),
            "twice": twins[(person.name_key, person.date_of_birth, person.gender)] > 1,
        }
        for key, flag in flags.items():
            if flag:
                out[key].add(person.id)
    return out


def text(response) -> str:
    return response.get_data(as_text=True)


def table_row(html: str, key: str) -> list[str]:
    """The cells of the table line ``<tr data-key="key">``, tags stripped."""
    match = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert match, key
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells]
