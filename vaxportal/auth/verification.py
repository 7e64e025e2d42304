"""One check for every one-time code the account types: the authenticator app (if enrolled
and allowed) or the SMS code issued for exactly (purpose, action_ref). Failures count toward
the lock-out and are recorded; a replayed authenticator code is refused, recorded, and its
holder is told by SMS (ASVS 2.8.5). Nothing here commits; codes never reach a log."""

from __future__ import annotations

import logging

from flask_babel import force_locale
from flask_babel import gettext as _

from vaxportal.audit import events
from vaxportal.auth import codes, lockout, totp
from vaxportal.auth.codes import Outcome
from vaxportal.auth.models import Account
from vaxportal.sms import SmsError, send_sms

log = logging.getLogger(__name__)


def check_code(account: Account, purpose: str, action_ref, code: str, *,
               totp_allowed: bool = True) -> Outcome:
    outcome = Outcome.wrong
    if totp_allowed and totp.enrolled(account):
        outcome = totp.verify(account, code)
    if outcome is Outcome.wrong:
        outcome = codes.verify(account, purpose, action_ref, code)
    if outcome is not Outcome.ok:
        _failed(account, purpose, outcome)
    return outcome


def _failed(account: Account, purpose: str, outcome: Outcome) -> None:
    action = "otp_replayed" if outcome is Outcome.replayed else "otp_failed"
    events.record(action, category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id,
                  details={"purpose": purpose, "outcome": str(outcome)})
    if outcome is Outcome.replayed:
        _tell_holder(account)
    lockout.code_failed(account)


def _tell_holder(account: Account) -> None:
    with force_locale("vi"):
        body = _("vaxportal: một mã từ ứng dụng xác thực của tài khoản %(username)s vừa bị "
                 "dùng lại và đã bị từ chối. Nếu không phải bạn, hãy báo ngay cho quản trị "
                 "viên.", username=account.username)
    try:
        send_sms(account.phone, "security_notice", body)
    except SmsError:
        log.warning("could not send the replay notice of account %s", account.id)
