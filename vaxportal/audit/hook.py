"""The ONE session hook of the audit trail (P2.4) and the guards that keep it unbypassable.

* ``before_flush``: refuses changes to audit rows, chains the access events waiting in the
  session, takes the append lock before the flush takes any row lock, and keeps a snapshot
  of every audited object about to be deleted.
* ``after_flush``: one audit row per insert, update and delete of an audited model (ids of
  inserts are known by then), written through the flush's own connection: same transaction,
  so a change cannot commit without its row.
* ``do_orm_execute``: ORM or Core UPDATE/DELETE statements on audited tables run through the
  session are audited row by row (the rows are read first, under lock); bulk INSERTs and
  UPDATEs by primary key lists are refused.
* an engine guard (``before_cursor_execute``) refuses any other DML on an audited table
  (Core on a bare connection, text SQL, ``bulk_*`` methods; PostgreSQL's TRUNCATE and
  COPY ... FROM too) and any DML on ``audit_event`` that is not the chain's own insert.
"""

from __future__ import annotations

import functools
import re
import weakref
from contextvars import ContextVar
from itertools import chain as chained

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from vaxportal.audit import actors, chain, registry
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db

_DELETED_KEY = "vaxportal_audit_deleted"
_UOW_KEY = "vaxportal_audit_unit_of_work"
#: the sessions of this thread/context inside a unit-of-work flush (weak references)
_flushing: ContextVar[tuple] = ContextVar("audit_flushing_sessions", default=())
_DML = re.compile(
    r"\b(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM|REPLACE\s+INTO"
    r"|MERGE\s+INTO"
    # PostgreSQL's COPY into a table (from a file or the client); COPY ... TO only reads
    r"|COPY(?=\s+(?:\"?\w+\"?\.)?\"?\w+\"?\s*(?:\([^)]*\))?\s+FROM\b))"
    r"\s+(?:ONLY\s+)?(?:\"?\w+\"?\.)?\"?(\w+)\"?",
    re.IGNORECASE,
)
#: PostgreSQL's TRUNCATE empties every table it names, without a row's trigger or event
_TRUNCATE = re.compile(r"^\s*TRUNCATE\b(.*)$", re.IGNORECASE | re.DOTALL)
_TRUNCATE_WORDS = frozenset({"table", "only", "cascade", "restrict", "restart", "continue",
                             "identity"})


class AuditBypassError(RuntimeError):
    """A statement would change audited data without its audit rows."""


class AuditAppendOnlyError(RuntimeError):
    """Audit rows are never changed or removed."""


def install(app) -> None:
    """Bind the hook to the session class and the guard to this app's engine(s)."""
    registry.on_register(_keep_old_values)
    for name, listener in (("before_flush", _before_flush), ("after_flush", _after_flush),
                           ("after_flush_postexec", _flush_done),
                           ("do_orm_execute", _on_orm_execute),
                           ("after_soft_rollback", _forget_flush)):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
    with app.app_context():
        engines = set(db.engines.values())
    for engine in engines:
        if not event.contains(engine, "before_cursor_execute", _guard_cursor):
            event.listen(engine, "before_cursor_execute", _guard_cursor)


def _keep_old_values(cls, spec) -> None:
    """Load the old value before an attribute is set, even on an expired object, so every
    update row carries its "before" (SQLAlchemy's ``active_history``)."""
    for key, _column in registry.audited_columns(sa.inspect(cls), spec):
        attribute = getattr(cls, key)
        if not event.contains(attribute, "set", _noop_set):
            event.listen(attribute, "set", _noop_set, active_history=True)


def _noop_set(target, value, oldvalue, initiator):
    return value


# -- the session hook ---------------------------------------------------------------------

def _before_flush(session: Session, flush_context, instances) -> None:
    session.info[_UOW_KEY] = flush_context  # its statements are audited here (engine guard)
    _flushing.set(tuple(r for r in _flushing.get() if r() not in (None, session))
                  + (weakref.ref(session),))
    dirty = session.dirty  # worked out anew at each reading
    _refuse_audit_changes(session, dirty)
    waiting = sorted((o for o in session.new if isinstance(o, AuditEvent)),
                     key=lambda o: sa.inspect(o).insert_order)
    touched = any(registry.spec_for(type(o))
                  for o in chained(session.new, dirty, session.deleted))
    if not waiting and not touched:
        return
    if waiting or session.get_bind().dialect.name != "sqlite":
        # before this flush takes row locks: no lock-order deadlock (SQLite has none: the
        # flush's first write takes its one write lock, see ``_after_flush``)
        conn = session.connection()
        chain.lock(conn)
    if waiting:
        for obj in waiting:
            session.expunge(obj)
        written = chain.append(conn, [_event_row(o) for o in waiting])
        for obj, row in zip(waiting, written, strict=True):
            for key in ("id", "at", "prev_hash", "row_hash"):
                setattr(obj, key, row[key])
    snapshots = session.info.setdefault(_DELETED_KEY, {})
    for obj in session.deleted:
        spec = registry.spec_for(type(obj))
        if spec is not None:
            snapshots[sa.inspect(obj)] = _values(obj, spec)


def _after_flush(session: Session, flush_context) -> None:
    snapshots = session.info.pop(_DELETED_KEY, {})
    rows = []
    for obj in sorted(session.new, key=lambda o: sa.inspect(o).insert_order):
        spec = registry.spec_for(type(obj))
        if spec is not None:
            rows.append(_data_row(spec, obj, "insert", _insert_changes(obj, spec)))
    for obj in session.dirty:
        spec = registry.spec_for(type(obj))
        if spec is None or obj in session.deleted:
            continue
        changes = _update_changes(obj, spec)
        if changes:
            rows.append(_data_row(spec, obj, "update", changes))
    for obj in session.deleted:
        spec = registry.spec_for(type(obj))
        if spec is not None:
            old = snapshots.get(sa.inspect(obj)) or _values(obj, spec, load=False)
            changes = {k: registry.change(spec, k, v, None) for k, v in old.items()
                       if v is not None}
            rows.append(_data_row(spec, obj, "delete", changes))
    if rows:
        actor = actors.columns(load=False)
        conn = session.connection()
        chain.lock(conn, written=True)  # each row is of a statement this flush ran
        chain.append(conn, [{**row, **actor} for row in rows], plain=True)


def _flush_done(session: Session, flush_context) -> None:
    session.info.pop(_UOW_KEY, None)
    _flushing.set(tuple(r for r in _flushing.get() if r() not in (None, session)))


def _forget_flush(session: Session, previous_transaction) -> None:
    session.info.pop(_DELETED_KEY, None)
    _flush_done(session, None)


def _refuse_audit_changes(session: Session, dirty) -> None:
    for obj in chained(dirty, session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditAppendOnlyError(
                "audit rows are append-only: an AuditEvent cannot be changed or deleted"
            )


def _event_row(obj: AuditEvent) -> dict:
    return {key: getattr(obj, key) for key in chain.FIELDS if key not in ("id", "prev_hash")}


def _values(obj, spec, *, load: bool = True) -> dict:
    mapper = sa.inspect(type(obj))
    state = sa.inspect(obj)
    if load:
        return {key: getattr(obj, key) for key, _c in registry.audited_columns(mapper, spec)}
    return {key: state.dict.get(key) for key, _c in registry.audited_columns(mapper, spec)}


def _insert_changes(obj, spec) -> dict:
    return registry.insert_changes(spec, _audited_keys(type(obj), spec), sa.inspect(obj).dict)


#: the audited attribute keys of each model, read once its mapper is configured (a flush)
_KEYS: dict[type, tuple[str, ...]] = {}


def _audited_keys(cls: type, spec) -> tuple[str, ...]:
    keys = _KEYS.get(cls)
    if keys is None:
        keys = _KEYS[cls] = tuple(
            key for key, _c in registry.audited_columns(sa.inspect(cls), spec))
    return keys


def _update_changes(obj, spec) -> dict:
    state = sa.inspect(obj)
    changes = {}
    for key, _c in registry.audited_columns(sa.inspect(type(obj)), spec):
        history = state.attrs[key].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            changes[key] = registry.change(spec, key, old, new)
    return changes


def _data_row(spec, obj, action: str, changes: dict) -> dict:
    identity = sa.inspect(obj).mapper.primary_key_from_instance(obj)
    return {
        "category": spec.category, "action": action, "entity": spec.entity,
        "entity_id": ":".join(str(part) for part in identity),
        "facility_id": spec.facility_of(obj), "changes": changes,
    }


# -- a batch of new rows, without objects ---------------------------------------------------

def insert_rows(session: Session, model: type, rows: list[dict]) -> list[dict]:
    """Insert new rows of an audited model in one statement (``executemany``), each with
    the audit row the session hook writes for an object inserted by a flush (the same
    content: every audited value that is not None, old None), all appended to the chain at
    once, in the session's transaction. For a batch of new records that nothing of the
    unit of work concerns (an import: no object, relationship or validator of the model
    runs, so the caller writes what they would, e.g. derived columns and child rows).

    ``rows``: {attribute: value}, the primary key included (the caller takes the ids under
    the chain's lock, held from here to the commit). As in a flush, a missing or None value
    of a column with a default gets the default, and the version column starts at 1. Every
    row gives the same attributes. Returns the rows as inserted."""
    spec = registry.spec_for(model)
    if spec is None:
        raise ValueError(f"{model.__name__} is not audited")
    if not rows:
        return []
    conn = session.connection()
    chain.lock(conn)
    mapper = sa.inspect(model)
    written = [_as_inserted(mapper, row) for row in rows]
    columns = {prop.key: prop.columns[0].key for prop in mapper.column_attrs}
    with chain.writing():
        insert_values(conn, mapper.local_table,
                      [{columns[key]: value for key, value in row.items()} for row in written])
    keys = _audited_keys(model, spec)
    (pk,) = mapper.primary_key
    audit = [{"category": spec.category, "action": "insert", "entity": spec.entity,
              "entity_id": str(row[pk.key]), "facility_id": spec.facility_of(_Probe(row)),
              "changes": registry.insert_changes(spec, keys, row)}
             for row in written]
    actor = actors.columns(load=False)
    chain.append(conn, [{**row, **actor} for row in audit], plain=True)
    return written


def insert_values(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """``rows`` (each with the same columns) inserted into ``table`` in one statement: on
    PostgreSQL one ``COPY`` (``chain.copy_into``: psycopg's ``executemany`` binds and runs
    the statement once per row, and one array per column costs the driver several times
    the COPY), elsewhere ``executemany``. Not a way around the trail: the engine guard
    judges this statement as any other."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(sa.insert(table), rows)
        return
    names = tuple(rows[0])
    convert = _converter(conn.dialect, table, names)
    chain.copy_into(conn, table, names, [convert([row[name] for name in names]) for row in rows])


@functools.cache
def _converter(dialect, table: sa.Table, names: tuple[str, ...]):
    return chain.converter(dialect, [table.c[name].type for name in names])


def _as_inserted(mapper, row: dict) -> dict:
    """A row with what a flush adds: the column defaults of missing or None values, the
    first version. A None for a column that stores None as a value (JSON) is refused: a
    flush would leave it out, and here every row has the same columns."""
    out = dict(row)
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if out.get(prop.key) is not None or column.primary_key:
            continue
        if column is mapper.version_id_col:
            out[prop.key] = mapper.version_id_generator(None)
        elif column.default is not None and column.default.is_scalar:
            out[prop.key] = column.default.arg
        elif column.default is not None and column.default.is_callable:
            out[prop.key] = column.default.arg(None)
        elif prop.key in out and column.type.should_evaluate_none:
            raise ValueError(f"{prop.key}: leave it out rather than give None")
    return out


# -- statements that skip the per-object events -------------------------------------------

def _on_orm_execute(state) -> object | None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return None
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name == AuditEvent.__tablename__:
        raise AuditAppendOnlyError("audit rows are append-only: no UPDATE/DELETE/INSERT "
                                   "statement on audit_event outside the trail")
    found = registry.audited_tables().get(name)
    if found is None:
        return None
    if state.is_insert or isinstance(state.parameters, list | tuple):
        raise AuditBypassError(
            f"bulk INSERT or UPDATE by primary key on the audited table {name} would skip "
            "the audit trail: add or change the objects through the session instead"
        )
    return _audited_statement(state, sa.inspect(found[0]), found[1])


def _audited_statement(state, mapper, spec: registry.AuditSpec):
    """Run an UPDATE/DELETE ... WHERE statement with one audit row per row it touches."""
    table = mapper.local_table
    conn = state.session.connection()
    chain.lock(conn)
    (pk,) = table.primary_key.columns
    params = state.parameters or {}
    select = sa.select(table)
    if state.statement.whereclause is not None:
        select = select.where(state.statement.whereclause)
    if conn.dialect.name == "postgresql":
        select = select.with_for_update(of=table)
    before = {row[pk.key]: row for row in conn.execute(select, params).mappings()}
    statement = state.statement.where(pk.in_(list(before)))
    with chain.writing():
        result = state.invoke_statement(statement=statement)
    if state.statement.returning_column_descriptions:
        result = result.freeze()()  # RETURNING rows read now, before the next statement
    after = {}
    if state.is_update and before:
        after = {row[pk.key]: row for row in conn.execute(
            sa.select(table).where(pk.in_(list(before)))).mappings()}
    rows = [_statement_row(spec, mapper, key, old, after.get(key), state.is_update)
            for key, old in before.items()]
    rows = [row for row in rows if row is not None]
    if rows:
        actor = actors.columns(load=False)
        chain.append(conn, [{**row, **actor} for row in rows], plain=True)
    return result


def _statement_row(spec, mapper, key, old, new, is_update: bool) -> dict | None:
    changes = {}
    for attr, column in registry.audited_columns(mapper, spec):
        before = old[column.key]
        after = new[column.key] if new is not None else None
        if is_update and registry.jsonable(before) == registry.jsonable(after):
            continue
        if not is_update and before is None:
            continue
        changes[attr] = registry.change(spec, attr, before, after)
    if is_update and not changes:
        return None
    probe = _Probe({attr: old[column.key] for attr, column in mapper.columns.items()})
    return {
        "category": spec.category, "action": "update" if is_update else "delete",
        "entity": spec.entity, "entity_id": str(key), "facility_id": spec.facility_of(probe),
        "changes": changes, "details": {"statement": True},
    }


class _Probe:
    """The old row's values, read like the object (for ``spec.facility``)."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


# -- the engine guard -----------------------------------------------------------------------

def _in_flush(context) -> bool:
    """The unit of work's own statements, which the session hook audits: a session of this
    thread is inside ``flush()`` past ``before_flush`` with its transaction begun. The
    ``bulk_*`` methods also mark a session as flushing, but never pass ``before_flush``; a
    flush that found nothing to do never began its transaction."""
    if context is None or "compiled_cache" not in context.execution_options:
        return False
    for ref in _flushing.get():
        session = ref()
        if session is not None and session._flushing and getattr(
                session.info.get(_UOW_KEY), "transaction", None) is not None:
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _targets(statement: str) -> frozenset[tuple[str, str]]:
    """The (verb, table) pairs a statement writes. The app sends the same few hundred
    statement strings again and again (SQLAlchemy's compiled cache): read each once."""
    targets = {(m.group(1).split()[0].upper(), m.group(2).lower())
               for m in _DML.finditer(statement)}
    truncated = _TRUNCATE.match(statement)
    if truncated:
        targets |= {("TRUNCATE", word) for word in re.findall(r"\w+", truncated.group(1).lower())
                    if word not in _TRUNCATE_WORDS}
    return frozenset(targets)


def _guard_cursor(conn, cursor, statement, parameters, context, executemany) -> None:
    if chain.is_writing():
        return
    targets = _targets(statement)
    if not targets:
        return
    if any(table == AuditEvent.__tablename__ for _verb, table in targets):
        raise AuditAppendOnlyError("audit rows are append-only: this statement on "
                                   "audit_event is refused")
    audited = registry.audited_tables()
    hit = sorted(table for _verb, table in targets if table in audited)
    if hit and not _in_flush(context):
        raise AuditBypassError(
            f"a statement on the audited table {hit[0]} would skip the audit trail: change "
            "the objects through the session, or run UPDATE/DELETE ... WHERE via "
            "db.session.execute"
        )
