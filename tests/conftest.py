"""Fixtures: ``app``, ``client``, ``runner``, ``db``; the factories (places, accounts,
recipients, doses) are the plugin ``tests/fixtures.py``.

The suite runs on SQLite by default and on PostgreSQL when VAXPORTAL_TEST_DATABASE_URI is
set (Redis for the rate limiter when VAXPORTAL_TEST_REDIS_URL is set). Each test gets a clean
database: a copy of a template file on SQLite, truncated tables on PostgreSQL.

Under pytest-xdist (``make test`` runs ``-n auto``) each worker has a database of its own
(``test_gw0``, ``test_gw1`` ... beside the configured one) and a Redis database number of its
own, so workers never truncate or reset each other's state.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g

from tests.engines import assert_no_stray_listeners, clean_postgres, set_shared_engine_uri
from tests.helpers import VaxClient
from tests.settings import PG_URI, base_config
from vaxportal import create_app
from vaxportal.extensions import db as _db
from vaxportal.extensions import limiter

pytest_plugins = ["tests.fixtures"]


def build_schema(app) -> None:
    from vaxportal.dbsetup import install_database_objects

    with app.app_context():
        _db.create_all()
        install_database_objects(_db.session.connection())
        _db.session.commit()
        _db.session.remove()
        # SQLite's file is in write-ahead-log mode: closing the last connection writes the
        # log into the file (and removes it), so that a copy of the file alone is whole
        _db.engine.dispose()


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    """Built once: the SQLite template file, or the PostgreSQL schema."""
    tmp = tmp_path_factory.mktemp("db")
    if PG_URI:
        _create_database(PG_URI)
        engine = sa.create_engine(PG_URI)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        build_schema(create_app(base_config(PG_URI, tmp)))
        return PG_URI
    path = tmp / "template.sqlite3"
    build_schema(create_app(base_config(f"sqlite:///{path}", tmp)))
    return path


def _create_database(uri: str) -> None:
    """A worker's own database, made beside the configured one the first time it is needed."""
    url = sa.engine.make_url(uri)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                            {"name": url.database})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def _memory_dir():
    """Where each test's SQLite file lives: a folder in memory (tmpfs) where the machine has
    one. A test commits dozens of times and SQLite syncs the file to disk at every commit
    (15 ms each on this machine's disk); in memory a sync costs nothing. The files are the
    same SQLite files: only where they are kept changes."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="vaxportal-tests-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def db_uri(_template, _memory_dir, tmp_path):
    if PG_URI:
        set_shared_engine_uri(PG_URI)
        yield PG_URI
        return
    # one path per process, so that each test's app reuses the process's engine and the
    # SQL it has compiled (tests/engines.py); a fresh copy of the template
    # under a new inode each time, so a connection left open keeps the old file, never a
    # half-copied one
    folder = _memory_dir or tmp_path
    path = folder / "test.sqlite3"
    for leftover in ("-journal", "-wal", "-shm"):
        Path(f"{path}{leftover}").unlink(missing_ok=True)
    fresh = folder / "test.sqlite3.new"
    shutil.copyfile(_template, fresh)
    os.replace(fresh, path)
    uri = f"sqlite:///{path}"
    set_shared_engine_uri(uri)
    yield uri
    path.unlink(missing_ok=True)


@pytest.fixture
def config(db_uri, tmp_path) -> dict:
    """Override keys in a test with ``@pytest.mark.parametrize`` or by editing this dict
    in a fixture of its own before ``app`` is created."""
    return base_config(db_uri, tmp_path)


@pytest.fixture
def app(config):
    app = create_app(config)
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    if PG_URI:
        clean_postgres(app)
    with app.app_context():
        limiter.reset()
    with app.app_context():
        yield app
        _db.session.remove()
    with app.app_context():
        engine = _db.engine
    if not PG_URI:  # the next test's SQLite file is a new one; PostgreSQL's pool is kept
        engine.dispose()
    assert_no_stray_listeners(engine)


def _fresh_g() -> None:
    """The test keeps one app context open, so ``g`` would carry one request's cached state
    (the signed-in account, the session row, the locale) into the next request, even of
    another client: every request starts with an empty ``g``, as it does in production.
    Likewise the one session would hand a request rows read before it: every request reads
    the database afresh, as a request's own session does in production."""
    g.__dict__.clear()
    _db.session.expire_all()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app) -> VaxClient:
    app.test_client_class = VaxClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` are about PostgreSQL itself: deselected (not skipped) in the
    SQLite pass; those marked ``sqlite`` (SQLite's own plans and FTS5 table) likewise in the
    PostgreSQL pass. CI runs each in its own pass."""
    _mark_slow_suites(items)
    other = "sqlite" if PG_URI else "postgres"
    keep = [item for item in items if item.get_closest_marker(other) is None]
    dropped = [item for item in items if item.get_closest_marker(other) is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_sessionfinish(session, exitstatus):
    """With VAXPORTAL_NO_SKIPS=1 (CI) a skipped test fails the run: nothing that should run
    may quietly not run."""
    if os.environ.get("VAXPORTAL_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped with VAXPORTAL_NO_SKIPS=1",
                            red=True)
        session.exitstatus = 1


SLOW_SUITES = ("fuzz", "attacks", "matrix", "browser")


@pytest.fixture
def summary_line(request):
    """``summary_line(text)`` prints ``text`` in the run's closing summary, also from an
    xdist worker (user properties travel back to the controller with the report)."""
    return lambda text: request.node.user_properties.append(("summary", text))


def _mark_slow_suites(items) -> None:
    for item in items:
        parts = item.nodeid.split("/")
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in SLOW_SUITES:
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter):
    """The lines tests asked for (``summary_line``), and how many attacks were tried."""
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
               if getattr(r, "when", None) == "call"]
    lines = [value for r in reports for name, value in r.user_properties if name == "summary"]
    parts = [re.match(r"authorization matrix, part \d+ of \d+: (\d+) cases", line)
             for line in lines]
    if any(parts):
        lines.append(f"authorization matrix: {sum(int(m.group(1)) for m in parts if m)} cases "
                     f"in {sum(1 for m in parts if m)} parts")
    attacks = [r for r in reports if r.nodeid.startswith("tests/attacks/")]
    if attacks:
        failed = sum(1 for r in attacks if r.failed)
        lines.append(f"attack suite: {len(attacks)} attacks tried from outside, "
                     f"{len(attacks) - failed} refused as they must be, {failed} got through")
    for line in lines:
        terminalreporter.write_line(line)
