"""Guessing limits that cannot be turned against the holder (P3.4; ASVS 2.2.1), kept in the
database so they hold across processes.

Wrong passwords are counted in ``sign_in_failure`` rows, under keyed hashes:

- from a browser that has signed in fully to the account before (its signed device cookie,
  ``remember_browser``, names the account): under that browser alone, so an attacker
  elsewhere never holds the holder up there, and that browser never holds up others;
- from any other browser: under the typed username (known or not, so no answer tells
  whether it exists) and under the address.

Past ``LOCKOUT_PASSWORD_FAILURES`` (a username, a browser) or ``LOGIN_ADDRESS_FAILURES`` (an
address), each failure makes that key wait ``LOGIN_DELAY_SECONDS``, doubled per failure up to
``LOGIN_DELAY_MAX_MINUTES``. A try while a key waits is refused unchecked and uncounted.
Counts start over after a day without failures, after the right password (not the
address's) and after the admin's unlock.

Wrong codes come only after the right password: ``LOCKOUT_CODE_FAILURES`` of them lock the
account itself for ``LOCKOUT_MINUTES``, doubled per lock (``lock_count``) until the admin's
unlock or a full sign-in. No lock and no wait ends a session: only revocation, a password
change or the holder's "end sessions" do. The holder is told by SMS, at most once an hour.
Nothing here commits: the caller commits (also after a failure, so that the count is kept).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import after_this_request, current_app, request
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.dialects import postgresql, sqlite

from vaxportal import jobs
from vaxportal.audit import events
from vaxportal.auth.models import Account, AccountStatus, SignInFailure
from vaxportal.extensions import db
from vaxportal.sms import SmsError, send_sms
from vaxportal.timeutil import format_datetime, utcnow

log = logging.getLogger(__name__)

MAX_DOUBLINGS = 10  # the code lock: 15 min x 2^10 is about ten days, the ceiling
COUNT_WINDOW = timedelta(days=1)  # a key's count starts over after a day without failures
NOTICE_EVERY = timedelta(hours=1)  # at most one SMS an hour to the holder
BROWSERS_REMEMBERED = 5  # accounts one device cookie names


# -- keys -----------------------------------------------------------------------------------


def _mac(kind: str, value: str) -> str:
    key = current_app.secret_key.encode()
    return hmac.new(key, f"sign-in:{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:48]


def _name(username: str) -> str:
    return (username or "").strip().lower()[:64]


def username_key(username: str) -> str:
    return "user:" + _mac("user", _name(username))


def _address_key() -> str:
    return "addr:" + _mac("addr", request.remote_addr or "-")


def _browser_prefix(username: str) -> str:
    return f"device:{_mac('user', _name(username))}:"


def keys_for(username: str, account: Account | None) -> list[str]:
    """The keys a password try from this browser counts under: the browser's own when it has
    signed in to ``account`` before, else the typed username's and the address's."""
    device = known_browser(username)
    if account is not None and device:
        return [_browser_prefix(username) + device]
    return [username_key(username), _address_key()]


# -- the device cookie ------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="vaxportal-known-browser")


def _device_cookie() -> tuple[str | None, list[str]]:
    """The browser's id and the accounts it signed in to (keyed hashes of their usernames),
    if its cookie is ours and not too old."""
    raw = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
    if not raw:
        return None, []
    max_age = int(current_app.config["DEVICE_COOKIE_DAYS"]) * 86400
    try:
        data = _serializer().loads(raw, max_age=max_age)
    except BadSignature:
        return None, []
    device, names = data.get("d"), data.get("u")
    if not isinstance(device, str) or not isinstance(names, list):
        return None, []
    return device, [n for n in names if isinstance(n, str)]


def known_browser(username: str) -> str | None:
    """This browser's id if it has signed in fully to ``username`` before (the cookie only,
    no database: the sign-in limiter asks too)."""
    device, names = _device_cookie()
    return device if device and _mac("user", _name(username)) in names else None


def remember_browser(account: Account) -> None:
    """At a full sign-in: the signed, long-lived cookie that makes this browser a known one
    for ``account`` (it names the account by a keyed hash, never the username in clear)."""
    device, names = _device_cookie()
    device = device or secrets.token_urlsafe(16)
    mine = _mac("user", _name(account.username))
    names = [mine, *[n for n in names if n != mine]][:BROWSERS_REMEMBERED]
    value = _serializer().dumps({"d": device, "u": names})
    cfg = current_app.config

    @after_this_request
    def _set_cookie(response):
        response.set_cookie(cfg["DEVICE_COOKIE_NAME"], value,
                            max_age=int(cfg["DEVICE_COOKIE_DAYS"]) * 86400, httponly=True,
                            samesite="Lax", secure=bool(cfg["SESSION_COOKIE_SECURE"]))
        return response


# -- wrong passwords ------------------------------------------------------------------------


def wait_until(keys: list[str]) -> datetime | None:
    """When the latest of ``keys`` stops waiting, if any waits now."""
    now = utcnow()
    return db.session.scalar(
        sa.select(sa.func.max(SignInFailure.blocked_until))
        .where(SignInFailure.key.in_(keys), SignInFailure.blocked_until > now)
    )


def password_failed(keys: list[str], account: Account | None) -> datetime | None:
    """Count a wrong password under ``keys``; the time until which a key now waits, if any.
    The holder of ``account`` is told when its username or browser starts waiting."""
    cfg = current_app.config
    waits = []
    for key in keys:
        limit = cfg["LOGIN_ADDRESS_FAILURES"] if key.startswith("addr:") else \
            cfg["LOCKOUT_PASSWORD_FAILURES"]
        until = _count(key, int(limit))
        if until is not None:
            waits.append(until)
            if account is not None and not key.startswith("addr:"):
                _waiting(account, key, until)
    return max(waits, default=None)


def password_succeeded(keys: list[str]) -> None:
    """The right password: the username's or browser's count starts over (not the
    address's: one account's password must not clear a spray from that address)."""
    _reset(sa.and_(SignInFailure.key.in_(keys), ~SignInFailure.key.startswith("addr:")))


def _count(key: str, limit: int) -> datetime | None:
    now = utcnow()
    _ensure_row(key)
    failures = db.session.execute(
        sa.update(SignInFailure).where(SignInFailure.key == key)
        .values(failures=sa.case((SignInFailure.updated_at < now - COUNT_WINDOW, 1),
                                 else_=SignInFailure.failures + 1), updated_at=now)
        .returning(SignInFailure.failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    if failures == 1:
        _prune(now)
    if failures < limit:
        return None
    until = now + _delay(failures - limit)
    db.session.execute(
        sa.update(SignInFailure).where(SignInFailure.key == key).values(blocked_until=until)
        .execution_options(synchronize_session=False)
    )
    return until


def _prune(now: datetime) -> None:
    """Forget keys with nothing left to remember (no recent failure, wait or SMS), so that
    made-up usernames do not pile up; run when a key starts counting."""
    db.session.execute(
        sa.delete(SignInFailure)
        .where(SignInFailure.updated_at < now - COUNT_WINDOW,
               sa.or_(SignInFailure.blocked_until.is_(None), SignInFailure.blocked_until < now),
               sa.or_(SignInFailure.notified_at.is_(None),
                      SignInFailure.notified_at < now - NOTICE_EVERY))
        .execution_options(synchronize_session=False)
    )


def _delay(beyond: int) -> timedelta:
    cfg = current_app.config
    seconds = int(cfg["LOGIN_DELAY_SECONDS"]) * 2 ** min(beyond, 20)
    return timedelta(seconds=min(seconds, int(cfg["LOGIN_DELAY_MAX_MINUTES"]) * 60))


def _ensure_row(key: str) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(SignInFailure).values(key=key, failures=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )


def _reset(where) -> None:
    db.session.execute(
        sa.update(SignInFailure).where(where).values(failures=0, blocked_until=None)
        .execution_options(synchronize_session=False)
    )


def _waiting(account: Account, key: str, until: datetime) -> None:
    if account.status == AccountStatus.revoked:
        return
    events.record("locked", category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id,
                  details={"after": "password", "until": until.isoformat(),
                           "browser": "known" if key.startswith("device:") else "unknown"})
    _tell_holder(account, until)


# -- wrong codes: the account's lock ----------------------------------------------------------


def code_failed(account: Account) -> bool:
    """Count a wrong (or replayed) one-time code; True when this failure locked the account."""
    count, lock_count = db.session.execute(
        sa.update(Account).where(Account.id == account.id)
        .values(failed_code_count=Account.failed_code_count + 1)
        .returning(Account.failed_code_count, Account.lock_count)
        .execution_options(synchronize_session=False)
    ).one()
    limit = int(current_app.config["LOCKOUT_CODE_FAILURES"])
    locked = count >= limit and _lock(account, lock_count)
    db.session.expire(account, _STATE)
    return locked


_STATE = ["failed_password_count", "failed_code_count", "locked_until", "lock_count"]


def _lock(account: Account, lock_count: int) -> bool:
    """Lock unless another process just did (compare-and-set on ``lock_count``). Sessions
    already signed in go on."""
    minutes = int(current_app.config["LOCKOUT_MINUTES"]) * 2 ** min(lock_count, MAX_DOUBLINGS)
    until = utcnow() + timedelta(minutes=minutes)
    result = db.session.execute(
        sa.update(Account).where(Account.id == account.id, Account.lock_count == lock_count)
        .values(locked_until=until, lock_count=lock_count + 1, failed_code_count=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    events.record("locked", category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id,
                  details={"after": "code", "minutes": minutes, "lock_count": lock_count + 1})
    _tell_holder(account, until)
    return True


def signed_in(account: Account) -> None:
    """A full sign-in (password and code): the code count and the doubling start over."""
    db.session.execute(
        sa.update(Account).where(Account.id == account.id)
        .values(failed_password_count=0, failed_code_count=0, lock_count=0)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(account, _STATE)


def is_locked(account: Account) -> bool:
    """Locked by wrong codes, or its username waiting for unknown browsers."""
    return account.is_locked() or wait_until([username_key(account.username)]) is not None


def unlock(account: Account) -> None:
    """End a lock and every wait of the account now (the admin's unlock, P4.3c); the doubling
    starts over. An ORM change, so the audit hook sees it and the account's version moves;
    the caller records the written request and commits."""
    account.locked_until = None
    account.failed_password_count = 0
    account.failed_code_count = 0
    account.lock_count = 0
    _reset(sa.or_(SignInFailure.key == username_key(account.username),
                  SignInFailure.key.startswith(_browser_prefix(account.username))))


# -- telling the holder -----------------------------------------------------------------------


def _tell_holder(account: Account, until: datetime) -> None:
    """An SMS to the account's phone, unless one went in the last hour (compare-and-set on
    the username's row, so two processes send one)."""
    key, now = username_key(account.username), utcnow()
    _ensure_row(key)
    result = db.session.execute(
        sa.update(SignInFailure)
        .where(SignInFailure.key == key, sa.or_(SignInFailure.notified_at.is_(None),
                                                SignInFailure.notified_at <= now - NOTICE_EVERY))
        .values(notified_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        # in the background: the answer takes no longer for a real username than for another
        jobs.enqueue("vaxportal.auth.lockout.send_lock_notice", account.id, until.isoformat())


def send_lock_notice(account_id: int, until: str) -> None:
    """The job: the SMS itself, in Vietnamese."""
    account = db.session.get(Account, account_id)
    if account is None:
        return
    with force_locale("vi"):
        body = _("vaxportal: đăng nhập tài khoản %(username)s đang bị tạm khoá đến %(time)s vì "
                 "nhập sai nhiều lần. Nếu không phải bạn, hãy báo ngay cho quản trị viên.",
                 username=account.username,
                 time=format_datetime(datetime.fromisoformat(until), seconds=False))
    try:
        send_sms(account.phone, "lockout_notice", body)
    except SmsError:
        log.warning("could not send the lock notice of account %s", account_id)
