"""``vaxportal backup`` and ``restore`` on PostgreSQL: the backup is ``pg_dump -Fc`` (printed
without the password, or run), a restore is ``pg_restore`` followed by the restore mark."""

from __future__ import annotations

import stat
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import stamp

from tests.helpers import audit
from vaxportal.backup import libpq_flags
from vaxportal.extensions import db, init_migrations
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.services import create_recipient

pytestmark = pytest.mark.postgres

SECRET = "pg-secret-not-to-print"


@pytest.fixture
def config(config):
    """The configured URL carries a password (the test server trusts local connections)."""
    url = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"]).set(password=SECRET)
    config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    return config


def _register(facility, name: str, nid: str) -> None:
    create_recipient({"full_name": name, "gender": "female", "date_of_birth": date(1990, 5, 6),
                      "national_id": nid}, facility.id)
    db.session.commit()


def _server(url) -> list[str]:
    """The server as libpq's tools name it: host and port, or the socket's folder that the
    URL's query names (CI's PostgreSQL pass uses the socket)."""
    if url.host:
        return ["-h", url.host, *(["-p", str(url.port)] if url.port else [])]
    return ["-h", url.query["host"]]


def test_backup_prints_the_pg_dump_command_without_the_password(runner, tmp_path):
    result = runner.invoke(args=["backup", "--to", str(tmp_path / "x.dump")])

    assert result.exit_code == 2
    url = db.engine.url
    assert result.output.split() == ["pg_dump", "-Fc", "--no-owner", *_server(url), "-U",
                                     url.username, "-f", str(tmp_path / "x.dump"),
                                     url.database]
    assert SECRET not in result.output
    assert audit("backup") == []


@pytest.mark.parametrize("uri, flags", [
    ("postgresql+psycopg://vax:pw@db.example:6543/vaxportal",
     ["-h", "db.example", "-p", "6543", "-U", "vax"]),
    ("postgresql+psycopg://vax@/vaxportal?host=/var/run/postgresql",
     ["-h", "/var/run/postgresql", "-U", "vax"]),
    ("postgresql+psycopg://vax@/vaxportal?host=/run/pg&port=5433",
     ["-h", "/run/pg", "-p", "5433", "-U", "vax"]),
])
def test_the_pg_dump_command_names_a_server_by_address_or_by_its_socket(uri, flags):
    """A deployment that reaches PostgreSQL through its Unix socket gets a backup of that
    server, never one of libpq's default."""
    assert libpq_flags(sa.engine.make_url(uri)) == flags


def test_restore_refuses_on_postgresql(runner, tmp_path):
    result = runner.invoke(args=["restore", str(tmp_path / "x.sqlite3"), "--force"])

    assert result.exit_code == 1 and "pg_restore" in result.output


@pytest.fixture
def stamped(app):
    """The test schema (built from the models) stamped at the migration head, as a database
    that ``vaxportal db upgrade`` made; the stamp goes afterwards (the schema is shared)."""
    init_migrations(app)  # as the console script's app
    stamp()
    yield
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def test_p2_4_pg_dump_then_pg_restore_and_the_restore_mark(runner, place, stamped, tmp_path):
    _register(place["s1"], "Trần Thị Bình", "089090123456")
    dump = tmp_path / "dumps" / "before.dump"
    made = runner.invoke(args=["backup", "--to", str(dump), "--run-pg-dump"])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert len(audit("backup")) == 1
    _register(place["s2"], "Lê Văn Sau", "089090654321")
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    db.session.remove()
    db.engine.dispose()
    url = db.engine.url
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", *_server(url),
                    "-U", url.username, "-d", url.database, str(dump)],
                   check=True, capture_output=True)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1  # the checkpoint after it

    marked = runner.invoke(args=["restore", "--after-pg-restore", str(dump)])

    assert marked.exit_code == 0, marked.output
    assert sorted(db.session.scalars(sa.select(Recipient.full_name))) == ["Trần Thị Bình"]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert len(audit("restore")) == 1
