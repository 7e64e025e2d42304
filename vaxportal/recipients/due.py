"""Who is due for the next dose of a primary series: the ONE rule, shared by the reports' due list,
its Excel export (through the register's filter) and the tests.

A person's last dose (latest date, then highest id) decides: when its number is below the
vaccine's ``doses_in_series`` the next dose falls due ``min_interval_days`` after it. The
person is *due* from that day and *overdue* once more than ``OVERDUE_DAYS`` days have passed
since. Written as date ranges on ``dose.given_on`` per catalogue vaccine (a handful), so the
database compares dates on an index and never does date arithmetic per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient, Vaccine

DUE = "due"
OVERDUE = "overdue"
STATUSES = (DUE, OVERDUE)


def overdue_days() -> int:
    return int(current_app.config["OVERDUE_DAYS"])


@dataclass(frozen=True)
class Series:
    vaccine_id: int
    doses_in_series: int
    min_interval_days: int


def _catalogue() -> list[Series]:
    return [Series(*row) for row in db.session.execute(
        sa.select(Vaccine.id, Vaccine.doses_in_series, Vaccine.min_interval_days)
        .order_by(Vaccine.id)
    )]


def last_dose_clause(dose=Dose):
    """``dose`` is its recipient's last dose (no later one, ties broken by id)."""
    later = aliased(Dose)
    return ~sa.exists().where(
        later.recipient_id == dose.recipient_id,
        sa.or_(later.given_on > dose.given_on,
               sa.and_(later.given_on == dose.given_on, later.id > dose.id)),
    )


def window_clause(status: str, today: date, days_late: int, dose=Dose):
    """``dose`` is an unfinished series' dose whose next one is due (or overdue) ``today``."""
    parts = []
    for series in _catalogue():
        due_by = today - timedelta(days=series.min_interval_days)  # given on or before
        late_before = due_by - timedelta(days=days_late)  # given before: overdue
        window = (dose.given_on < late_before if status == OVERDUE
                  else sa.and_(dose.given_on >= late_before, dose.given_on <= due_by))
        parts.append(sa.and_(dose.vaccine_id == series.vaccine_id,
                             dose.dose_number < series.doses_in_series, window))
    return sa.or_(*parts) if parts else sa.false()


def due_dose_clauses(status: str, today: date, days_late: int | None = None, dose=Dose):
    """WHERE clauses of the doses that make their recipient due (or overdue)."""
    if status not in STATUSES:
        raise ValueError(status)
    days = overdue_days() if days_late is None else days_late
    return [last_dose_clause(dose), window_clause(status, today, days, dose)]


def recipient_condition(status: str, today: date, days_late: int | None = None):
    """A WHERE clause on ``Recipient``: the person is due (or overdue) ``today``."""
    dose = aliased(Dose)
    return sa.exists().where(dose.recipient_id == Recipient.id,
                             *due_dose_clauses(status, today, days_late, dose))

