"""Configuration: embedded defaults, then ``VAXPORTAL_*`` environment keys, then the caller's dict.

Operators use the libraries' own keys with the ``VAXPORTAL_`` prefix, for example
``VAXPORTAL_SQLALCHEMY_DATABASE_URI`` or ``VAXPORTAL_RATELIMIT_STORAGE_URI``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)


class Defaults:
    """Embedded defaults: everything ``make run`` needs, nothing secret."""

    SECRET_KEY: str | None = None
    OTP_ENCRYPTION_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite file under instance/
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "fixed-window"
    REDIS_URL: str | None = None  # set: background jobs go to RQ on this Redis
    PROPAGATE_EXCEPTIONS = False  # the 500 page, never a traceback, even with DEBUG

    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    LANGUAGES = ("vi", "en")

    SESSION_COOKIE_NAME = "vaxportal"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE: bool | None = None  # None: on, unless DEBUG (plain http locally)
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024

    # Behind a reverse proxy that ends TLS: how many proxies to trust for X-Forwarded-For /
    # -Proto / -Host (werkzeug's ProxyFix). 0 trusts none: a client cannot spoof its address.
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0
    PROXY_FIX_X_HOST = 0

    SMS_BACKEND = "console"
    SMS_HTTP_URL: str | None = None
    SMS_HTTP_TIMEOUT = 10

    # Sign-in and sessions (P3.4, P4.3b)
    SESSION_IDLE_MINUTES = 30
    SESSION_ABSOLUTE_HOURS = 12
    STEP_UP_WINDOW_SECONDS = 300
    OTP_TTL_SECONDS = 300
    OTP_MAX_ATTEMPTS = 5
    OTP_RESEND_INTERVAL_SECONDS = 60
    OTP_RESEND_PER_HOUR = 5
    LOCKOUT_PASSWORD_FAILURES = 5
    LOCKOUT_CODE_FAILURES = 10
    LOCKOUT_MINUTES = 15
    PASSWORD_HISTORY = 5
    INITIAL_PASSWORD_DAYS = 3
    LOGIN_RATE_LIMIT = "20 per minute; 200 per hour"
    OTP_RATE_LIMIT = "20 per minute"

    # Accounts (P4.1)
    ONE_LIVE_ACCOUNT_PER_FACILITY = True

    # Recipients, exports, imports
    PAGE_SIZE = 25
    REVIEWER_SEES_FULL_IDS = False
    EXPORT_JOB_THRESHOLD = 20_000
    EXPORT_SHEET_MAX_ROWS = 1_048_576
    EXPORT_FILE_HOURS = 24
    IMPORT_MAX_BYTES = 10 * 1024 * 1024
    IMPORT_BATCH_SIZE = 500
    EXPORT_DIR: str | None = None  # None: instance/exports
    JOB_STALE_MINUTES = 30
    JOBS_MODE: str | None = None  # None: "rq" when REDIS_URL is set, else "thread"
    RQ_QUEUE = "vaxportal"

    # Shown to a revoked account after its right password (P4.3c)
    ACCOUNT_CONTACT: str | None = None

    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)


def load(app: Flask, overrides: dict | None) -> None:
    """Fill ``app.config`` in order: defaults, environment, overrides, derived values."""
    app.config.from_object(Defaults)
    app.config.from_prefixed_env("VAXPORTAL")
    if overrides:
        app.config.update(overrides)
    _derive(app)


def _derive(app: Flask) -> None:
    instance = Path(app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'vaxportal.sqlite3'}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith(("postgresql://", "postgres://")):  # the psycopg 3 driver we ship
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    for key in ("SECRET_KEY", "OTP_ENCRYPTION_KEY"):
        if not app.config.get(key):
            app.config[key] = _local_secret(app, key)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=int(app.config["SESSION_ABSOLUTE_HOURS"])
    )
    _cookie_security(app)


def _cookie_security(app: Flask) -> None:
    """The session cookie only over HTTPS, unless debug (``make run`` on plain http) or an
    operator turned it off on purpose, which is logged at every start."""
    secure = app.config.get("SESSION_COOKIE_SECURE")
    if secure is None:
        app.config["SESSION_COOKIE_SECURE"] = not app.debug
    elif not secure and not (app.debug or app.testing):
        log.warning("SESSION_COOKIE_SECURE is off: the session cookie is also sent over plain "
                    "HTTP, where it can be read on the way. Turn it on behind HTTPS.")


def _local_secret(app: Flask, key: str) -> str:
    """A random secret kept under instance/ for local runs; production must configure one."""
    if not (app.debug or app.testing):
        raise RuntimeError(
            f"VAXPORTAL_{key} is not set. Configure it (a long random string) in the "
            f"environment; a generated key is only used in debug or testing mode."
        )
    path = Path(app.instance_path) / key.lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
