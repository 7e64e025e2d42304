"""Data-quality lists: the records of a subtree that need a second look, counted per facility
and listed page by page. Each check is ONE SQL statement (GROUP BY or window functions that
run on SQLite and PostgreSQL) selecting the ids of the people it flags; the counts and the
pages are built on that statement, so no row is loaded into Python to decide.

People count at their home facility (``recipient.facility_id``), records merged away are
left out, and the people of a subtree are read through the account's scope (P1). A person's
doses are ordered by date, then dose number, then id (the order of entry on one day).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import FunctionElement

from vaxportal import policy
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import (
    Dose,
    DuplicateCandidate,
    Recipient,
    Vaccine,
    same_person,
)
from vaxportal.recipients.search import Page

# -- whole days between two dates, on both databases -----------------------------------------


class days_between(FunctionElement):  # noqa: N801  (an SQL function)
    """``later - earlier`` in whole days."""

    type = sa.Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between(element, compiler, **kw):  # PostgreSQL: date - date is an integer
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return (f"CAST(julianday({compiler.process(later, **kw)}) - "
            f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)")


# -- the checks: each a SELECT of the flagged people's ids --------------------------------------


def people(account, node: Facility) -> sa.Select:
    """``SELECT id`` of the people a check looks at: at home in the subtree of ``node``, in
    the account's scope, not merged away."""
    stmt = sa.select(Recipient.id).where(Recipient.merged_into_id.is_(None))
    return policy.scope(account).filter_below(stmt, Recipient.facility_id, node.id)


def _ordered_doses(who: sa.Select, *columns):
    """The doses of ``who`` with window columns over each person's doses in order."""
    return (sa.select(Dose.recipient_id.label("recipient_id"), *columns)
            .join(Vaccine, Vaccine.id == Dose.vaccine_id)
            .where(Dose.recipient_id.in_(who))
            .subquery("ordered"))


def _window(column):
    return column.over(partition_by=Dose.recipient_id,
                       order_by=(Dose.given_on, Dose.dose_number, Dose.id))


def too_early(who: sa.Select, today: date) -> sa.Select:
    """A dose given fewer days after the previous one than its vaccine's minimum interval:
    the rule of the warning at entry (``recipients.dosing.interval_warning``), for every dose
    already recorded."""
    ordered = _ordered_doses(
        who, Dose.given_on.label("given_on"),
        _window(sa.func.lag(Dose.given_on)).label("previous_on"),
        Vaccine.min_interval_days.label("min_days"))
    return sa.select(ordered.c.recipient_id).where(
        ordered.c.previous_on.isnot(None),
        days_between(ordered.c.given_on, ordered.c.previous_on) < ordered.c.min_days)


def out_of_sequence(who: sa.Select, today: date) -> sa.Select:
    """Dose numbers that skip one or repeat one: the n-th dose in order is not number n."""
    ordered = _ordered_doses(
        who, Dose.dose_number.label("number"),
        _window(sa.func.row_number()).label("position"))
    return sa.select(ordered.c.recipient_id).where(ordered.c.number != ordered.c.position)


def mixed_series(who: sa.Select, today: date) -> sa.Select:
    """A primary series (dose numbers up to the vaccine's series) of more than one vaccine;
    a booster of another vaccine is not a mix."""
    return (sa.select(Dose.recipient_id)
            .join(Vaccine, Vaccine.id == Dose.vaccine_id)
            .where(Dose.recipient_id.in_(who), Dose.dose_number <= Vaccine.doses_in_series)
            .group_by(Dose.recipient_id)
            .having(sa.func.count(sa.distinct(Dose.vaccine_id)) > 1))


def no_national_id(who: sa.Select, today: date) -> sa.Select:
    """No national ID number (``who`` selects from ``recipient``: narrowed in place)."""
    return who.where(sa.or_(Recipient.national_id.is_(None), Recipient.national_id == ""))


def impossible_date(who: sa.Select, today: date) -> sa.Select:
    """A dose given before the person's birth, or after today."""
    return (sa.select(Dose.recipient_id)
            .join(Recipient, Recipient.id == Dose.recipient_id)
            .where(Dose.recipient_id.in_(who),
                   sa.or_(Dose.given_on < Recipient.date_of_birth, Dose.given_on > today)))


def uncoded(who: sa.Select, today: date) -> sa.Select:
    """Free text of an older record that matched no code (``recipient.uncoded``)."""
    return who.where(Recipient.uncoded.isnot(None),
                     sa.cast(Recipient.uncoded, sa.String) != "null")


def entered_twice(who: sa.Select, today: date) -> sa.Select:
    """Two records (not merged) of the subtree that may be the same person
    (``recipients.models.same_person``: folded name, birth date and gender),
    unless a supervisor decided that pair already (two different people, or merged): a
    self-join over ``ix_recipient_person``, the decided pairs left out."""
    one, two = aliased(Recipient, name="one"), aliased(Recipient, name="two")
    decided = sa.select(DuplicateCandidate.id).where(
        DuplicateCandidate.status.in_(("distinct", "merged")),
        sa.or_(sa.and_(DuplicateCandidate.recipient_id == one.id,
                       DuplicateCandidate.other_id == two.id),
               sa.and_(DuplicateCandidate.recipient_id == two.id,
                       DuplicateCandidate.other_id == one.id)))
    return (sa.select(one.id)
            .join(two, sa.and_(same_person(two, one), two.id != one.id))
            .where(one.id.in_(who), two.id.in_(who), ~sa.exists(decided))
            .distinct())


@dataclass(frozen=True)
class Check:
    key: str
    label: object
    query: object


CHECKS = (
    Check("interval", _l("Mũi tiêm sớm hơn khoảng cách tối thiểu"), too_early),
    Check("sequence", _l("Số thứ tự mũi bị nhảy hoặc lặp"), out_of_sequence),
    Check("mixed", _l("Liều cơ bản trộn nhiều vắc xin"), mixed_series),
    Check("national_id", _l("Chưa có số CCCD/CMND"), no_national_id),
    Check("dates", _l("Ngày tiêm trước ngày sinh hoặc sau hôm nay"), impossible_date),
    Check("uncoded", _l("Giá trị chữ tự do chưa được mã hóa"), uncoded),
    Check("twice", _l("Một người nhập hai lần (cùng họ tên và ngày sinh)"), entered_twice),
)
BY_KEY = {check.key: check for check in CHECKS}


def flagged(account, node: Facility, key: str, today: date) -> sa.Select:
    """``SELECT`` of the ids of the people check ``key`` flags in the subtree."""
    return BY_KEY[key].query(people(account, node), today)


def counts(account, node: Facility, today: date) -> dict[str, dict[int, int]]:
    """{check key: {facility id: people flagged}} for the subtree (one query per check)."""
    out: dict[str, dict[int, int]] = defaultdict(dict)
    for check in CHECKS:
        stmt = (sa.select(Recipient.facility_id, sa.func.count())
                .where(Recipient.id.in_(flagged(account, node, check.key, today)))
                .group_by(Recipient.facility_id))
        out[check.key] = {fid: int(n) for fid, n in db.session.execute(stmt)}
    return dict(out)


def page(account, node: Facility, key: str, today: date, number: int, per_page: int) -> Page:
    """One page of the people check ``key`` flags (name order), with their facility."""
    ids = flagged(account, node, key, today)
    total = int(db.session.scalar(
        sa.select(sa.func.count()).select_from(Recipient).where(Recipient.id.in_(ids))))
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    stmt = (sa.select(Recipient.id, Recipient.full_name, Recipient.date_of_birth,
                      Facility.name.label("facility"))
            .join(Facility, Facility.id == Recipient.facility_id)
            .where(Recipient.id.in_(ids))
            .order_by(Recipient.name_key, Recipient.id)
            .limit(per_page).offset((number - 1) * per_page))
    rows = [dict(row._mapping) for row in db.session.execute(stmt)]
    return Page(rows=rows, page=number, per_page=per_page, total=total)
