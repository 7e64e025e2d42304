"""The suite's database snapshots (tests/snapshots.py): a place laid down from its snapshot is
the place the application built, row for row, and its audit trail verifies."""

from __future__ import annotations

import os
import shutil

import pytest

from tests import helpers, snapshots
from tests.engines import clean_postgres
from tests.settings import PG_URI
from vaxportal.audit import checkpoint
from vaxportal.extensions import db


def _empty_database(app, db_uri: str, template) -> None:
    """Back to the empty database a test starts with, in the middle of a test."""
    db.session.remove()
    checkpoint.path().unlink()
    if PG_URI:
        clean_postgres(app)
        return
    db.engine.dispose()
    path = db.engine.url.database
    shutil.copyfile(template, f"{path}.new")
    os.replace(f"{path}.new", path)


@pytest.mark.parametrize("ministry", [False, True])
def test_a_place_laid_down_from_its_snapshot_is_the_place_built(
        app, factory, runner, db_uri, _template, monkeypatch, ministry):
    monkeypatch.setattr(helpers, "_SNAPSHOTS", {})
    built = factory.place(ministry=ministry)
    assert len(helpers._SNAPSHOTS) == 1  # taken from the build
    state = snapshots.take()
    ids = {key: facility.id for key, facility in built.items()}

    _empty_database(app, db_uri, _template)
    assert snapshots.is_empty()
    laid = factory.place(ministry=ministry)

    assert {key: facility.id for key, facility in laid.items()} == ids
    assert [laid[key].path for key in sorted(laid)] == [built[key].path for key in sorted(built)]
    assert snapshots.take() == state  # every table, the sequences, the checkpoint file
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_place_over_rows_already_there_is_built_and_never_kept(factory, monkeypatch):
    monkeypatch.setattr(helpers, "_SNAPSHOTS", {})
    first = factory.facility("X1")
    made = factory.place()
    assert helpers._SNAPSHOTS == {}  # a snapshot holds a build into an empty database only
    assert made["doh"].id > first.id and made["doh"].parent_id is None
