"""Database objects that the models cannot declare (triggers); one function serves both the
Alembic migration and the test schema, so they never drift apart."""

from __future__ import annotations

from sqlalchemy.engine import Connection

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
