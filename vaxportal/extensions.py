"""Extensions created once here and bound to the app in ``create_app``."""

from flask import request
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy import event as sa_event
from sqlalchemy.orm import DeclarativeBase

from vaxportal import ROOT

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)
compress = Compress()


def commit_keeping_loaded() -> None:
    """Commit without expiring what the request has read: for a view that must commit
    (an access event, P2.4) before it renders rows it has just loaded in this transaction,
    so the page does not read them all again."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def init_app(app) -> None:
    # every table known before migrations run; here, as the models import db from this module
    from vaxportal import models  # noqa: F401

    db.init_app(app)
    with app.app_context():
        _sqlite_wal(db.engine)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    compress.init_app(app)  # COMPRESS_REGISTER is off: _compress below decides when
    app.after_request(_compress)  # first registered, so it runs last: the final answer


#: how long a SQLite writer waits for another's transaction before giving up
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_wal(engine) -> None:
    """A SQLite file in write-ahead-log mode: readers and the one writer no longer block each
    other. In SQLite's default (rollback journal) a commit waits for every reader to finish,
    while a reader that goes on to write waits for the committing writer: two requests at
    once (gunicorn's workers, waitress's threads) could each wait on the other and one of
    them failed at once with "database is locked" (a search storing its terms while another
    read a large register). The mode is kept in the file; it is asked on every connection
    (an old file, a restored copy)."""
    if engine.dialect.name != "sqlite" or sa_event.contains(engine, "connect", _wal_mode):
        return
    sa_event.listen(engine, "connect", _wal_mode)


def _wal_mode(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # "memory" for an in-memory database
        # a writer waits its turn behind another writer's request (one commit per request:
        # the lock spans that request's reads) rather than fail after Python's 5 s
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


#: what browsers say of a request made by one of our own pages, or typed in the address bar
OWN_FETCH = frozenset({"same-origin", "none"})


def _compress(response):
    """Compress an answer unless another site could have asked for it with text of its own
    in the query string (BREACH: a secret such as the CSRF token compressed beside reflected
    text leaks through the answer's length). IE11 sends no Sec-Fetch-Site: its answers to
    URLs with a query string go out uncompressed."""
    if request.query_string and request.headers.get("Sec-Fetch-Site") not in OWN_FETCH:
        response.vary.add("Sec-Fetch-Site")
        return response
    return compress.after_request(response)


def migrations_dir(app) -> str:
    """The Alembic scripts' folder (``MIGRATIONS_DIR``, else the project's ``migrations/``)."""
    return str(app.config.get("MIGRATIONS_DIR") or ROOT / "migrations")


def init_migrations(app) -> None:
    """Flask-Migrate's ``db`` commands on ``app``: for the console script (``vaxportal db
    upgrade``, ``backup``, ``restore``) and the tests that migrate, never in a web worker,
    where Alembic, Mako and Pygments would take 11 MB of its memory for nothing (issue 13)."""
    # here, not at the top: the same reason
    from flask_migrate import Migrate

    Migrate(app, db, directory=migrations_dir(app))
