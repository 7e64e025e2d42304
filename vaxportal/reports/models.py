"""Target populations: how many people a facility should vaccinate over a period, in total
and by priority group and age band (the denominators of coverage)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vaxportal import audit
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose
from vaxportal.timeutil import UTCDateTime, utcnow

__all__ = ["CoveragePerson", "CoverageTally", "DailyReportConfirmation", "DoseTally",
           "TargetPopulation"]

#: ``priority_group`` / ``age_band`` of a row that counts everybody
ALL = ""
#: ``CoverageTally.priority_group`` / ``band`` of a row summed over every group or band (""
#: there is a person without a priority group)
EVERY = "*"


@audit.audited
class TargetPopulation(db.Model):
    """One figure: the facility's whole population (group and band both ``ALL``), one priority
    group's (band ``ALL``) or one age band's (group ``ALL``), for a period."""

    __tablename__ = "target_population"
    __table_args__ = (
        sa.UniqueConstraint("facility_id", "period_start", "priority_group", "age_band"),
        sa.Index("ix_target_population_facility_period", "facility_id", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    priority_group: Mapped[str] = mapped_column(sa.String(16), default=ALL)
    age_band: Mapped[str] = mapped_column(sa.String(8), default=ALL)
    total: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")


@audit.audited
class DailyReportConfirmation(db.Model):
    """A facility's data-entry account confirmed its totals of a day (issue 15). ``totals``
    is what it confirmed (``reports.daily.DayTotals.snapshot``) and ``fingerprint`` the
    doses behind them: when the day's doses no longer give the same fingerprint, a correction
    came later and the day is re-opened until the facility confirms again (the same row)."""

    __tablename__ = "daily_report_confirmation"
    __table_args__ = (sa.UniqueConstraint("facility_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"))
    day: Mapped[date] = mapped_column(sa.Date)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    totals: Mapped[dict] = mapped_column(sa.JSON)
    fingerprint: Mapped[str] = mapped_column(sa.String(120))


# Doses counted by facility and day (the dashboard's GROUP BY walks this index).
ix_dose_facility_given_on = sa.Index("ix_dose_facility_given_on", Dose.facility_id,
                                     Dose.given_on)
# The few doses with a severe AEFI, by facility and day: the dashboard's events to follow up
# (``aefi.py``, whose condition is written as this literal so the planner matches it).
ix_dose_severe = sa.Index("ix_dose_severe", Dose.facility_id, Dose.given_on,
                          sqlite_where=sa.text("aefi = 'severe'"),
                          postgresql_where=sa.text("aefi = 'severe'"))


class CoveragePerson(db.Model):
    """The coverage summary, one row per person counted (not merged away, with a dose): the
    day of the first dose, of the dose that completed a primary series, of the first booster
    (``reports/summary.py`` keeps it in the same flush as the doses and the recipient).
    Derived data, rebuilt by ``vaxportal reports rebuild-summary``: no foreign key, so a
    recipient's deletion never cascades into it before the summary hook reads the old row."""

    __tablename__ = "coverage_person"
    __table_args__ = (sa.Index("ix_coverage_person_facility", "facility_id", "first_on"),)

    recipient_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    facility_id: Mapped[int]
    priority_group: Mapped[str] = mapped_column(sa.String(60), default="")
    date_of_birth: Mapped[date] = mapped_column(sa.Date)
    first_on: Mapped[date] = mapped_column(sa.Date)
    complete_on: Mapped[date | None] = mapped_column(sa.Date)
    booster_on: Mapped[date | None] = mapped_column(sa.Date)


class CoverageTally(db.Model):
    """The people of ``CoveragePerson`` counted as changes over time, rolled up to every
    facility above their home (``node_id``): on ``day`` so many more people had dose 1, a
    complete series, a booster, in ``priority_group`` (band ``EVERY``), in age ``band`` (group
    ``EVERY``; a birthday that moves a counted person to the next band is -1 in one band and
    +1 in the next), or in all (both ``EVERY``). Each change is written on its day (grain
    ``d``), the first of its month (``m``) and of its year (``y``), so the figure on a day is
    the years before it, the months of its year before its month and the days of its month:
    at most some sixty rows per line, whatever the number of people."""

    __tablename__ = "coverage_tally"

    node_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    grain: Mapped[str] = mapped_column(sa.String(1), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    priority_group: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    band: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    dose1: Mapped[int] = mapped_column(default=0)
    complete: Mapped[int] = mapped_column(default=0)
    booster: Mapped[int] = mapped_column(default=0)


class DoseTally(db.Model):
    """Doses given, counted by day, vaccine and dose number at the facility that gave them
    and at each facility above it (``node_id``): the dashboard's doses by vaccine and over
    time read a month of one facility's rows, whatever the number of doses. Kept by
    ``reports/summary.py`` with the coverage summary."""

    __tablename__ = "dose_tally"

    node_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    vaccine_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    dose_number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    doses: Mapped[int] = mapped_column(default=0)
