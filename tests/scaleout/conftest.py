"""Fixtures of the scale-out tests (issue 13): two web processes (``pair``) started once for
the run, and ``vaxportal worker`` processes (``workers``) started by the tests that need them,
all on the test's PostgreSQL database and Redis number (per xdist worker, ``tests.settings``).

The tests are marked ``postgres``: the SQLite pass deselects them. The test's own app (its
factories and database reads) has the processes' settings, so ``outbox()`` reads the SMS
they send; each test still starts on an emptied database (``app`` truncates it) and Redis
(``limiter.reset``), with an empty outbox and an empty job queue.
"""

from __future__ import annotations

import uuid

import pytest

from tests.scaleout.cluster import Cluster
from tests.settings import PG_URI, REDIS_URL, base_config

#: the processes' settings beyond the test run's own
SETTINGS = {
    "LOGIN_RATE_LIMIT": "8 per hour",  # per address and per typed username
    "LOCKOUT_PASSWORD_FAILURES": 3,  # wrong passwords before a username waits
    "JOBS_MODE": "rq",
    "EXPORT_JOB_THRESHOLD": 1,  # every export of two rows or more is a background job
    "IMPORT_BATCH_SIZE": 10,
    # the worker's clock starts no scheduled job behind the tests' back
    "CLEANUP_EVERY_MINUTES": 0,
    "DUPLICATES_SCAN_EVERY_MINUTES": 0,
}


@pytest.fixture(scope="session")
def cluster_config(_template, tmp_path_factory) -> tuple[dict, object]:
    if not (PG_URI and REDIS_URL):
        pytest.skip("the scale-out tests need PostgreSQL and Redis "
                    "(VAXPORTAL_TEST_DATABASE_URI, VAXPORTAL_TEST_REDIS_URL)")
    folder = tmp_path_factory.mktemp("cluster")
    config = base_config(PG_URI, folder) | SETTINGS | {
        "REDIS_URL": REDIS_URL, "RQ_QUEUE": f"vaxportal-scaleout-{uuid.uuid4().hex}"}
    return config, folder


@pytest.fixture(scope="session")
def pair(cluster_config):
    """Two web processes (``gunicorn wsgi:app``, one worker each), A and B."""
    config, folder = cluster_config
    cluster = Cluster(config, folder)
    try:
        a, b = cluster.start_web("a"), cluster.start_web("b")
        cluster.wait_ready(a, b)
        yield a, b
    finally:
        cluster.stop()
        _delete_queue(config)


@pytest.fixture
def config(config, cluster_config):
    config.update(cluster_config[0])
    return config


@pytest.fixture(autouse=True)
def _fresh_outbox_and_queue(app, cluster_config):
    config, _folder = cluster_config
    sms = config["SMS_BACKEND"].split(":", 1)[1]
    open(sms, "w").close()
    _queue(config).empty()


@pytest.fixture
def cluster(cluster_config):
    """A ``Cluster`` of the test's own (``cluster.start_worker()``); its processes are
    stopped when the test ends."""
    config, folder = cluster_config
    mine = Cluster(config, folder)
    yield mine
    mine.stop()


@pytest.fixture
def queue(cluster_config):
    """The processes' RQ queue."""
    return _queue(cluster_config[0])


def _queue(config: dict):
    from redis import Redis
    from rq import Queue

    return Queue(config["RQ_QUEUE"], connection=Redis.from_url(config["REDIS_URL"]))


def _delete_queue(config: dict) -> None:
    connection = _queue(config).connection
    for key in connection.scan_iter(f"*{config['RQ_QUEUE']}*"):
        connection.delete(key)
