"""The signed-in account's own security pages: the authenticator app and open sessions."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup

from vaxportal.audit import events
from vaxportal.auth import bp, otp, sessions, totp
from vaxportal.auth.current import current_account
from vaxportal.auth.forms import TotpForm
from vaxportal.auth.models import UserSession
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow
from vaxportal.validators import db_id

PENDING_KEY = "totp_pending"  # the secret being enrolled, encrypted, in the signed cookie


# -- authenticator app (TOTP) ---------------------------------------------------------------


def _pending_secret() -> str:
    token = session.get(PENDING_KEY)
    secret = totp.decrypt(token) if token else None
    if not secret:
        secret = otp.new_totp_secret()
        session[PENDING_KEY] = totp.encrypt(secret)
    return secret


def _totp_page(form: TotpForm, status: int = 200):
    account = current_account()
    if totp.enrolled(account):
        return render_template("auth/totp.html", enrolled=True, form=form), status
    secret = _pending_secret()
    uri = otp.provisioning_uri(secret, account.username)
    key = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("auth/totp.html", enrolled=False, form=form, key=key,
                           qr=Markup(otp.qr_svg(uri))), status  # noqa: S704  (segno's SVG)


@bp.route("/totp", methods=["GET", "POST"], endpoint="totp")
@login_required
def totp_page():
    """The offer to use an authenticator app: QR code (inline SVG) and the key as text,
    confirmed with a first code (which is then used up)."""
    if request.method == "POST":
        return _confirm_totp()
    return _totp_page(TotpForm(formdata=None))


@fresh_otp_required
def _confirm_totp():
    account = current_account()
    form = TotpForm()
    if totp.enrolled(account) or not form.validate_on_submit():
        return _totp_page(form)
    if not totp.enrol(account, _pending_secret(), form.code.data):
        form.code.errors.append(_("Mã không đúng. Kiểm tra giờ trên điện thoại và nhập mã "
                                  "đang hiển thị trong ứng dụng."))
        return _totp_page(form)
    session.pop(PENDING_KEY, None)
    events.record("totp_enrolled", category="access", entity="account", entity_id=account.id,
                  facility_id=account.facility_id)
    db.session.commit()
    flash(_("Đã bật xác thực bằng ứng dụng. Lần đăng nhập sau, hãy nhập mã trên ứng dụng."),
          "success")
    return redirect(url_for("core.home"), 303)



@bp.post("/totp/remove")
@login_required
@fresh_otp_required
def totp_remove():
    account = current_account()
    if totp.enrolled(account):
        totp.remove(account)
        events.record("totp_removed", category="access", entity="account",
                      entity_id=account.id, facility_id=account.facility_id)
        db.session.commit()
        flash(_("Đã tắt xác thực bằng ứng dụng; mã sẽ được gửi qua SMS."), "success")
    return redirect(url_for("auth.totp"), 303)


# -- my sessions ---------------------------------------------------------------------------


def _open_sessions(account_id: int) -> list[UserSession]:
    cfg = current_app.config
    now = utcnow()
    return db.session.scalars(
        sa.select(UserSession).where(
            UserSession.account_id == account_id, UserSession.ended_at.is_(None),
            UserSession.stage == "full",
            UserSession.last_seen_at > now - timedelta(minutes=int(cfg["SESSION_IDLE_MINUTES"])),
            UserSession.created_at > now - timedelta(hours=int(cfg["SESSION_ABSOLUTE_HOURS"])),
        ).order_by(UserSession.last_seen_at.desc())
    ).all()


BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
            ("Trident/", "Internet Explorer"), ("MSIE ", "Internet Explorer"),
            ("Safari/", "Safari"))


def browser_name(user_agent: str | None) -> str:
    ua = user_agent or ""
    name = next((label for marker, label in BROWSERS if marker in ua), None)
    if name is None:
        return ua[:60] or _("Không rõ")
    system = next((s for s in ("Windows", "Android", "iPhone", "Mac OS", "Linux") if s in ua),
                  "")
    return f"{name} ({system})" if system else name


@bp.get("/sessions", endpoint="sessions")
@login_required
def sessions_page():
    current = sessions.current()
    rows = _open_sessions(current_account().id)
    return render_template("auth/sessions.html", rows=rows, current_id=current.id,
                           browser_name=browser_name)


@bp.post("/sessions", endpoint="end_sessions")
@login_required
def end_sessions():
    """End one other session (``session_id``) or all the others."""
    current = sessions.current()
    wanted = None
    if "session_id" in request.form:
        try:
            wanted = db_id(request.form["session_id"])
        except ValueError:
            abort(400)  # rubbish must not fall back to ending every other session
    if wanted == current.id:
        wanted = None
    if wanted is not None:
        row = db.session.get(UserSession, wanted)
        ended = 0
        if row is not None and row.account_id == current_account().id and row.ended_at is None:
            sessions.close(row, "ended_by_user")  # recorded, as end_all records
            ended = 1
    else:
        ended = sessions.end_all(current_account().id, "ended_by_user", except_id=current.id)
    db.session.commit()
    flash(_("Đã kết thúc %(n)s phiên đăng nhập khác.", n=ended), "success")
    return redirect(url_for("auth.sessions"), 303)

