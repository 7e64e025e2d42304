"""The coverage summary (issue 15, "Fast at province scale"): after any edit, correction,
dose deletion, move between facilities or merge, made through the session or by an ORM
UPDATE statement, the summary equals one computed again from the doses, and every coverage
figure equals a brute-force count, for readers in and out of scope (P1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reports.support import (
    add_dose,
    add_person,
    check_coverage,
    check_doses,
    table_row,
    text,
    vaccine,
)
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.reports import summary
from vaxportal.reports.models import CoveragePerson, CoverageTally

TODAY = date(2022, 3, 1)
CODES = ("AZ", "PFIZER", "JANSSEN")
PLACES = ("s1", "s1b", "s2", "d1")
SETTINGS = settings(max_examples=3, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

people_st = st.lists(st.tuples(
    st.sampled_from(PLACES),
    # born near a band's birthday within the period, and on 29 February
    st.sampled_from((date(2010, 2, 10), date(2004, 1, 20), date(1972, 2, 29),
                     date(1957, 1, 5), date(1990, 6, 1))),
    st.sampled_from((None, "N01", "N08")),
    st.lists(st.tuples(st.sampled_from(CODES), st.integers(1, 4), st.integers(0, 150)),
             max_size=3),
), min_size=2, max_size=6)
edits_st = st.lists(st.one_of(
    st.tuples(st.just("move"), st.integers(0, 9), st.sampled_from(PLACES)),
    st.tuples(st.just("group"), st.integers(0, 9), st.sampled_from((None, "N01", "N08"))),
    st.tuples(st.just("born"), st.integers(0, 9), st.integers(-2000, 2000)),
    st.tuples(st.just("number"), st.integers(0, 19), st.integers(1, 4)),
    st.tuples(st.just("day"), st.integers(0, 19), st.integers(-60, 60)),
    st.tuples(st.just("vaccine"), st.integers(0, 19), st.sampled_from(CODES)),
    st.tuples(st.just("delete"), st.integers(0, 19), st.none()),
    st.tuples(st.just("merge"), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("unmerge"), st.integers(0, 9), st.none()),
    st.tuples(st.just("statement"), st.integers(0, 9), st.integers(0, 9)),
), min_size=1, max_size=6)


@pytest.fixture
def readers(place, factory):
    return {
        "supervisor": (factory.account("supervisor", place["d1"]), place["d1"]),
        "reviewer": (factory.account("reviewer", place["doh"]), place["doh"]),
        "data_entry": (factory.account("data_entry", place["s1"]), place["s1"]),
        # own facility only, with stations below it: the scope holds part of the branch
        "district_entry": (factory.account("data_entry", place["d1"]), place["d1"]),
        "drill": (factory.account("supervisor", place["d1"]), place["s1b"]),
    }


def _build(place, people) -> None:
    for facility, born, group, doses in people:
        person = add_person(place[facility], born=born, group=group)
        db.session.flush()
        for code, number, days_ago in doses:
            add_dose(person, code, number, TODAY - timedelta(days=days_ago))
    db.session.commit()


def _live() -> list[Recipient]:
    return list(db.session.scalars(sa.select(Recipient).where(
        Recipient.merged_into_id.is_(None)).order_by(Recipient.id)))


def _edit(place, kind: str, index: int, value) -> None:
    people = _live()
    doses = list(db.session.scalars(sa.select(Dose).order_by(Dose.id)))
    person = people[index % len(people)]
    dose = doses[index % len(doses)] if doses else None
    if kind == "move":
        person.facility_id = place[value].id
    elif kind == "group":
        person.priority_group = value
    elif kind == "born":
        person.date_of_birth += timedelta(days=value)
    elif kind == "merge" and len(people) > 1:
        other = people[value % len(people)]
        if other is not person:  # as a merge does: other's doses move, other stays as merged
            for moved in db.session.scalars(sa.select(Dose).where(
                    Dose.recipient_id == other.id)):
                moved.recipient_id = person.id
            other.merged_into_id = person.id
    elif kind == "unmerge":
        gone = db.session.scalars(sa.select(Recipient).where(
            Recipient.merged_into_id.is_not(None)).order_by(Recipient.id)).first()
        if gone is not None:  # as an undo does: back in the register, a dose back with it
            back = db.session.scalars(sa.select(Dose).where(
                Dose.recipient_id == gone.merged_into_id).order_by(Dose.id)).first()
            gone.merged_into_id = None
            if back is not None:
                back.recipient_id = gone.id
    elif kind == "statement" and len(people) > 1:
        other = people[value % len(people)]
        db.session.execute(sa.update(Dose).where(Dose.recipient_id == other.id)
                           .values(recipient_id=person.id))
        db.session.execute(sa.update(Recipient).where(Recipient.id == other.id)
                           .values(merged_into_id=person.id))
    elif dose is None:
        return
    elif kind == "number":
        dose.dose_number = value
    elif kind == "day":
        dose.given_on += timedelta(days=value)
    elif kind == "vaccine":
        dose.vaccine_id = vaccine(value).id
    elif kind == "delete":
        db.session.delete(dose)


def _exact() -> None:
    assert summary.differences(db.session.connection()) == []


@SETTINGS
@given(people=people_st, edits=edits_st, as_of_days=st.integers(0, 120))
def test_p1_summary_equals_a_brute_force_count_after_any_change(app, place, readers, people,
                                                                 edits, as_of_days):
    _build(place, people)
    _exact()
    for kind, index, value in edits:
        _edit(place, kind, index, value)
        db.session.commit()
        _exact()
    as_of = TODAY - timedelta(days=as_of_days)
    for account, node in readers.values():
        check_coverage(account, node, as_of)
        check_doses(account, node, as_of - timedelta(days=200), as_of)
    reviewer, province = readers["reviewer"]
    check_coverage(reviewer, province, as_of + timedelta(days=4000))  # birthdays ahead


def test_p1_a_change_rolled_back_leaves_the_summary_as_it_was(app, place):
    person = add_person(place["s1"])
    db.session.flush()
    add_dose(person, "AZ", 1, TODAY)
    db.session.commit()
    dose = db.session.scalar(sa.select(Dose))
    dose.dose_number = 2
    db.session.flush()
    assert db.session.get(CoveragePerson, person.id).complete_on == TODAY  # same transaction
    db.session.rollback()
    assert db.session.get(CoveragePerson, person.id).complete_on is None
    _exact()


def test_a_dose_deleted_with_its_recipient_leaves_no_person_row(app, place):
    person = add_person(place["s2"])
    db.session.flush()
    add_dose(person, "JANSSEN", 1, TODAY)
    db.session.commit()
    db.session.execute(sa.delete(Dose).where(Dose.recipient_id == person.id))
    db.session.delete(db.session.get(Recipient, person.id))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CoveragePerson)) == 0
    _exact()


def test_rebuild_and_check_summary_commands(app, place, runner):
    person = add_person(place["s1"], born=date(2005, 3, 1))
    db.session.flush()
    add_dose(person, "AZ", 1, TODAY - timedelta(days=30))
    add_dose(person, "AZ", 2, TODAY)
    db.session.commit()
    assert runner.invoke(args=["reports", "check-summary"]).exit_code == 0
    db.session.execute(sa.delete(CoverageTally).where(CoverageTally.grain == "m"))
    db.session.commit()
    broken = runner.invoke(args=["reports", "check-summary"])
    assert broken.exit_code != 0 and "tally" in broken.output
    done = runner.invoke(args=["reports", "rebuild-summary"])
    assert done.exit_code == 0 and "1 people" in done.output
    assert runner.invoke(args=["reports", "check-summary"]).exit_code == 0


def test_band_start_is_the_age_band_rule():
    from vaxportal.reports.coverage import age_band

    for born in (date(1972, 2, 29), date(2004, 1, 20), date(2000, 3, 1), date(1999, 2, 28)):
        for low, code in ((12, "12-17"), (18, "18-49"), (50, "50-64"), (65, "65+")):
            start = summary.band_start(born, low)
            assert age_band(born, start) == code
            assert age_band(born, start - timedelta(days=1)) != code


def test_p1_a_dose_recorded_and_corrected_through_the_forms_shows_on_the_dashboard(
        place, nurse, supervisor):
    """From outside: the nurse's dose form and correction form (real CSRF), then the
    district supervisor's dashboard; the station of the other district is not counted."""
    from tests.helpers import dose_correction, dose_data, fresh_otp, hidden_inputs, html

    person = add_person(place["s1"])
    other = add_person(place["s2"])
    db.session.flush()
    add_dose(other, "AZ", 1, TODAY)
    db.session.commit()
    page = html(nurse.get(f"/recipients/{person.id}/doses/new"))
    done = nurse.post(f"/recipients/{person.id}/doses", data=dose_data(page))
    if done.status_code == 200:  # a warning to confirm (lot, interval): one click
        done = nurse.post(f"/recipients/{person.id}/doses", data=dict(
            dose_data(page), **hidden_inputs(html(done)), confirm_lot="1",
            confirm_interval="1"))
    assert done.status_code == 303
    row = lambda: table_row(text(supervisor.get("/reports/")), "total")[2:]  # noqa: E731
    assert row() == ["1 (—)", "0 (—)", "0 (—)"]
    dose = db.session.scalar(sa.select(Dose).where(Dose.recipient_id == person.id))
    fresh_otp(nurse)
    fixed = nurse.post(f"/recipients/doses/{dose.id}/edit",
                       data=dose_correction(nurse, dose, dose_number="3",
                                            given_on="01/08/2021"))
    assert fixed.status_code == 303
    assert row() == ["1 (—)", "1 (—)", "1 (—)"]  # PFIZER: 2 in a series, dose 3 a booster
    _exact()


def test_p1_a_merge_and_its_undo_keep_the_summary_exact(app, place, readers):
    """The duplicates queue's own merge (the other record's priority group and birth date
    picked, its doses moved to the kept one) and its undo, as the supervisor's pages run
    them (``recipients.merging``)."""
    from vaxportal.recipients import merging
    from vaxportal.recipients.models import DuplicateCandidate

    kept = add_person(place["s1"], born=date(1960, 5, 1), group="N01")
    gone = add_person(place["s2"], born=date(2010, 1, 1), group="N08")
    db.session.flush()
    add_dose(kept, "AZ", 1, TODAY - timedelta(days=90))
    add_dose(gone, "AZ", 2, TODAY - timedelta(days=30))
    add_dose(gone, "PFIZER", 3, TODAY)
    candidate = DuplicateCandidate(recipient_id=gone.id, other_id=kept.id,
                                   facility_id=gone.facility_id)
    db.session.add(candidate)
    db.session.commit()
    plan = merging.plan_merge(kept, gone, {"priority_group": gone.id,
                                           "date_of_birth": gone.id})
    assert not plan.errors
    merging.merge(candidate, kept, gone, plan)
    db.session.commit()
    _exact()
    assert db.session.get(CoveragePerson, gone.id) is None
    person = db.session.get(CoveragePerson, kept.id)
    assert (person.priority_group, person.booster_on) == ("N08", TODAY)
    for account, node in readers.values():
        check_coverage(account, node, TODAY)
    merging.undo(merging.last_merge(candidate), candidate)
    db.session.commit()
    _exact()
    assert db.session.get(CoveragePerson, gone.id).complete_on == TODAY - timedelta(days=30)
    for account, node in readers.values():
        check_coverage(account, node, TODAY)
