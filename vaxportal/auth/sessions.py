"""Server-side sessions: the cookie holds a random token, the ``user_session`` row decides.

A row at stage ``otp`` has passed the password only; ``full`` has passed the OTP too. Idle and
absolute time-outs are checked on every request; ending rows ends sessions in every process.
The loader commits nothing: what it writes goes with the view's commit, or, when the view made
none, with ``commit_written`` after the request.
A lock-out never ends a session (``lockout``): revocation, a password change, a hand-over or
the holder's own "end sessions" do.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, request, session
from sqlalchemy.orm import joinedload

from vaxportal.audit import events
from vaxportal.auth.models import Account, AccountStatus, UserSession
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

TOUCH_EVERY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(account: Account, stage: str = "otp") -> UserSession:
    """Open a new session with a new token (never reusing one set before sign-in). The cookie
    is cleared, its CSRF token with it: every sign-in gets a new one."""
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


@functools.cache
def _by_token() -> sa.Select:
    """The session row by its token's hash, with the account, its facility and its
    custodians: built once per process (every request runs it), the hash a bound parameter."""
    return (sa.select(UserSession)
            .where(UserSession.token_hash == sa.bindparam("token_hash"))
            .options(joinedload(UserSession.account).options(
                joinedload(Account.facility), joinedload(Account.custodians))))


def _load() -> UserSession | None:
    token = session.get("sid")
    if not token:
        return None
    # the account, its facility and its custodians in the same round trip: every page
    # needs them (the scope of a supervisor is the subtree below that facility; the layout
    # names the custodian) and a page's query budget counts each round trip
    row = db.session.execute(_by_token(), {"token_hash": _digest(token)}
                             ).unique().scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    reason = _expiry_reason(row)
    if reason:
        close(row, reason, account=row.account)
        g.session_written = db.session().get_transaction()
        return None
    if utcnow() - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = utcnow()
        g.session_written = db.session().get_transaction()
    return row


def commit_written(response):
    """The request's one commit when its view made none (a GET page, a refusal): what the
    loader wrote on the session row (``last_seen_at`` for the idle time-out, or its end and
    the ``session_ended`` event). A view that commits carries it in its own commit; one that
    rolls back drops it (the next request writes it again). Not on a 403 (``audit.events``
    rolls a refused request back) nor a 500 (rolled back)."""
    written = g.pop("session_written", None)
    if written is None or written is not db.session().get_transaction():
        return response
    if response.status_code != 403 and response.status_code < 500:
        db.session.commit()
    return response


def _expiry_reason(row: UserSession) -> str | None:
    now = utcnow()
    cfg = current_app.config
    if row.account.status == AccountStatus.revoked:
        return "revoked"
    if now - row.last_seen_at > timedelta(minutes=int(cfg["SESSION_IDLE_MINUTES"])):
        return "idle"
    if now - row.created_at > timedelta(hours=int(cfg["SESSION_ABSOLUTE_HOURS"])):
        return "absolute"
    return None


def end(row: UserSession, reason: str) -> None:
    """Mark a row ended, unrecorded: for the steps of a sign-in (``replaced``, ``signed_in``).
    A session that ends for its user goes through ``close`` or ``end_all``."""
    row.ended_at = utcnow()
    row.end_reason = reason


def close(row: UserSession, reason: str, *, account: Account | None = None) -> None:
    """End one session and record ``session_ended`` with the reason (``logout``, ``idle``,
    ``absolute``, ``revoked``, ``ended_by_user``) in the same transaction.
    ``account``: the actor when it is the session's own account (a time-out found on its
    request); by default the signed-in account, the console or a job."""
    end(row, reason)
    record_ended(row.account, reason, [row.id], actor=account)


def end_all(account_id: int, reason: str, *, except_id: int | None = None) -> int:
    """End every open session of an account (password change, handover, revocation)
    and record one ``session_ended`` event with the reason when any was open."""
    stmt = (
        sa.update(UserSession)
        .where(UserSession.account_id == account_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .returning(UserSession.id)
        .execution_options(synchronize_session=False)
    )
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    ended = list(db.session.scalars(stmt))
    if ended:
        record_ended(db.session.get(Account, account_id), reason, sorted(ended))
    return len(ended)


def record_ended(account: Account, reason: str, session_ids: list[int], *,
                 actor: Account | None = None) -> None:
    """The access event of sessions that ended (P2.4): one action, ``session_ended``, with the
    reason and the rows, whatever ended them."""
    events.record("session_ended", category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id, account=actor,
                  details={"reason": reason, "count": len(session_ids),
                           "session_ids": session_ids})


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
