"""Delegations (letter item 3): who may receive one, for which facility, and when one is
active. A support unit's data-entry account gets time-bounded data-entry scope over named
facilities; the days are days in Vietnam, not on the server's clock."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from vaxportal.auth.models import Account, Role
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, Facility, FacilityKind
from vaxportal.timeutil import local_today


def may_receive_delegation(account: Account) -> bool:
    """Only a support unit's data-entry account is delegated to."""
    return (account.role == Role.data_entry
            and db.session.get(Facility, account.facility_id).kind
            == FacilityKind.support_unit)


def may_be_delegated(support_account: Account, facility: Facility) -> bool:
    """A delegation names another facility, never the support unit itself nor another
    support unit."""
    return (facility.id != support_account.facility_id
            and facility.kind != FacilityKind.support_unit)


def state(delegation: Delegation, today: date | None = None) -> str:
    """scheduled | active | expired | ended (ended early by an admin)."""
    today = today or local_today()
    if delegation.ended_at is not None:
        return "ended"
    if today < delegation.starts_on:
        return "scheduled"
    return "active" if today <= delegation.ends_on else "expired"


def is_active(today=None):
    """SQL: the delegation gives scope today (``today``: a date, or a named parameter of a
    statement kept for reuse; by default today in Vietnam)."""
    today = local_today() if today is None else today
    return sa.and_(Delegation.starts_on <= today, Delegation.ends_on >= today,
                   Delegation.ended_at.is_(None))


def is_open():
    """SQL: the delegation is active or still to come (not ended, not expired)."""
    return sa.and_(Delegation.ended_at.is_(None), Delegation.ends_on >= local_today())


def overlaps(account_id: int, facility_id: int, starts_on: date, ends_on: date):
    """SQL: an open delegation of the same account to the same facility overlapping the
    period (one delegation per facility and day)."""
    return sa.and_(Delegation.account_id == account_id, Delegation.facility_id == facility_id,
                   Delegation.ended_at.is_(None), Delegation.starts_on <= ends_on,
                   Delegation.ends_on >= starts_on)


def delegated_facility_ids(account_id, today=None) -> sa.Select:
    """``SELECT facility_id`` of the account's active delegations (``account_id`` and
    ``today`` as values or as named parameters, see ``is_active``)."""
    return sa.select(Delegation.facility_id).where(Delegation.account_id == account_id,
                                                   is_active(today))
