"""One engine per test process on the test database, shared by every test's app: the SQL
SQLAlchemy compiles is kept per engine, so a new engine per test compiled every statement
again (a quarter of the suite's time). ``tests/fixtures.py`` installs it;
``tests/conftest.py`` names the test database and checks the engine after each test. And
``clean_postgres``, which empties the PostgreSQL test database before each test, and
``scratch_postgres``, an empty database of its own beside it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event as sa_event

from vaxportal.audit import hook
from vaxportal.extensions import db

_SHARED_ENGINE: dict[str, object] = {"uri": None}
_ENGINES: dict[str, object] = {}


def set_shared_engine_uri(uri: str) -> None:
    """The test database's URI (the same for every test of a process): an app made on it
    gets the process's one engine."""
    _SHARED_ENGINE["uri"] = uri


def reuse_engines() -> None:
    """Every test makes its own app, and each app its own engine; SQLAlchemy keeps the SQL it
    has compiled per engine (and per dialect object), so every test compiled again every
    statement it ran: a quarter of the suite's time. The engine on the test database is made
    once per process and handed to each app made on it (its pool disposed after each test by
    the ``app`` fixture); an engine on any other URI, or with other options, is the app's
    own, as before. A test's own listener on the engine must be removed by the test:
    ``app``'s teardown fails on a leftover (``assert_no_stray_listeners``)."""
    make = SQLAlchemy._make_engine
    engines = _ENGINES

    @functools.wraps(make)
    def shared(self, bind_key, options, app):
        if str(options.get("url")) != _SHARED_ENGINE["uri"]:
            return make(self, bind_key, options, app)
        key = repr(sorted((name, repr(value)) for name, value in options.items()))
        if key not in engines:
            # room for every statement of the whole suite (SQLAlchemy's default keeps 500)
            engines[key] = make(self, bind_key, {**options, "query_cache_size": 5000}, app)
        return engines[key]

    SQLAlchemy._make_engine = shared


def assert_no_stray_listeners(engine) -> None:
    """Only the app's own statement guard listens on a shared engine between tests; on a
    leftover the engine is dropped (the next test gets a new one) and the test fails."""
    expected = 1 if sa_event.contains(engine, "before_cursor_execute", hook._guard_cursor) else 0
    stray = (len(engine.dispatch.before_cursor_execute) - expected
             + len(engine.dispatch.after_cursor_execute))
    if stray:
        for key in [key for key, value in _ENGINES.items() if value is engine]:
            del _ENGINES[key]
        raise AssertionError(f"the test left {stray} listener(s) on the shared engine")


def clean_postgres(app) -> None:
    """Empty every table and restart the sequences that were used. DELETE on the few rows a
    test leaves is about a hundred times cheaper than TRUNCATE (which makes new files for every
    table, about 0.3 s a test); it runs on a raw connection with triggers off, past the audit
    trail's append-only guard, which refuses a DELETE on its table from the app's engine."""
    with app.app_context():
        names = [table.name for table in db.metadata.sorted_tables]
        raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(";".join(f'DELETE FROM "{name}"' for name in names))  # noqa: S608 (table names from the models)
        cursor.execute("SELECT sequencename FROM pg_sequences "
                       "WHERE schemaname = 'public' AND last_value IS NOT NULL")
        used = [row[0] for row in cursor.fetchall()]
        if used:
            cursor.execute(";".join(f'ALTER SEQUENCE "{name}" RESTART' for name in used))
        cursor.execute("SET session_replication_role = DEFAULT")
        raw.commit()
    finally:
        raw.close()


@contextmanager
def scratch_postgres(uri: str, suffix: str) -> Iterator[str]:
    """An empty PostgreSQL database named after ``uri``'s with ``suffix``, made anew and
    dropped after (a test that needs a database of its own: the migrations from nothing,
    a script's own load). Yields its URI."""
    url = sa.engine.make_url(uri)
    name = f"{url.database}_{suffix}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
