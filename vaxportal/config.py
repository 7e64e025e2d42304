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
    AUDIT_KEY: str | None = None  # keys the audit chain and its checkpoints; never in the DB
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
    # Wrong passwords from browsers that never signed in to the account, and per address:
    # a wait that doubles from LOGIN_DELAY_SECONDS up to LOGIN_DELAY_MAX_MINUTES (auth/lockout)
    LOGIN_DELAY_SECONDS = 60
    LOGIN_DELAY_MAX_MINUTES = 15
    LOGIN_ADDRESS_FAILURES = 30
    DEVICE_COOKIE_NAME = "vaxportal_device"
    DEVICE_COOKIE_DAYS = 180
    PASSWORD_HISTORY = 5
    INITIAL_PASSWORD_DAYS = 3
    LOGIN_RATE_LIMIT = "20 per minute; 200 per hour"
    OTP_RATE_LIMIT = "20 per minute"
    # Per account: national-ID checks of the register form, and registrations (P1)
    FIELD_CHECK_RATE_LIMIT = "30 per minute; 600 per hour"
    REGISTER_RATE_LIMIT = "30 per minute; 600 per hour"
    # Per account: cross-facility look-ups by exact ID (P1), each with its reason
    LOOKUP_RATE_LIMIT = "10 per minute; 100 per hour"

    # Accounts (P4.1)
    ONE_LIVE_ACCOUNT_PER_FACILITY = True
    # two_admins: an action that gives access to recipient data (issue, hand-over, role or
    # phone change, delegation) waits for a second person's approval; none: a one-person trial
    ACCOUNT_APPROVAL = "two_admins"
    ACCOUNT_APPROVAL_HOURS = 72  # a request not decided within this expires
    WRITTEN_REQUEST_MAX_AGE_DAYS = 90  # an older official letter no longer supports an action

    # Recipients, exports, imports
    PAGE_SIZE = 25
    REVIEWER_SEES_FULL_IDS = False
    EXPORT_JOB_THRESHOLD = 20_000
    # Reports: a next dose due more than this many days ago is overdue
    OVERDUE_DAYS = 14
    EXPORT_SHEET_MAX_ROWS = 1_048_576
    EXPORT_FILE_HOURS = 24
    IMPORT_MAX_BYTES = 10 * 1024 * 1024
    IMPORT_BATCH_SIZE = 500
    EXPORT_DIR: str | None = None  # None: instance/exports
    BACKUP_DIR: str | None = None  # None: instance/backups (`vaxportal backup`, 0700)
    JOB_STALE_MINUTES = 30
    CLEANUP_EVERY_MINUTES = 15  # the expired-file sweep's period (0: only `vaxportal cleanup`)
    # the scan for possible duplicates' period (0: only `vaxportal duplicates scan`)
    DUPLICATES_SCAN_EVERY_MINUTES = 60
    JOBS_MODE: str | None = None  # None: "rq" when REDIS_URL is set, else "thread"
    RQ_QUEUE = "vaxportal"

    # Vaccination certificates (EU DCC). The signing key and its certificate are PEM files
    # readable only by the app; None: generated under instance/ in debug/testing only.
    CERT_SIGNING_KEY_FILE: str | None = None
    CERT_SIGNING_CERT_FILE: str | None = None
    CERT_TRUSTED_CERT_FILES: list[str] = []  # older signer certificates verifiers still trust
    CERT_SIGNER_NAME = "vaxportal DSC VN"
    CERT_SIGNER_DAYS = 730
    CERT_ISSUER = "Ministry of Health of Viet Nam"
    CERT_UVCI_ISSUER = "VXP"
    CERT_VALIDITY_DAYS = 365
    CERT_VERIFY_RATE_LIMIT = "30 per minute; 300 per hour"
    # Audit checkpoints (P2.4): the signed head of the chain, kept outside the database
    AUDIT_CHECKPOINT_DIR: str | None = None  # None: instance/audit-checkpoints
    AUDIT_CHECKPOINT_SMS: str | None = None  # a phone number that also receives each one
    AUDIT_CHECKPOINT_URL: str | None = None  # an HTTPS endpoint that also receives each one

    # Shown to a revoked account after its right password (P4.3c)
    ACCOUNT_CONTACT: str | None = None

    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # The cookie is set at sign-in and whenever its content changes, not on every answer:
    # its lifetime is the absolute limit above, and idle time-outs are the row's (sessions)
    SESSION_REFRESH_EACH_REQUEST = False

    # A slow line: static files under content-hashed names, precompressed, served by
    # WhiteNoise from this folder (None: instance/static; the app must be able to write it);
    # dynamic answers compressed by Flask-Compress, brotli when asked, else gzip (IE11)
    STATIC_BUILD_DIR: str | None = None
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_BR_LEVEL = 5  # ~6% smaller pages than the default 4 for well under 1 ms more
    COMPRESS_REGISTER = False  # extensions._compress decides (no compression open to BREACH)
    COMPRESS_STREAMS = False  # streamed answers (downloads) go out as they are made
    COMPRESS_EVALUATE_CONDITIONAL_REQUEST = False  # no ETag on no-store pages


def load(app: Flask, overrides: dict | None) -> None:
    """Fill ``app.config`` in order: defaults, environment, overrides, derived values."""
    app.config.from_object(Defaults)
    app.config.from_prefixed_env("VAXPORTAL")
    if overrides:
        app.config.update(overrides)
    _derive(app)


#: PostgreSQL plans every statement for its own values. psycopg prepares a statement run
#: five times, and PostgreSQL may then keep one generic plan for any values; the register's
#: ranges (a station's or a province's paths, a name's prefix, an export's next chunk) differ
#: by orders of magnitude in the rows they hold, and a generic plan of the export's chunk
#: took 1.7 s where its own plan took 60 ms (2,000,000 people, docs/benchmarks.md).
POSTGRES_OPTIONS = "-c plan_cache_mode=force_custom_plan"


def _custom_plans(app: Flask) -> None:
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    given = connect_args.get("options", "")
    if "plan_cache_mode" not in given:
        connect_args["options"] = f"{given} {POSTGRES_OPTIONS}".strip()
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _derive(app: Flask) -> None:
    instance = Path(app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'vaxportal.sqlite3'}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith(("postgresql://", "postgres://")):  # the psycopg 3 driver we ship
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        _custom_plans(app)
    for key in ("SECRET_KEY", "OTP_ENCRYPTION_KEY", "AUDIT_KEY"):
        if not app.config.get(key):
            app.config[key] = _local_secret(app, key)
    if not app.config["AUDIT_CHECKPOINT_DIR"]:
        app.config["AUDIT_CHECKPOINT_DIR"] = str(instance / "audit-checkpoints")
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
