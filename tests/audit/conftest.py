"""Fixtures of the audit tests: a way to act as an account inside a request, and a session row
of an account. Places, accounts and recipients come from ``tests/fixtures.py``; reading the
trail and the database past the application from ``tests/helpers.py``."""

from __future__ import annotations

import contextlib

import pytest
from flask import g

from tests.helpers import sign_in
from vaxportal.auth.models import Account, UserSession
from vaxportal.extensions import db


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
