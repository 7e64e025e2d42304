"""Database objects that the models cannot declare (triggers); one function serves both the
Alembic migration and the test schema, so they never drift apart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

#: (dialect name -> list of DDL statements); domains append theirs at import time
EXTRA_DDL: dict[str, list[str]] = {"sqlite": [], "postgresql": []}
#: tables those statements make (SQLite's FTS5 tables and their shadow tables): not models,
#: so the comparison of migrations and models leaves them out (``include_name``)
EXTRA_TABLES: set[str] = set()


def install_database_objects(conn: Connection) -> None:
    for statement in EXTRA_DDL.get(conn.dialect.name, []):
        conn.exec_driver_sql(statement)


def include_name(name: str | None, type_: str, _parent_names) -> bool:
    """Alembic's ``include_name``: every object but the tables of ``EXTRA_TABLES``."""
    return not (type_ == "table" and name in EXTRA_TABLES)


@contextmanager
def application_session(bind: Connection) -> Iterator[Session]:
    """An ORM session of the application on ``bind`` (a migration's connection): what it
    writes goes into that transaction, not a new one, with the session hook's audit rows
    (P2.4); a migration that applies one of the application's own rules runs it in it.
    Closed, not committed: the migration's transaction commits."""
    from vaxportal.extensions import db

    session = db.session.session_factory()
    session.get_bind = lambda *args, **kwargs: bind
    try:
        yield session
    finally:
        session.close()
