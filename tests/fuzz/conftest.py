"""Fixtures of the form fuzzer: its world and the collector of unhandled errors; the
profiles are in ``tests/fuzz/profiles.py``."""

from __future__ import annotations

import logging

import pytest

from tests.fuzz.profiles import STATUSES, Unhandled
from tests.fuzz.world import World


@pytest.fixture
def world(app) -> World:
    # passwords are hashed cheaply (tests/fixtures.py): hashing at full cost would leave no
    # time to fuzz
    return World(app)


@pytest.fixture
def unhandled():
    handler = Unhandled()
    logger = logging.getLogger("vaxportal.web")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def pytest_terminal_summary(terminalreporter):
    if not STATUSES:
        return
    total = sum(sum(c.values()) for c in STATUSES.values())
    terminalreporter.write_sep("-", f"form fuzzing: {len(STATUSES)} forms, {total} POSTs")
    if terminalreporter.config.getoption("verbose") > 0:
        for endpoint in sorted(STATUSES):
            counts = ", ".join(f"{code}×{n}" for code, n in sorted(STATUSES[endpoint].items()))
            terminalreporter.write_line(f"  {endpoint}: {counts}")
