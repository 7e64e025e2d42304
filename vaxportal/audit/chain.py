"""Tamper evidence (P2.4): every audit row carries the previous row's hash and its own.

``row_hash`` = HMAC-SHA256, under a key derived from ``AUDIT_KEY`` (configuration, never the
database), over a canonical JSON form of the row's content (``FIELDS``, keys sorted, no
spaces, UTF-8): whoever can write the table but lacks the key cannot forge a row nor rehash
an edited chain. Ids are consecutive (the next id is the last one plus one, taken under the
append lock), so a removed row leaves a gap that ``verify`` names. The head of the chain is
checkpointed outside the table (``audit.checkpoint``); ``verify`` also checks that the table
still holds every checkpointed prefix, so a cut tail or a chain recomputed with the key is
found too.

Appends are serialized: on PostgreSQL by a transaction-level advisory lock taken before the
last hash is read; on SQLite by taking the database's write lock first (a write that changes
nothing). Both locks are held until the transaction ends, so two writers never chain onto the
same row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vaxportal.audit import checkpoint
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

#: ``conn.info`` key: (a weak reference to) the transaction in which this connection last
#: appended
_APPENDED_IN = "vaxportal_audit_appended_in"

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


#: one encoder for every row (``json.dumps`` with options builds a new one per call)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)


def canonical(row) -> bytes:
    """The bytes the hash is taken over (``row``: a mapping or an AuditEvent)."""
    if hasattr(row, "get"):
        data = {key: row[key] for key in FIELDS}
    else:
        data = {key: getattr(row, key) for key in FIELDS}
    data["at"] = _iso(data["at"])
    return _ENCODER.encode(data).encode("utf-8")


def chain_key() -> bytes:
    return checkpoint.derived_key(b"chain")


def digest(row, key: bytes | None = None) -> str:
    """The row's keyed hash (``key``: ``chain_key()``, passed in by loops)."""
    return hmac.new(key or chain_key(), canonical(row), hashlib.sha256).hexdigest()


def unkeyed_digest(row) -> str:
    """The public hash of rows written before the chain was keyed (a trail adopted with
    ``vaxportal audit adopt-unkeyed``: such rows are trusted only up to its checkpoint)."""
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
    transaction = conn.get_transaction()
    appended_in = conn.info.get(_APPENDED_IN)
    if appended_in is None or appended_in() is not transaction:
        conn.info[_APPENDED_IN] = weakref.ref(transaction)
        checkpoint.write_if_due(conn)  # the committed head: nothing of ours in it yet
    last = conn.execute(
        sa.select(TABLE.c.id, TABLE.c.row_hash).order_by(TABLE.c.id.desc()).limit(1)
    ).first()
    last_id, prev_hash = (last.id, last.row_hash) if last else (0, None)
    now, key = utcnow(), chain_key()
    written = []
    for row in rows:
        last_id += 1
        full = {key: row.get(key) for key in FIELDS}
        full.update(id=last_id, at=row.get("at") or now, prev_hash=prev_hash,
                    changes=normalized(row.get("changes")), details=normalized(row.get("details")))
        full["at"] = full["at"].astimezone(UTC)
        full["row_hash"] = prev_hash = digest(full, key)
        written.append(full)
    with writing():
        conn.execute(sa.insert(TABLE), written)
    return written


@dataclass
class Verdict:
    checked: int
    broken_id: int | None = None
    #: "missing" | "link" | "content" (the chain), "truncated" | "checkpoint" (a checkpointed
    #: prefix is gone or differs), "signature" (a checkpoint not signed with our key),
    #: "no_checkpoint" (rows but nothing to check them against)
    reason: str | None = None
    missing_id: int | None = None
    checkpoint_at: datetime | None = None  # the last checkpoint checked against

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify(conn: Connection, checkpoints: list[dict] | None = None,
           chunk: int = 5000) -> Verdict:
    """Walk the chain in id order, in keyset chunks of plain rows (no ORM objects, and a
    long check never holds SQLite's lock), and compare it with every checkpoint
    (``checkpoint.read_all()`` when not given)."""
    records = checkpoint.read_all() if checkpoints is None else checkpoints
    if not all(checkpoint.is_signed(record) for record in records):
        bad = next(r for r in records if not checkpoint.is_signed(r))
        return Verdict(0, _int(bad.get("last_id")), "signature")
    at = checkpoint.parse_time(records[-1]["at"]) if records else None
    unkeyed_until = max((r.get("unkeyed_until") or 0 for r in records), default=0)
    marks: dict[int, list[dict]] = {}
    for record in records:
        marks.setdefault(record["last_id"], []).append(record)
    verdict = _walk(conn, marks, chunk, unkeyed_until)
    verdict.checkpoint_at = at
    if verdict.ok and verdict.checked and not records:
        verdict.reason = "no_checkpoint"
    return verdict


def _rows(conn: Connection, chunk: int) -> Iterator:
    """Every row in id order, read in keyset chunks of plain mappings."""
    prev_id = 0
    while True:
        rows = conn.execute(
            sa.select(TABLE).where(TABLE.c.id > prev_id).order_by(TABLE.c.id).limit(chunk)
        ).mappings().all()
        if not rows:
            return
        yield from rows
        prev_id = rows[-1]["id"]


def _walk(conn: Connection, marks: dict[int, list[dict]], chunk: int,
          unkeyed_until: int) -> Verdict:
    key = chain_key()
    prev_id, prev_hash, checked = 0, None, 0
    for record in marks.get(0, []):
        if record["count"] != 0:
            return Verdict(0, 0, "checkpoint")
    for row in _rows(conn, chunk):
        if row["id"] != prev_id + 1:
            return Verdict(checked, row["id"], "missing", prev_id + 1)
        if row["prev_hash"] != prev_hash:
            return Verdict(checked, row["id"], "link")
        expected = unkeyed_digest(row) if row["id"] <= unkeyed_until else digest(row, key)
        if expected != row["row_hash"]:
            return Verdict(checked, row["id"], "content")
        prev_id, prev_hash = row["id"], row["row_hash"]
        checked += 1
        for record in marks.get(prev_id, ()):
            if record["last_hash"] != prev_hash or record["count"] != checked:
                return Verdict(checked, prev_id, "checkpoint")
    beyond = [i for i in marks if i > prev_id]
    return Verdict(checked, max(beyond), "truncated") if beyond else Verdict(checked)


def unkeyed_prefix(conn: Connection, chunk: int = 5000) -> tuple[int, str | None]:
    """(last id, its hash) of the intact run of rows, from the first, that carry the public
    hash of the trail before it was keyed; (0, None) when there are none."""
    prev_id, prev_hash = 0, None
    for row in _rows(conn, chunk):
        if row["id"] != prev_id + 1 or row["prev_hash"] != prev_hash \
                or unkeyed_digest(row) != row["row_hash"]:
            break
        prev_id, prev_hash = row["id"], row["row_hash"]
    return prev_id, prev_hash


def _int(value) -> int | None:
    return value if isinstance(value, int) else None
