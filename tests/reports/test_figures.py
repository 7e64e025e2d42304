"""Every figure of the dashboard and of the due lists against a brute-force count over random
data (hypothesis), for each reading role and node, after corrections and deletions (P1:
each account counts only its own scope)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reports.support import (
    add_dose,
    add_person,
    brute_coverage,
    brute_doses,
    brute_due,
)
from vaxportal.extensions import db
from vaxportal.recipients import due
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.recipients.search import RegisterFilter
from vaxportal.reports import coverage
from vaxportal.reports.models import TargetPopulation

TODAY = date(2022, 3, 1)
CODES = ("AZ", "PFIZER", "ABDALA", "JANSSEN")
GROUPS = (None, "N01", "N08")
SETTINGS = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

doses_st = st.lists(st.tuples(st.sampled_from(CODES), st.integers(1, 4),
                              st.integers(0, 200)), max_size=4)
people_st = st.lists(st.tuples(
    st.sampled_from(("s1", "s1b", "s2", "d1")),
    st.dates(date(1940, 1, 1), date(2021, 12, 31)),
    st.sampled_from(GROUPS),
    doses_st,
    st.booleans(),  # merged away
), min_size=1, max_size=8)
targets_st = st.lists(st.tuples(
    st.sampled_from(("s1", "s1b", "s2", "d1")),
    st.sampled_from(("", "N01", "N08")),
    st.sampled_from(("", "18-49", "65+")),
    st.integers(0, 500),
    st.booleans(),  # a period holding TODAY, or an older one
), max_size=6)


@pytest.fixture
def readers(place, factory):
    return {
        "supervisor": (factory.account("supervisor", place["d1"]), place["d1"]),
        "reviewer": (factory.account("reviewer", place["doh"]), place["doh"]),
        "data_entry": (factory.account("data_entry", place["s1"]), place["s1"]),
        # a supervisor looking at one station of its district
        "drill": (factory.account("supervisor", place["d1"]), place["s1b"]),
    }


def _build(place, people, targets) -> None:
    first = None
    for facility, born, group, doses, merged in people:
        person = add_person(place[facility], born=born, group=group)
        db.session.flush()
        for code, number, days_ago in doses:
            add_dose(person, code, number, TODAY - timedelta(days=days_ago))
        if merged and first is not None:
            person.merged_into_id = first.id
        first = first or person
    for row in db.session.scalars(sa.select(TargetPopulation)):
        db.session.delete(row)
    seen = set()
    for facility, group, band, total, current in targets:
        if group and band:
            band = ""
        start = date(2022, 1, 1) if current else date(2021, 1, 1)
        key = (facility, group, band)
        if key in seen:
            continue
        seen.add(key)
        db.session.add(TargetPopulation(
            facility_id=place[facility].id, priority_group=group, age_band=band, total=total,
            period_start=start, period_end=start + timedelta(days=364)))
    db.session.commit()


def _check_coverage(account, node, as_of: date) -> None:
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


def _check_doses(account, node, start: date, end: date) -> None:
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


def _check_due(account, place) -> None:
    for key in ("s1", "s1b", "s2"):
        want = brute_due(account, place[key].id, TODAY, 14)
        for status in due.STATUSES:
            register_filter = RegisterFilter(facility_id=place[key].id, due=status,
                                             due_on=TODAY.isoformat())
            got = set(db.session.scalars(register_filter.statement(account, Recipient.id)))
            assert got == want[status], (key, status)


@SETTINGS
@given(people=people_st, targets=targets_st, as_of_days=st.integers(0, 120))
def test_p1_every_figure_equals_a_brute_force_count(app, place, readers, people, targets,
                                                     as_of_days):
    _build(place, people, targets)
    as_of = TODAY - timedelta(days=as_of_days)
    app.config["OVERDUE_DAYS"] = 14
    for account, node in readers.values():
        _check_coverage(account, node, as_of)
        _check_doses(account, node, TODAY - timedelta(days=90), TODAY)
        _check_due(account, place)


def test_p1_figures_follow_a_correction_and_a_deletion(app, place, readers):
    """A corrected dose number and a deleted dose change coverage and the due list at once."""
    app.config["OVERDUE_DAYS"] = 14
    person = add_person(place["s1"])
    db.session.flush()
    first = add_dose(person, "AZ", 1, TODAY - timedelta(days=40))
    second = add_dose(person, "AZ", 2, TODAY - timedelta(days=5))
    db.session.commit()
    supervisor, district = readers["supervisor"]

    def figures():
        got = coverage.coverage(supervisor, district, TODAY)
        status = {s for s in due.STATUSES if person.id in set(db.session.scalars(
            RegisterFilter(facility_id=place["s1"].id, due=s, due_on=TODAY.isoformat())
            .statement(supervisor, Recipient.id)))}
        return (got.total.dose1, got.total.complete, got.total.booster), status

    assert figures() == ((1, 1, 0), set())
    second.dose_number = 3  # corrected: a booster after one dose
    db.session.commit()
    assert figures() == ((1, 1, 1), set())
    db.session.delete(db.session.get(Dose, second.id))
    db.session.commit()
    assert figures() == ((1, 0, 0), {"due"})  # dose 2 fell due 40 - 28 = 12 days ago
    db.session.get(Dose, first.id).given_on = TODAY - timedelta(days=28 + 15)
    db.session.commit()
    assert figures() == ((1, 0, 0), {"overdue"})


def test_due_and_overdue_split_at_the_configured_days(app, place, readers):
    supervisor, _district = readers["supervisor"]
    person = add_person(place["s1"])
    db.session.flush()
    add_dose(person, "AZ", 1, TODAY - timedelta(days=28 + 10))  # due 10 days ago
    db.session.commit()

    def status(days_late):
        app.config["OVERDUE_DAYS"] = days_late
        return {s for s in due.STATUSES if person.id in set(db.session.scalars(
            RegisterFilter(facility_id=place["s1"].id, due=s, due_on=TODAY.isoformat())
            .statement(supervisor, Recipient.id)))}

    assert status(14) == {"due"}
    assert status(9) == {"overdue"}
    assert status(10) == {"due"}  # overdue means by MORE than the days configured
