"""SMS one-time codes on ``OtpChallenge`` (P3.2, P3.4).

A code is 6 digits, valid ``OTP_TTL_SECONDS``, used once, stored only as a keyed hash whose
context is ``"purpose:action_ref"`` (so it matches nothing else), and void after
``OTP_MAX_ATTEMPTS`` tries. Every try takes an attempt with a conditional UPDATE first, so
parallel guesses in several processes cannot exceed the limit. Nothing here commits.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from vaxportal.auth import otp
from vaxportal.auth.models import Account, OtpChallenge
from vaxportal.extensions import db
from vaxportal.sms import send_sms
from vaxportal.timeutil import utcnow

#: purposes of codes that open or prove a session; never valid for an action (export, ...)
SESSION_PURPOSES = frozenset({"login", "activation", "step_up"})


class Outcome(enum.StrEnum):
    ok = "ok"
    wrong = "wrong"  # a wrong code for an open challenge (an attempt was used)
    void = "void"  # no open challenge: never issued, expired, used, or out of attempts
    replayed = "replayed"  # an authenticator code whose time step was already used


def _key() -> bytes:
    secret = current_app.config["OTP_ENCRYPTION_KEY"]
    return hashlib.sha256(b"vaxportal-sms-code\x00" + secret.encode("utf-8")).digest()


def _context(purpose: str, action_ref) -> str:
    return f"{purpose}:{_ref(action_ref)}"


def _ref(action_ref) -> str:
    return "" if action_ref is None else str(action_ref)


def _body(account: Account, purpose: str, code: str, description: str | None) -> str:
    minutes = int(current_app.config["OTP_TTL_SECONDS"]) // 60
    with force_locale("vi"):
        if purpose == "login":
            return _("vaxportal: mã đăng nhập của bạn là %(code)s, hiệu lực %(m)s phút. "
                     "Không đưa mã này cho bất kỳ ai.", code=code, m=minutes)
        if purpose == "activation":
            return _("vaxportal: mã kích hoạt tài khoản %(username)s là %(code)s, hiệu lực "
                     "%(m)s phút. Không đưa mã này cho bất kỳ ai.",
                     username=account.username, code=code, m=minutes)
        if purpose == "step_up" and description:
            return _("vaxportal: mã %(code)s để xác thực lại và %(what)s. Mã chỉ dùng cho đúng "
                     "thao tác này, hiệu lực %(m)s phút. Không đưa mã này cho bất kỳ ai.",
                     code=code, what=description, m=minutes)
        if purpose == "step_up":
            return _("vaxportal: mã xác thực lại để tiếp tục thao tác là %(code)s, hiệu lực "
                     "%(m)s phút. Không đưa mã này cho bất kỳ ai.", code=code, m=minutes)
        return _("vaxportal: mã %(code)s dùng để %(what)s. Mã chỉ dùng cho đúng thao tác này, "
                 "hiệu lực %(m)s phút. Không đưa mã này cho bất kỳ ai.",
                 code=code, what=description or purpose, m=minutes)


def issue(account: Account, purpose: str, action_ref=None, *, description: str | None = None,
          session_id: int | None = None) -> OtpChallenge:
    """A new code for (purpose, action_ref), sent by SMS to the account's phone; earlier open
    codes for the same pair stop working. Raises ``SmsError`` if the SMS cannot be sent."""
    now = utcnow()
    db.session.execute(
        sa.update(OtpChallenge)
        .where(OtpChallenge.account_id == account.id, OtpChallenge.purpose == purpose,
               OtpChallenge.action_ref == _ref(action_ref), OtpChallenge.used_at.is_(None),
               OtpChallenge.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = otp.generate_sms_code()
    challenge = OtpChallenge(
        account_id=account.id, session_id=session_id, purpose=purpose,
        action_ref=_ref(action_ref), created_at=now,
        code_hash=otp.hash_code(code, key=_key(), context=_context(purpose, action_ref)),
        expires_at=now + timedelta(seconds=int(current_app.config["OTP_TTL_SECONDS"])),
    )
    db.session.add(challenge)
    db.session.flush()
    send_sms(account.phone, purpose, _body(account, purpose, code, description), secret=code)
    return challenge


def verify(account: Account, purpose: str, action_ref, code: str) -> Outcome:
    """Check ``code`` against the newest open challenge of exactly (purpose, action_ref)."""
    now = utcnow()
    challenge = db.session.scalar(
        sa.select(OtpChallenge)
        .where(OtpChallenge.account_id == account.id, OtpChallenge.purpose == purpose,
               OtpChallenge.action_ref == _ref(action_ref), OtpChallenge.used_at.is_(None),
               OtpChallenge.expires_at > now)
        .order_by(OtpChallenge.id.desc()).limit(1)
    )
    if challenge is None or not _take_attempt(challenge.id):
        return Outcome.void
    if not otp.code_matches(challenge.code_hash, code or "", key=_key(),
                            context=_context(purpose, action_ref)):
        return Outcome.wrong
    used = db.session.execute(
        sa.update(OtpChallenge)
        .where(OtpChallenge.id == challenge.id, OtpChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return Outcome.ok if used.rowcount == 1 else Outcome.void


def _take_attempt(challenge_id: int) -> bool:
    limit = int(current_app.config["OTP_MAX_ATTEMPTS"])
    result = db.session.execute(
        sa.update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id, OtpChallenge.used_at.is_(None),
               OtpChallenge.attempts < limit)
        .values(attempts=OtpChallenge.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def has_open(account: Account, purpose: str, action_ref) -> bool:
    limit = int(current_app.config["OTP_MAX_ATTEMPTS"])
    return db.session.scalar(
        sa.select(sa.func.count(OtpChallenge.id)).where(
            OtpChallenge.account_id == account.id, OtpChallenge.purpose == purpose,
            OtpChallenge.action_ref == _ref(action_ref), OtpChallenge.used_at.is_(None),
            OtpChallenge.expires_at > utcnow(), OtpChallenge.attempts < limit)
    ) > 0


def resend_wait(account: Account, purpose: str, *, interval: bool = True,
                action_ref=None) -> int:
    """Seconds to wait before another code of ``purpose`` may be sent to the account: one
    a minute (``interval``; with ``action_ref``, a minute per action, since a code for
    another action is no resend) and ``OTP_RESEND_PER_HOUR`` resends an hour whatever the
    action; 0 when allowed."""
    cfg = current_app.config
    now = utcnow()
    sent = db.session.execute(
        sa.select(OtpChallenge.created_at, OtpChallenge.action_ref)
        .where(OtpChallenge.account_id == account.id, OtpChallenge.purpose == purpose,
               OtpChallenge.created_at > now - timedelta(hours=1))
        .order_by(OtpChallenge.created_at.desc())
    ).all()
    waits = [0]
    per_hour = int(cfg["OTP_RESEND_PER_HOUR"])
    if len(sent) > per_hour:  # the first code and its resends
        waits.append((sent[per_hour].created_at + timedelta(hours=1) - now).total_seconds())
    same = [row for row in sent if action_ref is None or row.action_ref == _ref(action_ref)]
    if interval and same:
        gap = timedelta(seconds=int(cfg["OTP_RESEND_INTERVAL_SECONDS"]))
        waits.append((same[0].created_at + gap - now).total_seconds())
    return max(0, int(max(waits) + 0.999))
