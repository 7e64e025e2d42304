"""Fixtures of the exports tests: exports run in the request up to 1,000 rows. Places, the
nurse, the reviewer and recipients come from ``tests/fixtures.py``; searches, SMS codes and
workbooks from ``tests/helpers.py``."""

from __future__ import annotations

import pytest


@pytest.fixture
def config(config):
    config["EXPORT_JOB_THRESHOLD"] = 1_000
    return config
