"""Fixtures of the audit tests: a small province, accounts of every role, a way to act as an
account inside a request, and raw database access that bypasses the application."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date

import pytest
import sqlalchemy as sa
from flask import g

from tests.helpers import sign_in
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, UserSession
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient, Vaccine

_nid = itertools.count(100_001)


@pytest.fixture
def place(factory):
    """DOH → district D1 → stations S1, S1B; DOH → district D2 → station S2."""
    return factory.place()


def new_recipient(facility_id: int, **fields) -> Recipient:
    values = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
              "gender": "male", "national_id": f"089080{next(_nid):06d}",
              "facility_id": facility_id}
    values.update(fields)
    recipient = Recipient(**values)
    db.session.add(recipient)
    return recipient


def new_dose(recipient: Recipient, number: int = 1, **fields) -> Dose:
    vaccine = db.session.scalar(sa.select(Vaccine).order_by(Vaccine.id))
    values = {"recipient_id": recipient.id, "facility_id": recipient.facility_id,
              "vaccine_id": vaccine.id, "lot_number": f"LOT-{number}", "dose_number": number,
              "given_on": date(2021, 6, number), "vaccinator": "Lê Thị Tiêm"}
    values.update(fields)
    dose = Dose(**values)
    db.session.add(dose)
    return dose


@pytest.fixture
def person(place):
    """``person("s1", **fields)`` → a committed Recipient."""

    def make(facility: str = "s1", **fields) -> Recipient:
        recipient = new_recipient(place[facility].id, **fields)
        db.session.commit()
        return recipient

    return make


@pytest.fixture
def acting(app):
    """``with acting(account, session_row, request_id=...)``: a fresh request (its own app
    context, session and ``g``) in which ``account`` is signed in, as the request loader
    leaves it."""

    @contextlib.contextmanager
    def act(account: Account | None, session_row: UserSession | None = None,
            request_id: str = "test-request", ip: str = "10.0.0.7"):
        with app.app_context(), app.test_request_context(
                "/", environ_base={"REMOTE_ADDR": ip}, headers={"X-Request-ID": request_id}):
            g.request_id = request_id
            if account is not None:
                g._login_user = db.session.get(Account, account.id)
                g.user_session = db.session.get(UserSession, session_row.id) \
                    if session_row is not None else None
            yield
    return act


@pytest.fixture
def session_of(app):
    """``session_of(account)`` → a full server-side session row for ``account``."""

    def make(account: Account) -> UserSession:
        client = app.test_client()
        return sign_in(client, account)

    return make


def audit_rows(**where) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    db.session.expire_all()
    return list(db.session.scalars(stmt))


@contextlib.contextmanager
def raw_cursor():
    """A DBAPI cursor on its own connection: "directly in the database", past the ORM and the
    engine guard (only the database's own triggers apply)."""
    db.session.remove()
    conn = db.engine.raw_connection()
    try:
        cursor = conn.cursor()
        yield cursor
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()


def raw_execute(sql: str, params: tuple = ()) -> None:
    """One statement straight to the database (``?`` placeholders on both databases)."""
    with raw_cursor() as cur:
        if db.engine.dialect.name == "postgresql":
            sql = sql.replace("?", "%s")
        cur.execute(sql, params)


@contextlib.contextmanager
def triggers_off():
    """Disable the append-only triggers for a tampering test (restored afterwards: on
    PostgreSQL the schema is shared by every test)."""
    dialect = db.engine.dialect.name
    with raw_cursor() as cur:
        if dialect == "postgresql":
            cur.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            cur.execute("DROP TRIGGER audit_event_no_update")
            cur.execute("DROP TRIGGER audit_event_no_delete")
    try:
        yield
    finally:
        from vaxportal.audit.models import DDL

        with raw_cursor() as cur:
            if dialect == "postgresql":
                cur.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
            else:
                for statement in DDL["sqlite"]:
                    cur.execute(statement)
