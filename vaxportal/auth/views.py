"""Views of the auth blueprint: sign-in (password, then a code, P3.4), the first sign-in
(activation P3.2, forced password change P4.3b), the authenticator app, sessions, step-up."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from vaxportal import htmx, policy
from vaxportal.auth import bp, codes, sessions, signin, stepup
from vaxportal.auth.codes import Outcome
from vaxportal.auth.current import current_account
from vaxportal.auth.forms import LoginForm, OtpForm, PasswordChangeForm
from vaxportal.auth.throttle import limited, login_limits, otp_limits
from vaxportal.auth.verification import check_code
from vaxportal.extensions import db
from vaxportal.sms import SmsError
from vaxportal.timeutil import format_datetime
from vaxportal.urls import safe_next

#: what an account that must change its initial password may still reach (P4.3b)
#: (the language switch too: the forced change must be readable in the chosen language)
GATE_OPEN = frozenset({"auth.password", "auth.logout", "core.set_language", "static"})


@bp.before_app_request
def _initial_password_gate():
    """Nothing but the password change is reachable until the initial password is changed."""
    if request.endpoint in GATE_OPEN or current_account() is None:
        return None
    if current_account().must_change_password:
        return htmx.redirect_to(url_for("auth.password"))
    return None


# -- password, then code ------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limited(login_limits)
def login():
    if current_account() is not None:
        return redirect(url_for("core.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    verdict = signin.check_password(form.username.data, form.password.data)
    account = verdict.account
    if account is None:
        db.session.commit()  # the failure count and the audit row
        form.password.errors.extend(_refusal_messages(verdict))
        return render_template("auth/login.html", form=form)
    try:
        signin.start_code_step(account, safe_next(form.next.data))
    except SmsError as error:
        db.session.rollback()
        sessions.forget()
        form.password.errors.append(str(error))
        return render_template("auth/login.html", form=form)
    db.session.commit()
    return redirect(url_for("auth.otp"), 303)


def _refusal_messages(verdict: signin.Verdict) -> list[str]:
    """What the sign-in page says: a wait says until when, whatever the username (the
    typed username and the address wait alike, known or not); only the right password
    learns that its account is locked."""
    if verdict.refusal is signin.Refusal.wait:
        return [wait_message(verdict.until)]
    if verdict.refusal is signin.Refusal.locked:
        return [_("Tài khoản đang bị khoá đến %(time)s vì nhập sai mã nhiều lần. Vui lòng "
                  "thử lại sau thời điểm đó hoặc đề nghị quản trị viên mở khoá.",
                  time=format_datetime(verdict.until))]
    messages = [_refusal_message(verdict.refusal)]
    if verdict.until is not None:
        messages.append(wait_message(verdict.until))
    return messages


def wait_message(until) -> str:
    return _("Đã nhập sai quá nhiều lần. Vui lòng thử lại sau %(time)s.",
             time=format_datetime(until))


def _refusal_message(refusal: signin.Refusal) -> str:
    if refusal is signin.Refusal.revoked:
        contact = current_app.config.get("ACCOUNT_CONTACT") or _(
            "Phòng Công nghệ thông tin của Bộ Y tế (đơn vị cấp tài khoản)")
        return _("Tài khoản này đã bị thu hồi và không thể đăng nhập nữa. Nếu đơn vị vẫn cần "
                 "tài khoản, người đứng đầu đơn vị gửi văn bản đề nghị tới %(contact)s.",
                 contact=contact)
    if refusal is signin.Refusal.initial_expired:
        return _("Mật khẩu ban đầu đã hết hạn vì chưa được đổi kịp thời. Vui lòng gửi văn bản "
                 "đề nghị quản trị viên cấp lại mật khẩu (P4.3c).")
    return generic_refusal()


def generic_refusal() -> str:
    return _("Tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản đang tạm khoá. Lưu ý: "
             "nhập sai nhiều lần liên tiếp sẽ khoá tài khoản trong một thời gian.")


def _otp_row():
    row = sessions.current()
    return row if row is not None and row.stage == "otp" else None


def _back_to_login(message: str | None = None):
    if current_account() is not None:
        # Signed in already (the Back button to the code step): go home, as the sign-in page
        # does; dropping only the cookie would leave the session open on the server.
        return redirect(url_for("core.home"))
    sessions.forget()
    flash(message or _("Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."), "warning")
    return redirect(url_for("auth.login"), 303)


@bp.route("/otp", methods=["GET", "POST"])
@limited(otp_limits)
def otp():
    row = _otp_row()
    if row is None:
        return _back_to_login()
    account, form = row.account, OtpForm()
    purpose = signin.code_purpose(account)
    if form.validate_on_submit():
        outcome = check_code(account, purpose, row.id, form.code.data,
                             totp_allowed=purpose == "login")
        if outcome is Outcome.ok:
            signin.complete_sign_in(account, row, purpose)
            db.session.commit()
            return redirect(_after_sign_in(account), 303)
        db.session.commit()
        db.session.refresh(account)
        if account.is_locked():
            return _back_to_login(generic_refusal())
        form.code.errors.append(stepup.outcome_message(outcome))
    return render_template("auth/otp.html", form=form, purpose=purpose,
                           method=session.get("otp_method", "sms"),
                           phone=policy.phone_hint(account.phone),
                           open_code=codes.has_open(account, purpose, row.id))


def _after_sign_in(account) -> str:
    if account.must_change_password:
        return url_for("auth.password")
    return safe_next(session.pop("next", None)) or url_for("core.home")


@bp.post("/otp/resend")
@limited(otp_limits)
def resend():
    """Another SMS code (at most one a minute, OTP_RESEND_PER_HOUR an hour); also the
    "send by SMS instead" of an account that uses an authenticator app."""
    row = _otp_row()
    if row is None:
        return _back_to_login()
    account = row.account
    purpose = signin.code_purpose(account)
    wait = codes.resend_wait(account, purpose)
    if wait:
        flash(_("Vui lòng đợi %(s)s giây rồi yêu cầu gửi lại mã.", s=wait), "warning")
        return redirect(url_for("auth.otp"), 303)
    try:
        codes.issue(account, purpose, row.id, session_id=row.id)
    except SmsError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("auth.otp"), 303)
    session["otp_method"] = "sms"
    db.session.commit()
    flash(_("Đã gửi mã mới tới số điện thoại %(phone)s.",
            phone=policy.phone_hint(account.phone)), "info")
    return redirect(url_for("auth.otp"), 303)


# -- the password change (P4.3b) ------------------------------------------------------------


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    account = current_account()
    forced = account.must_change_password
    form = PasswordChangeForm()
    if forced:
        del form.current_password
    if form.validate_on_submit() and _password_form_ok(account, form, forced):
        signin.change_password(account, form.new_password.data, sessions.current().id)
        db.session.commit()
        flash(_("Đã đổi mật khẩu. Các phiên đăng nhập khác của tài khoản đã được kết thúc."),
              "success")
        if forced and not account.totp_secret:
            return redirect(url_for("auth.totp"), 303)
        return redirect(url_for("core.home"), 303)
    return render_template("auth/password.html", form=form, forced=forced)


def _password_form_ok(account, form, forced: bool) -> bool:
    verdict = None if forced else signin.recheck_password(account, form.current_password.data)
    if verdict is not None and verdict.account is None:
        db.session.commit()  # the failure count
        if verdict.refusal is not signin.Refusal.wait:
            form.current_password.errors.append(_("Mật khẩu hiện tại không đúng."))
        if verdict.until is not None:
            form.current_password.errors.append(wait_message(verdict.until))
        return False
    problems = signin.password_problems(account, form.new_password.data)
    form.new_password.errors.extend(problems)
    return not problems


# -- sessions -----------------------------------------------------------------------------


@bp.post("/logout")
def logout():
    row = sessions.current()
    if row is not None:
        sessions.close(row, "logout", account=row.account)
        db.session.commit()
    sessions.forget()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"), 303)


# -- step-up for GET pages (the prompt of fresh_otp_required) --------------------------------


@bp.route("/step-up", methods=["GET", "POST"])
@login_required
@limited(otp_limits)
def step_up():
    """The prompt for a page opened by GET: the code, then back to ``next``."""
    next_url = safe_next(request.values.get("next")) or url_for("core.home")
    carried = [("next", next_url)]
    if stepup.is_fresh():
        return htmx.redirect_to(next_url)
    if request.method == "GET" or request.form.get("stepup_resend"):
        return stepup.prompt(send=request.method == "POST", action=url_for("auth.step_up"),
                             carried=carried)
    code = request.form.get("stepup_code", "").strip()
    if not code:
        return stepup.prompt(error=stepup.EMPTY_CODE, action=url_for("auth.step_up"),
                             carried=carried)
    outcome = stepup.verify_step_up(code)
    if outcome is Outcome.ok:
        return htmx.redirect_to(next_url)
    return stepup.refused(outcome, action=url_for("auth.step_up"), carried=carried)

