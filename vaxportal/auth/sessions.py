"""Server-side sessions: the cookie holds a random token, the ``user_session`` row decides.

A row at stage ``otp`` has passed the password only; ``full`` has passed the OTP too. Idle and
absolute time-outs are checked on every request; ending rows ends sessions in every process.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, request, session

from vaxportal.auth.models import Account, AccountStatus, UserSession
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

TOUCH_EVERY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(account: Account, stage: str = "otp") -> UserSession:
    """Open a new session with a new token (never reusing one set before sign-in)."""
    token = secrets.token_urlsafe(32)
    custodian = account.current_custodian
    row = UserSession(
        token_hash=_digest(token), account_id=account.id, stage=stage,
        custodian_id=custodian.id if custodian else None,
        ip=request.remote_addr, user_agent=(request.user_agent.string or "")[:300],
    )
    db.session.add(row)
    db.session.flush()
    session.clear()
    session["sid"] = token
    session.permanent = True
    g.user_session = row
    return row


def current() -> UserSession | None:
    """The request's session row (loaded once per request), or None."""
    if "user_session" not in g:
        g.user_session = _load()
    return g.user_session


def _load() -> UserSession | None:
    token = session.get("sid")
    if not token:
        return None
    row = db.session.scalar(
        sa.select(UserSession).where(UserSession.token_hash == _digest(token))
    )
    if row is None or row.ended_at is not None:
        return None
    reason = _expiry_reason(row)
    if reason:
        end(row, reason)
        db.session.commit()
        return None
    if utcnow() - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = utcnow()
        db.session.commit()
    return row


def _expiry_reason(row: UserSession) -> str | None:
    now = utcnow()
    cfg = current_app.config
    if row.account.status == AccountStatus.revoked:
        return "revoked"
    if row.account.is_locked(now):
        return "locked"
    if now - row.last_seen_at > timedelta(minutes=int(cfg["SESSION_IDLE_MINUTES"])):
        return "idle"
    if now - row.created_at > timedelta(hours=int(cfg["SESSION_ABSOLUTE_HOURS"])):
        return "absolute"
    return None


def end(row: UserSession, reason: str) -> None:
    row.ended_at = utcnow()
    row.end_reason = reason


def end_all(account_id: int, reason: str, *, except_id: int | None = None) -> int:
    """End every open session of an account (password change, handover, revocation, lock)."""
    stmt = (
        sa.update(UserSession)
        .where(UserSession.account_id == account_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    return db.session.execute(stmt).rowcount


def forget() -> None:
    """Drop the cookie's token (after logout or when the row is gone)."""
    session.clear()
    g.user_session = None


def load_user_from_request(_request) -> Account | None:
    """Flask-Login's request loader: only a session past its OTP signs an account in."""
    row = current()
    if row is None or row.stage != "full":
        return None
    return row.account
