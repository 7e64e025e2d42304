"""The audit trail of one person (a recipient), chosen by exact national ID or record id.

What is typed is POSTed (``forms.AuditPersonForm``), never put in a URL: the view finds the
people in the reader's scope (``policy.scope``), keeps their record ids in the browser's
signed session under a random id, and the page's URL carries only that id (``who``), as the
register's stored searches do. The ids kept are record ids, never what was typed.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import session
from sqlalchemy.orm import aliased

from vaxportal import policy
from vaxportal.audit.models import AuditEvent
from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, DuplicateCandidate, Recipient, RecipientMerge

#: the session key, and how many person filters a browser keeps (the latest ones)
SESSION_KEY = "audit_people"
KEPT = 5
#: the records one national ID may name at most (a person registered more than once)
MAX_RECORDS = 20


def resolve(national_id: str | None, record_id: int | None) -> list[int]:
    """Record ids of the people in the reader's scope with that national ID, or that id."""
    stmt = sa.select(Recipient.id)
    if national_id:
        stmt = stmt.where(Recipient.national_id == national_id)
    else:
        stmt = stmt.where(Recipient.id == (record_id or 0))
    stmt = policy.scope().filter(stmt, Recipient.facility_id)
    return list(db.session.scalars(stmt.order_by(Recipient.id).limit(MAX_RECORDS)))


def remember(ids: list[int]) -> str:
    """Keep ``ids`` in the session under a new random id, which the URL may carry."""
    kept = dict(session.get(SESSION_KEY) or {})
    while len(kept) >= KEPT:
        kept.pop(next(iter(kept)))
    token = secrets.token_urlsafe(12)
    kept[token] = list(ids)
    session[SESSION_KEY] = kept
    return token


def recall(token: str | None) -> list[int] | None:
    """The ids kept under ``token`` by this browser's session; None when unknown."""
    if not token:
        return None
    ids = (session.get(SESSION_KEY) or {}).get(token)
    return [int(i) for i in ids] if isinstance(ids, list) else None


def condition(ids: list[int]) -> sa.ColumnElement[bool]:
    """Rows about these people: their records, their doses (a deleted one found through its
    delete row), their certificates, duplicate candidates and merges. The reader's scope is
    applied apart (``audit_scope.visible``)."""
    earlier = aliased(AuditEvent)
    dose_ids = sa.select(sa.cast(Dose.id, sa.String)).where(Dose.recipient_id.in_(ids))
    deleted = sa.select(earlier.entity_id).where(
        earlier.action == "delete", earlier.entity == "dose",
        earlier.changes[("recipient_id", "old")].as_integer().in_(ids))
    certificates = sa.select(sa.cast(Certificate.id, sa.String)).where(
        Certificate.recipient_id.in_(ids))
    candidates = sa.select(sa.cast(DuplicateCandidate.id, sa.String)).where(
        sa.or_(DuplicateCandidate.recipient_id.in_(ids), DuplicateCandidate.other_id.in_(ids)))
    merges = sa.select(sa.cast(RecipientMerge.id, sa.String)).where(
        sa.or_(RecipientMerge.kept_id.in_(ids), RecipientMerge.gone_id.in_(ids)))
    return sa.or_(
        sa.and_(AuditEvent.entity == "recipient",
                AuditEvent.entity_id.in_([str(i) for i in ids])),
        sa.and_(AuditEvent.entity == "dose",
                sa.or_(AuditEvent.entity_id.in_(dose_ids), AuditEvent.entity_id.in_(deleted))),
        sa.and_(AuditEvent.entity == "certificate", AuditEvent.entity_id.in_(certificates)),
        sa.and_(AuditEvent.entity == "duplicate_candidate",
                AuditEvent.entity_id.in_(candidates)),
        sa.and_(AuditEvent.entity == "recipient_merge", AuditEvent.entity_id.in_(merges)),
    )
