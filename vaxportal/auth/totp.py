"""Authenticator-app codes (TOTP, RFC 6238) for an account: the secret encrypted at rest with
``OTP_ENCRYPTION_KEY``, and a time step used once (OWASP ASVS 2.8.4/2.8.5).

``Account.totp_last_step`` moves forward only through a conditional UPDATE, so two processes
given the same code cannot both accept it. Nothing here commits.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from flask import current_app

from vaxportal.auth import otp
from vaxportal.auth.codes import Outcome
from vaxportal.auth.models import Account
from vaxportal.extensions import db

log = logging.getLogger(__name__)


def _key() -> str:
    return current_app.config["OTP_ENCRYPTION_KEY"]


def encrypt(secret: str) -> str:
    return otp.encrypt_secret(secret, _key())


def decrypt(token: str) -> str | None:
    try:
        return otp.decrypt_secret(token, _key())
    except (InvalidToken, ValueError):
        log.error("TOTP secret of an account cannot be decrypted (wrong OTP_ENCRYPTION_KEY?)")
        return None


def enrolled(account: Account) -> bool:
    return bool(account.totp_secret)


def verify(account: Account, code: str) -> Outcome:
    """``ok`` once per time step; ``replayed`` for a step already used; else ``wrong``."""
    secret = decrypt(account.totp_secret) if account.totp_secret else None
    if not secret:
        return Outcome.wrong
    step = otp.match_totp(secret, code or "", last_step=None)
    if step is None:
        return Outcome.wrong
    return Outcome.ok if claim_step(account, step) else Outcome.replayed


def claim_step(account: Account, step: int) -> bool:
    """Record ``step`` as used; False if it (or a later one) already was, in any process."""
    result = db.session.execute(
        sa.update(Account)
        .where(Account.id == account.id,
               sa.or_(Account.totp_last_step.is_(None), Account.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(account, ["totp_last_step"])
    return result.rowcount == 1


def enrol(account: Account, secret: str, code: str) -> bool:
    """Store ``secret`` (encrypted) if ``code`` is a current code of it; that step is used."""
    step = otp.match_totp(secret, code or "", last_step=None)
    if step is None:
        return False
    account.totp_secret = encrypt(secret)
    account.totp_last_step = step
    return True


def remove(account: Account) -> None:
    account.totp_secret = None
    account.totp_last_step = None
