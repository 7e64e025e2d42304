"""Tamper evidence (P2.4): every audit row carries the previous row's hash and its own.

``row_hash`` = HMAC-SHA256, under a key derived from ``AUDIT_KEY`` (configuration, never the
database), over a canonical JSON form of the row's content (``FIELDS``, keys sorted, no
spaces, UTF-8): whoever can write the table but lacks the key cannot forge a row nor rehash
an edited chain. Ids are consecutive (the next id is the last one plus one, taken under the
append lock), so a removed row leaves a gap that ``verify`` names. The head of the chain is
checkpointed outside the table (``audit.checkpoint``); ``verify`` also checks that the table
still holds every checkpointed prefix, so a cut tail or a chain recomputed with the key is
found too.

``changes`` and ``details`` are stored as that canonical JSON text itself, so ``verify`` hashes
the stored text as it is, without decoding and encoding it again (a row written before, or
stored otherwise, is decoded and checked the slow way: no weaker, only slower).

Appends are serialized: on PostgreSQL by a transaction-level advisory lock taken before the
last hash is read; on SQLite by holding the database's one write lock before it is read (the
flush's own first write took it, or a write that changes nothing). Both locks are held until
the transaction ends, so two writers never chain onto the same row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from json.encoder import encode_basestring

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
#: ``conn.info`` keys of what holds for the lock's scope only (``_keep`` / ``_kept``): that
#: the lock is held, and the chain's head (last id, last hash) as read under the lock or as
#: this connection's last append left it
_LOCKED_IN = "vaxportal_audit_locked_in"
_HEAD = "vaxportal_audit_head"

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


def _json_text(value) -> str | None:
    """How ``changes`` and ``details`` are stored: their canonical JSON (None: SQL NULL)."""
    return None if value is None else _ENCODER.encode(value)


#: the JSON columns, whose stored text is spliced into the canonical form by ``verify``
_JSON_FIELDS = ("changes", "details")
#: the other fields, read as they are
_PLAIN_FIELDS = tuple(key for key in FIELDS if key not in _JSON_FIELDS and key != "at")


def chain_key() -> bytes:
    return checkpoint.derived_key(b"chain")


def digest(row, key: bytes | None = None) -> str:
    """The row's keyed hash (``key``: ``chain_key()``, passed in by loops)."""
    return hmac.new(key or chain_key(), canonical(row), hashlib.sha256).hexdigest()


def unkeyed_digest(row) -> str:
    """The public hash of rows written before the chain was keyed (a trail adopted with
    ``vaxportal audit adopt-unkeyed``: such rows are trusted only up to its checkpoint)."""
    return hashlib.sha256(canonical(row)).hexdigest()


def lock(conn: Connection, *, written: bool = False) -> None:
    """Serialize appends until this transaction ends (taken before any row lock of a flush).
    Taken once per transaction, or savepoint: a savepoint rolled back gives PostgreSQL's
    lock back, so one taken inside a savepoint is taken again after it.

    ``written``: this transaction has already changed a row (a flush's own statements, from
    its ``after_flush``). On SQLite that write took the database's one write lock, held until
    the transaction ends, which is the lock itself: no statement is needed."""
    if _kept(conn, _LOCKED_IN):
        return
    if written and conn.dialect.name == "sqlite" and _lock_scope(conn) is not None:
        _keep(conn, _LOCKED_IN, True)
        return
    head = None
    if conn.dialect.name == "postgresql":
        # the head is read in the same round trip, by a second statement: it sees the
        # rows committed until the lock was granted (each statement its own snapshot)
        cursor = _run(conn, _statements(conn.dialect).locked_head)
        try:
            cursor.nextset()
            head = cursor.fetchone() or (0, None)
        finally:
            cursor.close()
    elif conn.dialect.name == "sqlite":
        with writing():  # takes SQLite's write lock; the row triggers do not fire on no row
            conn.exec_driver_sql("UPDATE audit_event SET id = id WHERE 0")
    if _lock_scope(conn) is not None:  # the statement began a transaction if none was open
        _keep(conn, _LOCKED_IN, True)
        if head is not None:
            _keep(conn, _HEAD, tuple(head))


def _keep(conn: Connection, key: str, value) -> None:
    """``value`` holds for the lock's current scope (``_lock_scope``) only."""
    conn.info[key] = (weakref.ref(_lock_scope(conn)), value)


def _kept(conn: Connection, key: str):
    """What ``_keep`` kept under ``key`` for the lock's current scope, or None: another scope
    (a savepoint begun, released or rolled back since; another transaction) starts over."""
    kept = conn.info.get(key)
    scope = _lock_scope(conn)
    if kept is None or scope is None or kept[0]() is not scope or not scope.is_active:
        return None
    return kept[1]


def _lock_scope(conn: Connection):
    """The transaction a lock taken now is held for: the innermost savepoint, if any."""
    return conn.get_nested_transaction() or conn.get_transaction()


def append(conn: Connection, rows: list[dict], *, plain: bool = False) -> list[dict]:
    """Insert ``rows`` (column dicts without id and hashes) at the end of the chain, in the
    connection's transaction. Returns the rows as written.

    ``plain``: every row's ``changes`` and ``details`` are made only of JSON's own types
    already (as ``registry.change`` and ``registry.insert_changes`` make them), so they are
    not walked and normalized again: the audited writes' rows, one per row written."""
    if not rows:
        return []
    lock(conn)
    transaction = conn.get_transaction()
    appended_in = conn.info.get(_APPENDED_IN)
    if appended_in is None or appended_in() is not transaction:
        conn.info[_APPENDED_IN] = weakref.ref(transaction)
        checkpoint.write_if_due(conn)  # the committed head: nothing of ours in it yet
    sql = _statements(conn.dialect)
    head = _kept(conn, _HEAD)
    if head is None:
        cursor = _run(conn, sql.head)
        try:
            head = cursor.fetchone() or (0, None)
        finally:
            cursor.close()
    last_id, prev_hash = head
    now, secret = utcnow().astimezone(UTC), chain_key()
    written, stored = [], []
    for row in rows:
        last_id += 1
        full = {key: row.get(key) for key in FIELDS}
        at, changes, details = full["at"], full["changes"], full["details"]
        full["id"], full["prev_hash"] = last_id, prev_hash
        full["at"] = now if at is None else at.astimezone(UTC)
        if not plain:
            full["changes"] = changes = normalized(changes)
            full["details"] = details = normalized(details)
        texts = {"changes": _json_text(changes), "details": _json_text(details)}
        body = _written_form(full, texts) or canonical(full)
        full["row_hash"] = prev_hash = hmac.digest(secret, body, "sha256").hex()
        written.append(full)
        stored.append(sql.values(full, texts))
    with writing():
        if len(stored) == 1:  # one round trip without the driver's batch machinery
            _run(conn, sql.insert, sql.parameters(stored[0])).close()
        elif conn.dialect.name == "postgresql":  # a batch (an import's): one COPY
            copy_into(conn, TABLE, sql.keys, stored)
        else:
            _run(conn, sql.insert, [sql.parameters(values) for values in stored],
                 many=True).close()
    _keep(conn, _HEAD, (last_id, prev_hash))
    return written


@dataclass(frozen=True)
class _Statements:
    """The chain's statements for one dialect, compiled once: the head's read and the
    insert, with each parameter's conversion (the time column's) taken from its type."""

    head: str
    #: on PostgreSQL, the append lock then the head, in one round trip
    locked_head: str
    insert: str
    #: the insert's parameter names, in the driver's order when it binds by position
    names: tuple[str, ...]
    positional: bool
    #: a row's values (in ``keys``' order) converted as the driver takes them
    convert: Callable[[list], list]
    #: the column of each parameter
    keys: tuple[str, ...]
    #: (index, column) of the JSON columns, bound as their text
    texts: tuple

    def values(self, full: dict, texts: dict) -> tuple:
        """One row's values in ``keys``' order, converted as the driver takes them (what a
        COPY row is). ``full``: the row's values; ``texts``: the JSON columns' stored text."""
        values = [full[key] for key in self.keys]
        for index, key in self.texts:
            values[index] = texts[key]
        return tuple(self.convert(values))

    def parameters(self, values: tuple):
        """The INSERT's parameters of one row's ``values``: a tuple (by position) or a dict."""
        return values if self.positional else dict(zip(self.names, values, strict=True))


@cache
def _statements(dialect) -> _Statements:
    compiled = _insert(dialect.name).compile(dialect=dialect)
    positional = compiled.positiontup is not None
    names = tuple(compiled.positiontup if positional else compiled.binds)
    keys = tuple(name.removeprefix("v_") for name in names)
    convert = converter(dialect, [
        sa.Text() if key in _JSON_FIELDS else TABLE.c[key].type for key in keys])
    head = _last_row().compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    texts = tuple((index, key) for index, key in enumerate(keys) if key in _JSON_FIELDS)
    locked_head = f"SELECT pg_advisory_xact_lock({LOCK_KEY}); {head.string}"
    return _Statements(head.string, locked_head, compiled.string, names, positional,
                       convert, keys, texts)


def copy_into(conn: Connection, table: sa.Table, columns: Sequence[str],
              rows: Iterable[Sequence]) -> None:
    """PostgreSQL: ``rows`` (each a sequence of values in ``columns``' order, converted as
    the driver takes them: ``converter``) added to ``table`` by one ``COPY ... FROM
    STDIN`` in the connection's transaction, through ``_run`` (the engine's cursor
    listeners hear it: the bypass guard judges a COPY into an audited table as any write).
    A batch's rows each bound and run by ``executemany`` cost the driver and the server
    several times what one COPY of them does (``docs/benchmarks.md``)."""
    quote = conn.dialect.identifier_preparer.quote
    statement = (f"COPY {quote(table.name)} ({', '.join(quote(name) for name in columns)}) "
                 "FROM STDIN")
    _run(conn, statement, copy_rows=rows).close()


def converter(dialect, types) -> Callable[[list], list]:
    """What converts a row's values, one of each of ``types``, in place, as SQLAlchemy
    converts a bound parameter before the driver takes it (the time column's naive UTC,
    JSON's wrapper); the list is returned."""
    processors = []
    for index, type_ in enumerate(types):
        process = dialect.type_descriptor(type_).bind_processor(dialect)
        if process is not None:
            processors.append((index, process))

    def convert(values: list) -> list:
        for index, process in processors:
            values[index] = process(values[index])
        return values

    return convert


def _run(conn: Connection, statement: str, parameters=None, *, many: bool = False,
         copy_rows: Iterable[Sequence] | None = None):
    """One of the chain's own statements sent on the driver's cursor of the connection's
    transaction, without SQLAlchemy's execution context and result (they cost several
    times the statement: every audited commit runs two or three). The engine's cursor
    listeners still hear it, as any statement (the bypass guard, statement counts). A
    driver's error comes as SQLAlchemy's, its parameters (personal data) hidden. Returns
    the open cursor. ``copy_rows``: the rows of a ``COPY ... FROM STDIN`` (PostgreSQL)."""
    dispatch = conn.dispatch
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(conn, None, statement, parameters, None, many)
    cursor = conn.connection.dbapi_connection.cursor()
    with _driver_errors(conn, statement, parameters, many=many, cursor=cursor):
        if copy_rows is not None:
            with cursor.copy(statement) as copy:
                for row in copy_rows:
                    copy.write_row(row)
        elif many:
            cursor.executemany(statement, parameters)
        elif parameters is None:
            cursor.execute(statement)
        else:
            cursor.execute(statement, parameters)
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(conn, cursor, statement, parameters, None, many)
    return cursor


@contextmanager
def _driver_errors(conn: Connection, statement: str, parameters, *, many: bool,
                   cursor=None) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy's (as a statement run through it would
    raise them), the parameters hidden; ``cursor`` closed on an error."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as error:
        if cursor is not None:
            cursor.close()
        raise sa.exc.DBAPIError.instance(statement, parameters, error, dbapi.Error,
                                         hide_parameters=True, dialect=conn.dialect,
                                         ismulti=many) from error


_INT_FIELDS = ("id", "facility_id", "account_id", "custodian_id", "session_id")
_TEXT_FIELDS = ("category", "action", "entity", "entity_id", "actor", "ip", "request_id",
                "prev_hash")
#: written as text, never null, by ``_stored_form``
_TEXT_REQUIRED = ("category", "action", "actor")
#: (field, the types ``_stored_form`` writes it from) of every field but the JSON ones
_FIELD_TYPES = (
    *((key, (int,) if key == "id" else (int, type(None))) for key in _INT_FIELDS),
    *((key, (str,) if key in _TEXT_REQUIRED else (str, type(None)))
      for key in _TEXT_FIELDS),
)


def _written_form(full: dict, texts: dict) -> bytes | None:
    """``canonical(full)`` written out field by field with the JSON columns' text (already
    canonical) spliced in, as ``_stored_form`` does for ``verify``: the values are not
    encoded twice. None when a value is not of its column's own type (then ``canonical``)."""
    for key, allowed in _FIELD_TYPES:
        if type(full[key]) not in allowed:
            return None
    return _stored_form((
        full["id"], full["category"], full["action"], full["entity"], full["entity_id"],
        full["facility_id"], full["account_id"], full["custodian_id"], full["session_id"],
        full["actor"], full["ip"], full["request_id"], full["prev_hash"], full["at"],
        texts["changes"], texts["details"], None))


@cache
def _last_row() -> sa.Select:
    """The chain's head (built once: every audited flush reads it)."""
    return sa.select(TABLE.c.id, TABLE.c.row_hash).order_by(TABLE.c.id.desc()).limit(1)


@cache
def _insert(dialect: str) -> sa.Insert:
    """The chain's INSERT (run for many rows at once), the JSON columns bound as the
    canonical text; built once per dialect (every audited flush runs it)."""
    values = {}
    for column in TABLE.columns:
        if column.key not in _JSON_FIELDS:
            values[column.key] = sa.bindparam(f"v_{column.key}", type_=column.type)
            continue
        value = sa.bindparam(f"v_{column.key}", type_=sa.Text())
        # text to json keeps the text as it is (SQLite stores JSON as text already)
        values[column.key] = sa.cast(value, column.type) if dialect == "postgresql" else value
    return sa.insert(TABLE).values(values)


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
    #: the last restore from a backup (``vaxportal restore``): its mark's time, the file
    restored_at: datetime | None = None
    restored_from: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify(conn: Connection, checkpoints: list[dict] | None = None,
           chunk: int = 20_000) -> Verdict:
    """Walk the chain in id order as the driver's plain tuples (``_raw_rows``: streamed on
    PostgreSQL, keyset chunks on SQLite), and compare it with every checkpoint
    (``checkpoint.read_all()`` when not given)."""
    records = checkpoint.read_all() if checkpoints is None else checkpoints
    if not all(checkpoint.is_signed(record) for record in records):
        bad = next(r for r in records if not checkpoint.is_signed(r))
        return Verdict(0, _int(bad.get("last_id")), "signature")
    at = checkpoint.parse_time(records[-1]["at"]) if records else None
    restore = checkpoint.last_restore(records)
    records = checkpoint.in_force(records)
    unkeyed_until = max((r.get("unkeyed_until") or 0 for r in records), default=0)
    marks: dict[int, list[dict]] = {}
    for record in records:
        marks.setdefault(record["last_id"], []).append(record)
    verdict = _walk(conn, marks, chunk, unkeyed_until)
    verdict.checkpoint_at = at
    if restore is not None:
        verdict.restored_at = checkpoint.parse_time(restore["at"])
        verdict.restored_from = str(restore["restored_from"])
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


#: what ``verify`` reads: plain values, the time as the driver gives it (SQLite: the stored
#: text; PostgreSQL: a naive UTC datetime), the JSON columns as their stored text
_RAW = sa.select(
    *(TABLE.c[key] for key in _PLAIN_FIELDS), sa.type_coerce(TABLE.c.at, sa.String()),
    *(sa.cast(TABLE.c[key], sa.Text()) for key in _JSON_FIELDS), TABLE.c.row_hash,
)


#: the same on PostgreSQL, the time written out by the server in SQLite's spelling of naive
#: UTC (``_stored_time`` turns it into the canonical form by string surgery, with no
#: datetime made and formatted again per row)
_RAW_PG = sa.select(
    *(TABLE.c[key] for key in _PLAIN_FIELDS),
    sa.func.to_char(TABLE.c.at, sa.literal_column("'YYYY-MM-DD HH24:MI:SS.US'")),
    *(sa.cast(TABLE.c[key], sa.Text()) for key in _JSON_FIELDS), TABLE.c.row_hash,
)


def _raw_rows(conn: Connection, chunk: int) -> Iterator[tuple]:
    """Every row in id order as a plain tuple of the driver (``_PLAIN_FIELDS``, at, changes
    text, details text, row_hash): no SQLAlchemy row objects, no type processing. On
    PostgreSQL one query through a server-side cursor, fetched ``chunk`` rows at a time; on
    SQLite keyset chunks on the primary key (each one index range), so that a long check
    never holds the database's lock."""
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        sql = _RAW_PG.order_by(TABLE.c.id).compile(dialect=conn.dialect).string
        with raw.cursor(name="vaxportal_audit_verify") as cursor:
            cursor.itersize = chunk
            cursor.execute(sql)
            while rows := cursor.fetchmany(chunk):
                yield from rows
        return
    compiled = (_RAW.where(TABLE.c.id > sa.bindparam("after", type_=sa.Integer))
                .order_by(TABLE.c.id).limit(chunk).compile(dialect=conn.dialect))
    names = compiled.positiontup or ()
    cursor = raw.cursor()
    try:
        prev_id = 0
        while True:
            values = compiled.construct_params({"after": prev_id})
            cursor.execute(compiled.string, tuple(values[name] for name in names))
            rows = cursor.fetchall()
            if not rows:
                return
            yield from rows
            prev_id = rows[-1][0]
    finally:
        cursor.close()


def _stored_form(row: tuple) -> bytes:
    """The canonical bytes of a row read by ``_raw_rows``, written out field by field in
    ``canonical``'s key order, the stored JSON text spliced in as it is. It assumes the
    columns' own types (ids int, the rest text); a row that breaks that assumption gives
    other bytes or a TypeError, and is then checked by ``_decoded_form``."""
    (id_, category, action, entity, entity_id, facility_id, account_id, custodian_id,
     session_id, actor, ip, request_id, prev_hash, at, changes, details, _row_hash) = row
    js = encode_basestring
    return (
        f'{{"account_id":{"null" if account_id is None else account_id},'
        f'"action":{js(action)},"actor":{js(actor)},"at":"{_stored_time(at)}",'
        f'"category":{js(category)},"changes":{"null" if changes is None else changes},'
        f'"custodian_id":{"null" if custodian_id is None else custodian_id},'
        f'"details":{"null" if details is None else details},'
        f'"entity":{"null" if entity is None else js(entity)},'
        f'"entity_id":{"null" if entity_id is None else js(entity_id)},'
        f'"facility_id":{"null" if facility_id is None else facility_id},"id":{id_},'
        f'"ip":{"null" if ip is None else js(ip)},'
        f'"prev_hash":{"null" if prev_hash is None else js(prev_hash)},'
        f'"request_id":{"null" if request_id is None else js(request_id)},'
        f'"session_id":{"null" if session_id is None else session_id}}}'
    ).encode()


def _stored_time(at) -> str:
    """``_iso`` of a stored time, by string surgery on SQLite's own spelling of naive UTC
    ("2026-12-03 08:15:00.000000")."""
    if type(at) is str and len(at) == 26 and at[10] == " ":
        return f"{at[:10]}T{at[11:]}+00:00"
    if type(at) is datetime and at.tzinfo is None:
        return at.isoformat(timespec="microseconds") + "+00:00"
    return _iso(_as_time(at))


def _as_time(at) -> datetime:
    return datetime.fromisoformat(at) if isinstance(at, str) else at


def _decoded_form(row: tuple) -> bytes:
    """The canonical bytes of the same row with its JSON decoded (rows stored otherwise)."""
    data = dict(zip(_PLAIN_FIELDS, row, strict=False))
    data.update(at=_as_time(row[_AT]), changes=_loads(row[_CHANGES]),
                details=_loads(row[_DETAILS]))
    return canonical(data)


def _loads(text: str | None):
    return None if text is None else json.loads(text)


_AT = len(_PLAIN_FIELDS)
_CHANGES, _DETAILS, _ROW_HASH = _AT + 1, _AT + 2, _AT + 3


def _walk(conn: Connection, marks: dict[int, list[dict]], chunk: int,
          unkeyed_until: int) -> Verdict:
    key = chain_key()
    prev_id, prev_hash, checked = 0, None, 0
    for record in marks.get(0, []):
        if record["count"] != 0:
            return Verdict(0, 0, "checkpoint")
    for row in _raw_rows(conn, chunk):
        row_id, row_hash = row[_ID], row[_ROW_HASH]
        if row_id != prev_id + 1:
            return Verdict(checked, row_id, "missing", prev_id + 1)
        if row[_PREV_HASH] != prev_hash:
            return Verdict(checked, row_id, "link")
        if not _hash_matches(row, row_hash, key, row_id <= unkeyed_until):
            return Verdict(checked, row_id, "content")
        prev_id, prev_hash = row_id, row_hash
        checked += 1
        if prev_id in marks:
            for record in marks[prev_id]:
                if record["last_hash"] != prev_hash or record["count"] != checked:
                    return Verdict(checked, prev_id, "checkpoint")
    beyond = [i for i in marks if i > prev_id]
    return Verdict(checked, max(beyond), "truncated") if beyond else Verdict(checked)


def _hash_matches(row: tuple, row_hash: str | None, key: bytes, unkeyed: bool) -> bool:
    """The stored text first; if it is not the canonical form, the decoded values (a value
    that is not JSON, or not a time, matches nothing). The keyed hash is one call into
    OpenSSL (``hmac.digest``), no HMAC object per row."""
    for form in (_stored_form, _decoded_form):
        try:
            body = form(row)
        except (TypeError, ValueError):
            continue
        if unkeyed:
            expected = hashlib.sha256(body).hexdigest()
        else:
            expected = hmac.digest(key, body, "sha256").hex()
        if expected == row_hash:
            return True
    return False


_ID, _PREV_HASH = _PLAIN_FIELDS.index("id"), _PLAIN_FIELDS.index("prev_hash")


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
