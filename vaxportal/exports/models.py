"""Export and import jobs: one row each, holding the request, its state and its progress.

The ids are random (they appear in URLs); every view also checks that the row belongs to
the signed-in account.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vaxportal.extensions import db
from vaxportal.timeutil import UTCDateTime, utcnow


def new_job_id() -> str:
    return secrets.token_hex(16)


class JobStatus(enum.StrEnum):
    pending = "pending"      # export: waiting for its OTP; import: being checked (dry run)
    checked = "checked"      # import: dry run done, waiting for the user's confirmation
    rejected = "rejected"    # import: the file could not be read at all
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"      # the file was deleted after its time was up


ACTIVE = (JobStatus.queued, JobStatus.running)


class _Job:
    """Columns shared by both kinds of job."""

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_job_id)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    custodian_id: Mapped[int | None] = mapped_column(sa.ForeignKey("custodian.id"))
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default=JobStatus.pending, index=True)
    progress: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def short_ref(self) -> str:
        """What people read aloud and what the SMS names."""
        return self.id[:8].upper()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class ExportJob(_Job, db.Model):
    """One export of the register's filter to Excel (P1, P3.4: bound to its own OTP)."""

    __tablename__ = "export_job"

    filter: Mapped[dict] = mapped_column(sa.JSON)
    description: Mapped[str] = mapped_column(sa.String(500))
    scope: Mapped[str] = mapped_column(sa.String(300))
    columns: Mapped[list] = mapped_column(sa.JSON)
    masked: Mapped[bool] = mapped_column(default=False)
    row_count: Mapped[int] = mapped_column(default=0)
    #: the rows the SMS code named, fixed when it is issued: no recipient above this id
    #: enters the file, and ``rows_fingerprint`` ("count:sum of ids") of the rows at or
    #: below it must be unchanged at confirmation
    max_recipient_id: Mapped[int | None] = mapped_column()
    rows_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    rows_written: Mapped[int | None] = mapped_column()
    sheets: Mapped[int | None] = mapped_column()
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    file_name: Mapped[str | None] = mapped_column(sa.String(80))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class ImportJob(_Job, db.Model):
    """One spreadsheet of recipients: a dry run, then (if confirmed) the writing."""

    __tablename__ = "import_job"

    file_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    file_size: Mapped[int] = mapped_column(default=0)
    total_rows: Mapped[int] = mapped_column(default=0)
    valid_rows: Mapped[int] = mapped_column(default=0)
    error_rows: Mapped[int] = mapped_column(default=0)
    duplicate_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    # [{"row": n, "status": "error" | "duplicate", "messages": [...]}], no personal data
    report: Mapped[list | None] = mapped_column(sa.JSON)
    report_truncated: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


__all__ = ["ExportJob", "ImportJob", "JobStatus"]
