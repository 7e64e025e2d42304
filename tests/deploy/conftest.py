"""Fixtures of the deployment tests (backups, WSGI servers): an app on a SQLite file built by
the migrations (a backup is restorable only at the migration head), whatever database the
run uses for the rest."""

from __future__ import annotations

import shutil

import pytest
from flask_migrate import upgrade

from tests.helpers import Factory
from tests.settings import base_config
from vaxportal import create_app
from vaxportal.extensions import db, init_migrations


def _app(path, tmp_path):
    config = base_config(f"sqlite:///{path}", tmp_path)
    app = create_app({**config, "RATELIMIT_STORAGE_URI": "memory://",
                      "BACKUP_DIR": str(tmp_path / "backups")})
    init_migrations(app)  # as the console script's app (``vaxportal backup``, ``restore``)
    return app


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory):
    """An empty database at the migration head, built once and copied for each test."""
    tmp = tmp_path_factory.mktemp("backup-template")
    app = _app(tmp / "template.sqlite3", tmp)
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    return tmp / "template.sqlite3"


@pytest.fixture
def sqlite_app(_migrated, tmp_path):
    shutil.copyfile(_migrated, tmp_path / "vaxportal.sqlite3")
    app = _app(tmp_path / "vaxportal.sqlite3", tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def cli(sqlite_app):
    """``cli("backup", "--to", path)`` → the result of the console command."""
    runner = sqlite_app.test_cli_runner()

    def invoke(*args: str):
        db.session.remove()
        return runner.invoke(args=list(args))

    return invoke


@pytest.fixture
def province(sqlite_app) -> dict[str, int]:
    """The small province of ``Factory.PROVINCE``: facility ids by key."""
    return {key: facility.id for key, facility in Factory(sqlite_app).place().items()}
