"""Database objects that the models cannot declare (triggers); one function serves both the
Alembic migration and the test schema, so they never drift apart."""

from __future__ import annotations

from sqlalchemy.engine import Connection

#: (dialect name -> list of DDL statements); domains append theirs at import time
EXTRA_DDL: dict[str, list[str]] = {"sqlite": [], "postgresql": []}


def install_database_objects(conn: Connection) -> None:
    for statement in EXTRA_DDL.get(conn.dialect.name, []):
        conn.exec_driver_sql(statement)
