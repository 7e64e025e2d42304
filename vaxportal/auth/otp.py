"""One-time codes: SMS codes (stored as keyed hashes) and authenticator-app TOTP (RFC 6238).

No database here: callers store the hash, the encrypted secret and the last used step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from cryptography.fernet import Fernet
from flask_babel import gettext as _

SMS_CODE_DIGITS = 6
TOTP_DIGITS = 6
TOTP_INTERVAL = 30


def generate_sms_code() -> str:
    return f"{secrets.randbelow(10**SMS_CODE_DIGITS):0{SMS_CODE_DIGITS}d}"


def hash_code(code: str, *, key: bytes, context: str) -> str:
    """HMAC-SHA256 over the context and the code: a code only matches for its own purpose."""
    message = context.encode("utf-8") + b"\x00" + code.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def code_matches(stored_hash: str, code: str, *, key: bytes, context: str) -> bool:
    candidate = hash_code(_clean(code), key=key, context=context)
    return hmac.compare_digest(candidate, stored_hash or "")


def _clean(code: str) -> str:
    """Spaces removed, as apps and SMS show codes like "123 456"."""
    return "".join((code or "").split())


def new_totp_secret() -> str:
    return pyotp.random_base32()


def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest()))


def encrypt_secret(secret: str, key: str) -> str:
    return _fernet(key).encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str, key: str) -> str:
    """Raises ``cryptography.fernet.InvalidToken`` with a wrong key or a damaged token."""
    return _fernet(key).decrypt(token.encode("ascii")).decode("utf-8")


def provisioning_uri(secret: str, account_name: str, issuer: str = "vaxportal") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as inline SVG markup (no XML declaration)."""
    title = _("Mã QR để thêm tài khoản vào ứng dụng xác thực")
    return segno.make(uri, error="m").svg_inline(scale=4, title=title)


def match_totp(secret: str, code: str, *, last_step: int | None, now: float | None = None,
               window: int = 1) -> int | None:
    """The time step ``code`` belongs to, if it is valid within ``window`` steps of ``now``
    and later than ``last_step`` (a step already used is refused); otherwise None."""
    code = _clean(code)
    if len(code) != TOTP_DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    current = int((time.time() if now is None else now) // TOTP_INTERVAL)
    matched = None
    for step in range(current - window, current + window + 1):  # no early exit
        if hmac.compare_digest(totp.generate_otp(step), code) and (
            last_step is None or step > last_step
        ):
            matched = step
    return matched
