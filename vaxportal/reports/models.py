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

__all__ = ["DailyReportConfirmation", "TargetPopulation"]

#: ``priority_group`` / ``age_band`` of a row that counts everybody
ALL = ""


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

    facility: Mapped[Facility] = relationship()


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
