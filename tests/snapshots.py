"""The database as a factory left it, kept per test process and laid down again in the next
test's empty database: rows copied verbatim (``COPY`` on PostgreSQL, the stored values on
SQLite), the sequences where they stood, the audit checkpoint file the build wrote.

``Factory.place`` builds its small province through the application (``tree.add_facility``,
the audit hook, the vaccine catalogue) in the first test of a process that asks for it, and
copies that result into every later one: about 50 ms a test on PostgreSQL (seven facilities,
two flushes each, each flush an audit append) against a few milliseconds. The copy is the
very same rows (ids, timestamps, hashes), so the chain still verifies and a test sees what it
would have built. It is laid down only into a database with no row at all and, like the
build it stands for, leaves the session committed."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from vaxportal import timeutil
from vaxportal.audit import checkpoint
from vaxportal.exports.storage import open_private
from vaxportal.extensions import db

_ORIGINAL_UTCNOW = timeutil.utcnow


@dataclass
class Snapshot:
    tables: dict[str, object] = field(default_factory=dict)  # name -> COPY text or rows
    sequences: dict[str, int] = field(default_factory=dict)  # PostgreSQL's, name -> last value
    checkpoints: bytes | None = None


def key(*parts) -> tuple | None:
    """What a snapshot depends on besides the factory's own arguments, or None when none may
    be used: the dialect, the audit key (the rows' hashes and the checkpoint's signature), the
    day (the day's first audit write checkpoints), and no clock moved by the test nor a
    checkpoint copy configured to be sent out (a build would send it)."""
    config = current_app.config
    if config.get("AUDIT_CHECKPOINT_SMS") or config.get("AUDIT_CHECKPOINT_URL"):
        return None
    for name, module in list(sys.modules.items()):
        if name.startswith("vaxportal") and \
                getattr(module, "utcnow", _ORIGINAL_UTCNOW) is not _ORIGINAL_UTCNOW:
            return None
    return (db.engine.dialect.name, config["AUDIT_KEY"], timeutil.local_today(), *parts)


def is_empty() -> bool:
    """No row in any table of the models, and no audit checkpoint written yet."""
    if checkpoint.path().exists():
        return False
    return db.session.scalar(sa.text(_any_row(db.engine.dialect))) is None


@functools.cache
def _any_row(dialect) -> str:
    """The question, as SQL text made once per dialect (asked before every ``place``: the
    statement over every table cost more to build and key each time than to run)."""
    tables = db.metadata.sorted_tables
    select = sa.select(sa.literal(1)).where(sa.or_(
        *(sa.exists().select_from(table) for table in tables)))
    return str(select.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def take() -> Snapshot:
    """The committed database, as it stands (after a build into an empty one)."""
    snapshot = Snapshot()
    raw = _driver_connection()
    if db.engine.dialect.name == "postgresql":
        cursor = raw.cursor()
        for table in db.metadata.sorted_tables:
            order = _order(table)
            query = f'SELECT * FROM "{table.name}" ORDER BY {order}'  # noqa: S608 (the models' names)
            with cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            if data:
                snapshot.tables[table.name] = data
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences "
                       "WHERE schemaname = 'public' AND last_value IS NOT NULL")
        snapshot.sequences = dict(cursor.fetchall())
    else:
        for table in db.metadata.sorted_tables:
            order = _order(table)
            rows = raw.execute(f'SELECT * FROM "{table.name}" ORDER BY {order}').fetchall()  # noqa: S608 (the models' names)
            if rows:
                snapshot.tables[table.name] = rows
    path = checkpoint.path()
    snapshot.checkpoints = path.read_bytes() if path.exists() else None
    db.session.commit()
    return snapshot


def restore(snapshot: Snapshot) -> None:
    """Lay ``snapshot`` down in the (empty) database and commit, past the application's
    statement guard (the driver's own connection): the rows are the ones the application
    wrote, audit rows included, not new writes."""
    raw = _driver_connection()
    if db.engine.dialect.name == "postgresql":
        cursor = raw.cursor()
        for name, data in snapshot.tables.items():
            with cursor.copy(f'COPY "{name}" FROM STDIN') as copy:
                copy.write(data)
        for name, value in snapshot.sequences.items():
            cursor.execute("SELECT setval(%s, %s, true)", (name, value))
    else:
        for name, rows in snapshot.tables.items():
            marks = ", ".join("?" * len(rows[0]))
            raw.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)  # noqa: S608 (the models' names)
    db.session.commit()
    if snapshot.checkpoints is not None:  # 0600 before a byte is in it, as the app writes it
        path = checkpoint.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_private(path) as out:
            out.write(snapshot.checkpoints)


def _order(table: sa.Table) -> str:
    """Rows in key order: PostgreSQL's physical order after the cleaning's DELETE is not the
    order of the writes."""
    return ", ".join(f'"{column.name}"' for column in table.primary_key.columns or table.columns)


def _driver_connection():
    """The DBAPI connection under the session's own (its transaction, its locks)."""
    return db.session.connection().connection.dbapi_connection

