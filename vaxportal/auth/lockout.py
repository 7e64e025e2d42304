"""Lock-out after repeated failures, kept in the database so it holds across processes.

``LOCKOUT_PASSWORD_FAILURES`` wrong passwords in a row, or ``LOCKOUT_CODE_FAILURES`` wrong
codes, lock the account for ``LOCKOUT_MINUTES``, doubled on each repeat (``lock_count``). The
counters move only through atomic UPDATEs; a lock ends every session of the account. Nothing
here commits: the caller commits (also after a failure, so that the count is kept).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from vaxportal.audit import events
from vaxportal.auth import sessions
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

MAX_DOUBLINGS = 10  # 15 min x 2^10 is about ten days: the ceiling

_COUNTERS = {
    "password": (Account.failed_password_count, "LOCKOUT_PASSWORD_FAILURES"),
    "code": (Account.failed_code_count, "LOCKOUT_CODE_FAILURES"),
}
_STATE = ["failed_password_count", "failed_code_count", "locked_until", "lock_count"]


def password_failed(account: Account) -> bool:
    """Count a wrong password; True when this failure locked the account."""
    return _failed(account, "password")


def code_failed(account: Account) -> bool:
    """Count a wrong (or replayed) one-time code; True when this failure locked the account."""
    return _failed(account, "code")


def password_succeeded(account: Account) -> None:
    _set(account, failed_password_count=0)


def signed_in(account: Account) -> None:
    """A full sign-in (password and code): the failure counters and the doubling start over."""
    _set(account, failed_password_count=0, failed_code_count=0, lock_count=0)


def is_locked(account: Account) -> bool:
    return account.is_locked()


def unlock(account: Account) -> None:
    """End a lock now (the admin's unlock, P4.3c). ``lock_count`` is kept, so a new lock
    still lasts longer; the caller records the written request and commits. An ORM change,
    so the audit hook sees it and the account's version moves."""
    account.locked_until = None
    account.failed_password_count = 0
    account.failed_code_count = 0


def _failed(account: Account, kind: str) -> bool:
    column, limit_key = _COUNTERS[kind]
    count, lock_count = db.session.execute(
        sa.update(Account).where(Account.id == account.id)
        .values({column: column + 1})
        .returning(column, Account.lock_count)
        .execution_options(synchronize_session=False)
    ).one()
    locked = count >= int(current_app.config[limit_key]) and _lock(account, lock_count, kind)
    db.session.expire(account, _STATE)
    return locked


def _lock(account: Account, lock_count: int, kind: str) -> bool:
    """Lock unless another process just did (compare-and-set on ``lock_count``)."""
    minutes = int(current_app.config["LOCKOUT_MINUTES"]) * 2 ** min(lock_count, MAX_DOUBLINGS)
    until = utcnow() + timedelta(minutes=minutes)
    result = db.session.execute(
        sa.update(Account).where(Account.id == account.id, Account.lock_count == lock_count)
        .values(locked_until=until, lock_count=lock_count + 1, failed_password_count=0,
                failed_code_count=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    sessions.end_all(account.id, "locked")
    events.record("locked", category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id,
                  details={"after": kind, "minutes": minutes, "lock_count": lock_count + 1})
    return True


def _set(account: Account, **values) -> None:
    db.session.execute(
        sa.update(Account).where(Account.id == account.id).values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(account, _STATE)
