"""Signing in (P3.2, P3.4, P4.3b): the password step, the code step, the password change.

The password step answers an unknown username and a wrong password the same way and in about
the same time (a dummy hash is verified for an unknown username), and counts both alike
(``lockout``), so a wait says nothing about the username; only the right password of a
locked or revoked account, or an expired initial password, learns more.
Nothing here commits; the views commit once.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app, session

from vaxportal.audit import events
from vaxportal.auth import codes, lockout, passwords, sessions, totp
from vaxportal.auth.models import Account, AccountStatus, PasswordHistory, UserSession
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow


class Refusal(enum.StrEnum):
    generic = "generic"  # unknown username, wrong password: one answer
    wait = "wait"  # too many wrong passwords from this browser or address: try again later
    locked = "locked"  # the right password of an account locked by wrong codes
    revoked = "revoked"
    initial_expired = "initial_expired"


class Verdict(NamedTuple):
    """What the password step decided: the account, or why not and until when to wait."""

    account: Account | None
    refusal: Refusal | None = None
    until: datetime | None = None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return passwords.hash_password(secrets.token_urlsafe(16))


def find_account(username: str) -> Account | None:
    name = (username or "").strip().lower()
    return db.session.scalar(sa.select(Account).where(Account.username == name))


def check_password(username: str, password: str) -> Verdict:
    """The account if ``password`` opens it, else why not (as little as may be told: only
    the right password learns that its account is locked, revoked or expired)."""
    account = find_account(username)
    keys = lockout.keys_for(username, account)
    wait = lockout.wait_until(keys)
    if wait is not None:
        passwords.verify_password(_dummy_hash(), password)  # the same time as a real check
        _failed(account, "waiting")
        return Verdict(None, Refusal.wait, wait)
    if account is None:
        passwords.verify_password(_dummy_hash(), password)
        _failed(None, "unknown_account")
        return Verdict(None, Refusal.generic, lockout.password_failed(keys, None))
    if not passwords.verify_password(account.password_hash, password):
        _failed(account, "wrong_password")
        return Verdict(None, Refusal.generic, lockout.password_failed(keys, account))
    refusal = _refusal_after_right_password(account)
    if refusal is not None:
        _failed(account, _REASONS[refusal])
        return Verdict(None, refusal, account.locked_until)
    lockout.password_succeeded(keys)
    return Verdict(account)


_REASONS = {Refusal.locked: "locked", Refusal.revoked: "revoked",
            Refusal.initial_expired: "initial_password_expired"}


def _refusal_after_right_password(account: Account) -> Refusal | None:
    if account.is_locked():
        return Refusal.locked
    if account.status == AccountStatus.revoked:
        return Refusal.revoked
    if _initial_expired(account):
        return Refusal.initial_expired
    return None


def recheck_password(account: Account, password: str) -> Verdict:
    """The current password typed again by the signed-in holder (the password change)."""
    keys = lockout.keys_for(account.username, account)
    wait = lockout.wait_until(keys)
    if wait is not None:
        return Verdict(None, Refusal.wait, wait)
    if not passwords.verify_password(account.password_hash, password):
        return Verdict(None, Refusal.generic, lockout.password_failed(keys, account))
    return Verdict(account)


def _initial_expired(account: Account) -> bool:
    expires = account.initial_password_expires_at
    return account.must_change_password and expires is not None and expires <= utcnow()


def _failed(account: Account | None, reason: str) -> None:
    """Never the typed username of an unknown account, never the password."""
    events.record("login_failed", category="access", entity="account",
                  entity_id=account.id if account else None,
                  facility_id=account.facility_id if account else None,
                  details={"reason": reason})


# -- the code step ------------------------------------------------------------------------


def code_purpose(account: Account) -> str:
    """``activation`` until the registered phone is proven (P3.2), then ``login``."""
    return "activation" if account.phone_verified_at is None else "login"


def start_code_step(account: Account, next_url: str | None) -> UserSession:
    """A new session at stage ``otp`` (new token) and, unless the account uses an
    authenticator app, a code by SMS. Raises ``SmsError`` if the SMS cannot be sent."""
    previous = sessions.current()
    if previous is not None:
        sessions.end(previous, "replaced")
    row = sessions.start(account, stage="otp")
    purpose = code_purpose(account)
    method = "totp" if purpose == "login" and totp.enrolled(account) else "sms"
    session["otp_method"] = method
    if next_url:
        session["next"] = next_url
    if method == "sms" and not codes.resend_wait(account, purpose, interval=False):
        codes.issue(account, purpose, row.id, session_id=row.id)
    return row


def complete_sign_in(account: Account, otp_row: UserSession, purpose: str) -> UserSession:
    """The code was right: a NEW session (new token) at stage ``full``, fresh for step-up."""
    next_url = session.get("next")
    now = utcnow()
    if purpose == "activation":
        account.phone_verified_at = now
    sessions.end(otp_row, "signed_in")
    row = sessions.start(account, stage="full")
    row.otp_verified_at = row.step_up_at = now
    if next_url:
        session["next"] = next_url
    lockout.signed_in(account)
    lockout.remember_browser(account)
    events.record("login_ok", category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id, account=account,
                  details={"purpose": purpose})
    return row


# -- passwords (P4.3b) --------------------------------------------------------------------


def recent_hashes(account: Account) -> list[str]:
    """The current hash (the initial password included) and the last PASSWORD_HISTORY."""
    keep = int(current_app.config["PASSWORD_HISTORY"])
    history = db.session.scalars(
        sa.select(PasswordHistory.password_hash)
        .where(PasswordHistory.account_id == account.id)
        .order_by(PasswordHistory.id.desc()).limit(keep)
    ).all()
    return [h for h in (account.password_hash, *history) if h]


def password_problems(account: Account, new_password: str) -> list[str]:
    return passwords.password_problems(new_password, username=account.username,
                                       phone=account.phone,
                                       previous_hashes=recent_hashes(account))


def change_password(account: Account, new_password: str, keep_session_id: int | None) -> int:
    """Set the new password, leave the initial-password state, end the other sessions."""
    new_hash = passwords.hash_password(new_password)
    account.password_hash = new_hash
    account.must_change_password = False
    account.initial_password_expires_at = None
    if account.status == AccountStatus.pending:
        account.status = AccountStatus.active
    db.session.add(PasswordHistory(account_id=account.id, password_hash=new_hash))
    db.session.flush()
    _prune_history(account)
    ended = sessions.end_all(account.id, "password_changed", except_id=keep_session_id)
    events.record("password_changed", category="access", entity="account",
                  entity_id=account.id, facility_id=account.facility_id,
                  details={"other_sessions_ended": ended})
    return ended


def _prune_history(account: Account) -> None:
    keep = int(current_app.config["PASSWORD_HISTORY"])
    old = db.session.scalars(
        sa.select(PasswordHistory).where(PasswordHistory.account_id == account.id)
        .order_by(PasswordHistory.id.desc()).offset(keep)
    ).all()
    for row in old:
        db.session.delete(row)
