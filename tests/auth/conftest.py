"""Fixtures of the auth tests."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from flask import g

from tests.helpers import VaxClient
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, UserSession
from vaxportal.extensions import db


def _forget_previous_request():
    """The ``app`` fixture keeps one app context for the whole test, so ``g`` (the account
    cached by Flask-Login, the session row) would leak from one request into the next."""
    for key in ("_login_user", "user_session"):
        g.pop(key, None)


@pytest.fixture
def app(app):
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_previous_request)
    return app


@pytest.fixture
def new_client(app):
    """``new_client()`` → another browser (a VaxClient with its own cookies)."""

    def make() -> VaxClient:
        app.test_client_class = VaxClient
        return app.test_client()

    return make


@pytest.fixture
def nurse(factory):
    """An active data-entry account (password ``tests.helpers.PASSWORD``)."""
    return factory.account("data_entry", username="nurse1", phone="+84912345001")


def sid(client) -> str | None:
    with client.session_transaction() as sess:
        return sess.get("sid")


def session_row(client) -> UserSession | None:
    token = sid(client)
    if not token:
        return None
    db.session.expire_all()
    digest = hashlib.sha256(token.encode()).hexdigest()
    return db.session.scalar(sa.select(UserSession).where(UserSession.token_hash == digest))


def reload(account: Account) -> Account:
    db.session.expire_all()
    return db.session.get(Account, account.id)


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).all()
