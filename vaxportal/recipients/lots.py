"""Suggestions that follow the person, and the facility's lot register (issue 14).

The vaccine suggested is that of the person's own series, a lot only if the facility last
used it with that vaccine; a lot number the facility recorded with another vaccine asks for
one more click; the register (lot, vaccine, expiry, first and last use) is kept from the
doses in the same transaction, and no dose is recorded after its lot's expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, DoseLot, Vaccine


@dataclass
class Suggestion:
    vaccine_id: int | None
    dose_number: int
    lot_number: str | None


def suggest(recipient_id: int, facility_id: int) -> Suggestion:
    """The vaccine of the person's latest dose, the next number of that series, and the lot
    the facility last used with that vaccine."""
    latest = db.session.scalar(
        sa.select(Dose).where(Dose.recipient_id == recipient_id)
        .order_by(Dose.given_on.desc(), Dose.dose_number.desc(), Dose.id.desc()).limit(1))
    if latest is None:
        return Suggestion(vaccine_id=None, dose_number=1, lot_number=None)
    highest = db.session.scalar(sa.select(sa.func.max(Dose.dose_number)).where(
        Dose.recipient_id == recipient_id, Dose.vaccine_id == latest.vaccine_id))
    return Suggestion(vaccine_id=latest.vaccine_id, dose_number=(highest or 0) + 1,
                      lot_number=last_lot(facility_id, latest.vaccine_id))


def last_lot(facility_id: int, vaccine_id: int) -> str | None:
    return db.session.scalar(
        sa.select(Dose.lot_number).where(Dose.facility_id == facility_id,
                                         Dose.vaccine_id == vaccine_id)
        .order_by(Dose.created_at.desc(), Dose.id.desc()).limit(1))


def other_vaccine(facility_id: int, lot_number: str, vaccine_id: int) -> Vaccine | None:
    """The vaccine another dose at the facility was recorded with under this lot number."""
    dose_vaccine = sa.select(Dose.vaccine_id).where(
        Dose.facility_id == facility_id, Dose.lot_number == lot_number,
        Dose.vaccine_id != vaccine_id)
    lot_vaccine = sa.select(DoseLot.vaccine_id).where(
        DoseLot.facility_id == facility_id, DoseLot.lot_number == lot_number,
        DoseLot.vaccine_id != vaccine_id)
    return db.session.scalar(
        sa.select(Vaccine).where(Vaccine.id.in_(dose_vaccine.union(lot_vaccine))).limit(1))


def find(facility_id: int, lot_number: str, vaccine_id: int) -> DoseLot | None:
    return db.session.scalar(sa.select(DoseLot).where(
        DoseLot.facility_id == facility_id, DoseLot.lot_number == lot_number,
        DoseLot.vaccine_id == vaccine_id))


def expiry_for(lot: DoseLot | None, typed: date | None) -> date | None:
    """The lot's expiry on the register, else the one typed in the dose form."""
    return lot.expires_on if lot is not None and lot.expires_on else typed


def record_use(dose: Dose, expires_on: date | None) -> DoseLot:
    """Add the dose's use to the facility's register (in the caller's transaction)."""
    lot = find(dose.facility_id, dose.lot_number, dose.vaccine_id)
    if lot is None:
        lot = DoseLot(facility_id=dose.facility_id, lot_number=dose.lot_number,
                      vaccine_id=dose.vaccine_id)
        db.session.add(lot)
    if lot.expires_on is None and expires_on is not None:
        lot.expires_on = expires_on
    if lot.first_used_on is None or dose.given_on < lot.first_used_on:
        lot.first_used_on = dose.given_on
    if lot.last_used_on is None or dose.given_on > lot.last_used_on:
        lot.last_used_on = dose.given_on
    return lot


def register_stmt() -> sa.Select:
    """The lots, the most recently used first (the caller scopes it by facility)."""
    return (sa.select(DoseLot)
            .options(joinedload(DoseLot.vaccine), joinedload(DoseLot.facility))
            .order_by(DoseLot.last_used_on.desc().nulls_last(), DoseLot.lot_number, DoseLot.id))
