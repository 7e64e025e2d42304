"""The test run's settings: the databases (PostgreSQL or a SQLite file per test), Redis, and
the application configuration every test's app starts from. Under pytest-xdist each worker
has a PostgreSQL database and a Redis number of its own."""

from __future__ import annotations

import os

import sqlalchemy as sa

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1" ... under xdist


def _per_worker_pg(uri: str | None) -> str | None:
    if not uri or not WORKER:
        return uri
    url = sa.engine.make_url(uri)
    return url.set(database=f"{url.database}_{WORKER}").render_as_string(hide_password=False)


def _per_worker_redis(uri: str | None) -> str | None:
    if not uri or not WORKER:
        return uri
    base, _, number = uri.rstrip("/").rpartition("/")
    if not number.isdigit():
        base, number = uri.rstrip("/"), "0"
    return f"{base}/{int(number) + 1 + int(WORKER.removeprefix('gw'))}"


PG_URI = _per_worker_pg(os.environ.get("VAXPORTAL_TEST_DATABASE_URI"))
REDIS_URL = _per_worker_redis(os.environ.get("VAXPORTAL_TEST_REDIS_URL"))


def base_config(uri: str, tmp_path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "OTP_ENCRYPTION_KEY": "test-otp-key",
        "AUDIT_KEY": "test-audit-key",
        "AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit-checkpoints"),
        "SQLALCHEMY_DATABASE_URI": uri,
        "RATELIMIT_STORAGE_URI": REDIS_URL or "memory://",
        "SMS_BACKEND": f"file:{tmp_path / 'sms.jsonl'}",
        "JOBS_MODE": "sync",
        # no periodic scan for duplicates behind a test's back (tests/recipients/test_merge.py
        # turns it on where it is the subject)
        "DUPLICATES_SCAN_EVERY_MINUTES": 0,
        "EXPORT_DIR": str(tmp_path / "exports"),
        # the certificate signer's key of a test lives with the test, never under instance/
        "CERT_SIGNING_KEY_FILE": str(tmp_path / "dsc" / "key.pem"),
        "CERT_SIGNING_CERT_FILE": str(tmp_path / "dsc" / "cert.pem"),
        "SERVER_NAME": None,
        "SESSION_COOKIE_SECURE": False,  # the test client and the browser suite use http
    }
