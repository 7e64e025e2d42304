"""Vaccination certificates issued, and the revocation list (SHA-256 of each revoked UVCI,
the DCC revocation approach: verifiers get hashes, never who the certificate was for)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vaxportal import audit
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.timeutil import UTCDateTime, utcnow


def uvci_hash(uvci: str) -> str:
    return hashlib.sha256(uvci.encode("utf-8")).hexdigest()


@audit.audited(ignore=("hc1",))
class Certificate(db.Model):
    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"), index=True)
    # The dose the certificate carries; emptied when that dose is deleted (revoked then).
    dose_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("dose.id", ondelete="SET NULL"), index=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    uvci: Mapped[str] = mapped_column(sa.String(80), unique=True)
    # The signed QR content as printed (name and birth date inside: personal data).
    hc1: Mapped[str] = mapped_column(sa.Text)
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))

    recipient: Mapped[Recipient] = relationship(lazy="raise_on_sql")
    dose: Mapped[Dose | None] = relationship(lazy="raise_on_sql")


@audit.audited(facility=lambda _row: None, shared=True)
class RevokedCertificate(db.Model):
    """One row per revoked UVCI: its SHA-256 only (no link to a person)."""

    __tablename__ = "revoked_certificate"

    uvci_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
