"""Step-up (P3.4): sensitive views need a recent OTP; each export needs a code of its own.

- ``fresh_otp_required(view)``: passes when the session's ``step_up_at`` is within
  ``STEP_UP_WINDOW_SECONDS`` (the login OTP counts). Otherwise it answers with a code prompt
  that carries every field of the original form as hidden inputs and posts back to the same
  URL; the code is checked there and the view runs with what was typed. A GET is sent to
  ``/auth/step-up`` with a safe ``next`` and comes back after the code. The prompt's POSTs
  carry the OTP rate limits of ``auth.throttle`` (per address and per account).
- A step-up code is bound to the action it was sent for (the session and the path of the
  view it opens, or of ``next`` for a GET page) and its SMS names that action
  (``ACTION_NAMES``): a code sent for one action is refused by another action's prompt.
- ``issue_action_code`` / ``verify_action_code``: an SMS code bound to one (purpose,
  action_ref), naming the action in the SMS; only that code (or a fresh authenticator code)
  confirms that action. Login and step-up codes and the step-up window never count.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, make_response, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from vaxportal import htmx
from vaxportal.audit import events
from vaxportal.auth import codes, sessions, totp
from vaxportal.auth.codes import SESSION_PURPOSES, Outcome
from vaxportal.auth.current import current_account
from vaxportal.auth.forms import StepUpForm
from vaxportal.auth.models import Account
from vaxportal.auth.throttle import otp_throttled
from vaxportal.auth.verification import check_code
from vaxportal.extensions import db, login_manager
from vaxportal.policy.identity import phone_hint
from vaxportal.sms import SmsError
from vaxportal.timeutil import utcnow
from vaxportal.urls import safe_next

PURPOSE = "step_up"
#: what each view behind ``fresh_otp_required`` is called in its SMS (``%(id)s``: the id in
#: its URL); a view missing here is named by the generic text
ACTION_NAMES = {
    "recipients.save_identity": _l("sửa thông tin định danh của đối tượng số %(id)s"),
    "recipients.dose_correct": _l("sửa mũi tiêm số %(id)s"),
    "recipients.dose_delete": _l("xoá mũi tiêm số %(id)s"),
    "recipients.merge_duplicate": _l("gộp cặp hồ sơ nghi trùng số %(id)s"),
    "recipients.undo_merge": _l("hoàn tác việc gộp cặp hồ sơ số %(id)s"),
    "facilities.create_facility": _l("thêm cơ sở mới"),
    "facilities.issue": _l("cấp tài khoản cho cơ sở số %(id)s"),
    "facilities.hand_over": _l("bàn giao tài khoản số %(id)s"),
    "facilities.revoke": _l("thu hồi tài khoản số %(id)s"),
    "facilities.reissue_password": _l("cấp lại mật khẩu của tài khoản số %(id)s"),
    "facilities.change_details": _l("sửa thông tin của tài khoản số %(id)s"),
    "facilities.unlock": _l("mở khoá tài khoản số %(id)s"),
    "facilities.delegate": _l("uỷ quyền cho tài khoản số %(id)s"),
    "facilities.end_delegation": _l("kết thúc uỷ quyền số %(id)s"),
    "facilities.approve": _l("duyệt yêu cầu số %(id)s"),
    "auth.totp": _l("bật xác thực bằng ứng dụng"),
    "auth.totp_remove": _l("tắt xác thực bằng ứng dụng"),
}
GENERIC_ACTION = _l("tiếp tục thao tác đang làm")
#: fields of the prompt itself, never carried back to the view as the user's input
PROMPT_FIELDS = frozenset({"csrf_token", "stepup_code", "stepup_resend"})
EMPTY_CODE = _l("Vui lòng nhập mã xác thực.")


# -- freshness ----------------------------------------------------------------------------


def is_fresh() -> bool:
    """True when the signed-in session passed an OTP within the step-up window."""
    row = sessions.current()
    if row is None or row.stage != "full" or row.step_up_at is None:
        return False
    window = timedelta(seconds=int(current_app.config["STEP_UP_WINDOW_SECONDS"]))
    return utcnow() - row.step_up_at <= window


def mark_fresh(row) -> None:
    row.step_up_at = utcnow()


def fresh_otp_required(view=None, *, load=None):
    """Decorator for sensitive views (P3.4); stack it under ``permission_required``.

    ``load`` (for views that take an object id): called with the view's URL arguments before
    anything else, it runs the scope check and aborts (404) for an object outside the
    account's scope, so no code is asked for, let alone sent by SMS, about such an id
    (``policy.scope_loader`` makes one). Use as ``@fresh_otp_required`` or
    ``@fresh_otp_required(load=...)``."""
    if view is None:
        return lambda inner: fresh_otp_required(inner, load=load)

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            return login_manager.unauthorized()
        if load is not None:
            load(**kwargs)
        if is_fresh():
            return view(*args, **kwargs)
        if request.method != "POST":
            return prompt(action=url_for("auth.step_up"), carried=[("next", _here())])
        return _posted_prompt(view, args, kwargs)

    wrapped.fresh_otp_required = True  # lets a test find every such view
    return wrapped


@otp_throttled
def _posted_prompt(view, args, kwargs):
    """A POST to a sensitive view without a fresh OTP: send the code, or check the code typed
    into the prompt and then run the view. Throttled like every OTP entry point (per address
    and per account, counted per view), so a throttled code is never looked at."""
    if request.form.get("stepup_resend"):
        return prompt(send=True)
    if "stepup_code" in request.form:
        code = request.form["stepup_code"].strip()
        if not code:
            return prompt(error=EMPTY_CODE)
        outcome = verify_step_up(code)
        if outcome is Outcome.ok:
            return view(*args, **kwargs)
        return refused(outcome)
    return prompt(send=not totp.enrolled(current_account()))


def verify_step_up(code: str) -> Outcome:
    """Check a step-up code of the signed-in session; on success the session is fresh.
    Commits before the view runs, the one commit outside a view kept on purpose: a spent code
    must stay spent (and a failure counted) even when the view then refuses and rolls back,
    or the same code could be replayed (P3.4)."""
    account, row = current_account(), sessions.current()
    outcome = check_code(account, PURPOSE, action_ref(row), code)
    if outcome is Outcome.ok:
        mark_fresh(row)
    events.record("step_up_ok" if outcome is Outcome.ok else "step_up_failed",
                  category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id)
    db.session.commit()
    return outcome


def refused(outcome: Outcome, **context):
    """The prompt again with why the code was refused, or the sign-in page after a lock."""
    account = current_account()
    db.session.refresh(account)
    if account.is_locked():
        sessions.forget()
        flash(_("Tài khoản đã bị khoá tạm thời vì nhập sai mã nhiều lần. Vui lòng thử lại "
                "sau hoặc liên hệ quản trị viên."), "error")
        return htmx.redirect_to(url_for("auth.login"))
    return prompt(error=outcome_message(outcome), **context)


# -- the prompt ---------------------------------------------------------------------------


def _here() -> str:
    return safe_next(request.full_path.rstrip("?")) or url_for("core.home")


def _carried() -> list[tuple[str, str]]:
    """The original form, every value of every field (file inputs cannot be carried)."""
    return [(k, v) for k, v in request.form.items(multi=True) if k not in PROMPT_FIELDS]


def _action_path() -> str:
    """The path of the action the code is for: this view's, or ``next``'s on the prompt of
    a GET page."""
    if request.endpoint == "auth.step_up":
        return urlsplit(safe_next(request.values.get("next")) or url_for("core.home")).path
    return request.path


def action_ref(row) -> str:
    """What a step-up code is bound to: the session and the action's path (hashed to fit)."""
    digest = hashlib.sha256(_action_path().encode("utf-8")).hexdigest()[:40]
    return f"{row.id}:{digest}"


def action_name() -> str:
    """The action as its SMS names it, in Vietnamese."""
    path = _action_path()
    try:
        endpoint, values = current_app.url_map.bind("localhost").match(path, method="POST")
    except HTTPException:
        endpoint, values = None, {}
    ident = next((v for v in values.values() if isinstance(v, int)), "")
    with force_locale("vi"):
        return str(ACTION_NAMES.get(endpoint, GENERIC_ACTION)) % {"id": ident}


def send_code(account: Account) -> str | None:
    """Send a step-up SMS unless one went out within the resend limits; a notice to show.
    The code is bound to the action and its SMS names it."""
    row = sessions.current()
    ref = action_ref(row)
    wait = codes.resend_wait(account, PURPOSE, action_ref=ref)
    if wait:
        if codes.has_open(account, PURPOSE, ref):
            return _("Mã đã được gửi tới số điện thoại của tài khoản; vui lòng kiểm tra tin nhắn.")
        return _("Vui lòng đợi %(s)s giây rồi yêu cầu gửi lại mã.", s=wait)
    try:
        codes.issue(account, PURPOSE, ref, session_id=row.id, description=action_name())
    except SmsError as error:
        db.session.rollback()
        return str(error)
    db.session.commit()
    return _("Đã gửi mã tới số điện thoại %(phone)s.", phone=phone_hint(account.phone))


def prompt(*, send: bool = False, error: str | None = None, action: str | None = None,
           carried: list[tuple[str, str]] | None = None):
    """The OTP prompt: a fragment swapped in place of the form for htmx, else a full page."""
    account = current_account()
    notice = send_code(account) if send else None
    target_id = (htmx.target() or htmx.trigger()) if htmx.is_htmx() else None
    context = {
        "form": StepUpForm(formdata=None), "error": error, "notice": notice,
        "action": action or request.full_path.rstrip("?"),
        "carried": _carried() if carried is None else carried,
        "totp": totp.enrolled(account), "phone": phone_hint(account.phone),
        "box_id": target_id or "step-up", "hx": bool(target_id),
    }
    if target_id:
        response = make_response(render_template("auth/_step_up.html", **context))
        return htmx.retarget(response, f"#{target_id}", "outerHTML")
    response = make_response(render_template("auth/step_up.html", **context))
    if htmx.is_htmx():  # no element to swap into: the whole page becomes the prompt
        htmx.retarget(response, "body", "innerHTML")
    return response


def outcome_message(outcome: Outcome) -> str:
    if outcome is Outcome.replayed:
        return _("Mã này đã được dùng rồi nên bị từ chối. Hãy đợi mã mới trên ứng dụng xác "
                 "thực. Nếu bạn không vừa dùng mã này, hãy báo ngay cho quản trị viên.")
    if outcome is Outcome.void:
        return _("Mã đã hết hạn hoặc đã hết số lần thử. Vui lòng yêu cầu gửi mã mới.")
    return _("Mã không đúng. Vui lòng kiểm tra lại.")


# -- codes of one action (exports) ----------------------------------------------------------


def issue_action_code(account: Account, purpose: str, action_ref, description: str) -> None:
    """Send a code that confirms exactly one action; the SMS names it (``description``, in
    Vietnamese, e.g. "xuất 1.234 đối tượng của Trạm Y tế ...")."""
    codes.issue(account, purpose, action_ref, description=description)


def verify_action_code(account: Account, purpose: str, action_ref, code: str) -> bool:
    """True only for the unused, unexpired SMS code issued for exactly (purpose, action_ref),
    which is then used up, or a fresh authenticator code (its step then used up). Failures
    count toward the lock-out. The caller commits."""
    if purpose in SESSION_PURPOSES or not (code or "").strip():
        return False
    return check_code(account, purpose, action_ref, code) is Outcome.ok
