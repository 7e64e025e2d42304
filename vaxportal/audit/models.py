"""The audit trail (P2.4): one append-only, hash-chained table.

Rows are written only by ``audit.chain.append`` (from the session hook and ``events.record``);
the ORM refuses to update or delete them (``audit.hook``) and so do database triggers
(``DDL`` below, installed by ``dbsetup.install_database_objects``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vaxportal import dbsetup
from vaxportal.extensions import db
from vaxportal.timeutil import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    category: Mapped[str] = mapped_column(sa.String(16), index=True)  # data|access|account
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    entity: Mapped[str | None] = mapped_column(sa.String(40))
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    facility_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    account_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    custodian_id: Mapped[int | None] = mapped_column(sa.Integer)
    session_id: Mapped[int | None] = mapped_column(sa.Integer)
    actor: Mapped[str] = mapped_column(sa.String(120))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    details: Mapped[dict | None] = mapped_column(sa.JSON)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    row_hash: Mapped[str | None] = mapped_column(sa.String(64))


_REFUSAL = "audit_event is append-only: rows cannot be changed or removed"

#: Triggers refusing UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit rows in the
#: database itself. Ordinary (ENABLE ORIGIN) triggers: a maintenance session with
#: ``session_replication_role = replica`` (the test suite's cleaning) is not refused.
DDL = {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION USING MESSAGE = '{_REFUSAL} (' || TG_OP || ')', "
        "ERRCODE = 'insufficient_privilege'; "
        "END $$",
        "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
        "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
    ],
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
    ],
}

for _dialect, _statements in DDL.items():
    _known = dbsetup.EXTRA_DDL.setdefault(_dialect, [])
    _known.extend(s for s in _statements if s not in _known)
