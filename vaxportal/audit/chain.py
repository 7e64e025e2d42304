"""Tamper evidence (P2.4): every audit row carries the previous row's hash and its own.

``row_hash`` = SHA-256 over a canonical JSON form of the row's content (``FIELDS``, keys
sorted, no spaces, UTF-8). Ids are consecutive (the next id is the last one plus one, taken
under the append lock), so a removed row leaves a gap that ``verify`` names.

Appends are serialized: on PostgreSQL by a transaction-level advisory lock taken before the
last hash is read; on SQLite by taking the database's write lock first (a write that changes
nothing). Both locks are held until the transaction ends, so two writers never chain onto the
same row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vaxportal.audit.models import AuditEvent
from vaxportal.audit.registry import normalized
from vaxportal.timeutil import utcnow

#: pg_advisory_xact_lock key of the audit append ("vaxaudit" in ASCII)
LOCK_KEY = 0x7661786175646974
FIELDS = (
    "id", "at", "category", "action", "entity", "entity_id", "facility_id", "account_id",
    "custodian_id", "session_id", "actor", "ip", "request_id", "changes", "details",
    "prev_hash",
)
TABLE = AuditEvent.__table__

_writing: ContextVar[bool] = ContextVar("audit_chain_writing", default=False)


@contextmanager
def writing() -> Iterator[None]:
    """Statements of the trail itself, let through by the bypass guard (hook.py)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def is_writing() -> bool:
    return _writing.get()


def _iso(at: datetime) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(row) -> bytes:
    """The bytes the hash is taken over (``row``: a mapping or an AuditEvent)."""
    get = row.get if hasattr(row, "get") else lambda key: getattr(row, key)
    data = {key: get(key) for key in FIELDS}
    data["at"] = _iso(data["at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def digest(row) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def lock(conn: Connection) -> None:
    """Serialize appends until this transaction ends (taken before any row lock of a flush)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
    elif conn.dialect.name == "sqlite":
        with writing():  # takes SQLite's write lock; the row triggers do not fire on no row
            conn.exec_driver_sql("UPDATE audit_event SET id = id WHERE 0")


def append(conn: Connection, rows: list[dict]) -> list[dict]:
    """Insert ``rows`` (column dicts without id and hashes) at the end of the chain, in the
    connection's transaction. Returns the rows as written."""
    if not rows:
        return []
    lock(conn)
    last = conn.execute(
        sa.select(TABLE.c.id, TABLE.c.row_hash).order_by(TABLE.c.id.desc()).limit(1)
    ).first()
    last_id, prev_hash = (last.id, last.row_hash) if last else (0, None)
    now = utcnow()
    written = []
    for row in rows:
        last_id += 1
        full = {key: row.get(key) for key in FIELDS}
        full.update(id=last_id, at=row.get("at") or now, prev_hash=prev_hash,
                    changes=normalized(row.get("changes")), details=normalized(row.get("details")))
        full["at"] = full["at"].astimezone(UTC)
        full["row_hash"] = prev_hash = digest(full)
        written.append(full)
    with writing():
        conn.execute(sa.insert(TABLE), written)
    return written


@dataclass
class Verdict:
    checked: int
    broken_id: int | None = None
    reason: str | None = None  # "missing" | "link" | "content"
    missing_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(conn: Connection, chunk: int = 1000) -> Verdict:
    """Walk the chain in id order (in chunks, so a long check never holds SQLite's lock)."""
    prev_id, prev_hash, checked = 0, None, 0
    while True:
        rows = conn.execute(
            sa.select(TABLE).where(TABLE.c.id > prev_id).order_by(TABLE.c.id).limit(chunk)
        ).mappings().all()
        if not rows:
            return Verdict(checked)
        for row in rows:
            if row["id"] != prev_id + 1:
                return Verdict(checked, row["id"], "missing", prev_id + 1)
            if row["prev_hash"] != prev_hash:
                return Verdict(checked, row["id"], "link")
            if digest(row) != row["row_hash"]:
                return Verdict(checked, row["id"], "content")
            prev_id, prev_hash = row["id"], row["row_hash"]
            checked += 1
