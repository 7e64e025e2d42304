"""Platform-wide routes: health check, the home page, the language switch."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

from vaxportal import demo, renderguard
from vaxportal.auth.current import current_account
from vaxportal.extensions import db, limiter
from vaxportal.facilities.approvals import count_waiting_for
from vaxportal.i18n import LANG_COOKIE
from vaxportal.policy import Perm, may
from vaxportal.urls import safe_next

bp = Blueprint("core", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", db="unreachable"), 503
    return jsonify(status="ok", db="ok")


@bp.get("/favicon.ico")
@limiter.exempt
def favicon():
    """Browsers ask the root for it, IE11 whatever the page says."""
    return current_app.send_static_file("favicon.ico")


@bp.get("/")
def home():
    if current_account() is None:
        return redirect(url_for("auth.login"))
    return render_template("home.html")


@bp.post("/lang")
def set_language():
    lang = request.form.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        raise BadRequest()
    response = redirect(safe_next(request.form.get("next")) or url_for("core.home"), 303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax",
                        httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


# (endpoint, label, permission): the navigation shows what the account may open.
NAV = (
    ("recipients.index", _l("Đối tượng tiêm"), Perm.read_recipients),
    ("recipients.lots_index", _l("Sổ lô vắc xin"), Perm.record_doses),
    ("recipients.duplicates", _l("Nghi trùng"), Perm.resolve_duplicates),
    ("reports.index", _l("Báo cáo"), Perm.read_reports),
    ("reports.daily_index", _l("Số liệu ngày"), Perm.read_reports),
    ("exports.index", _l("Xuất / nhập Excel"), Perm.export_recipients),
    ("facilities.index", _l("Cơ sở và tài khoản"), Perm.manage_facilities),
    ("facilities.approvals_list", _l("Chờ phê duyệt"), Perm.decide_account_actions),
    ("audit.index", _l("Nhật ký"), Perm.read_data_audit),
    ("audit.index", _l("Nhật ký"), Perm.read_security_audit),
)


def nav_links() -> list[tuple[str, str]]:
    links, seen = [], set()
    for endpoint, label, perm in NAV:
        if endpoint in seen or endpoint not in current_app.view_functions:
            continue
        if may(perm):
            links.append((endpoint, _counted(endpoint, label)))
            seen.add(endpoint)
    return links


def _counted(endpoint: str, label):
    """The approvals link carries how many requests wait for this account (P2.1)."""
    if endpoint != "facilities.approvals_list":
        return label
    with renderguard.permitted():  # the layout asks it: one statement, on purpose
        count = count_waiting_for(current_account())
    return _("%(label)s (%(n)s)", label=label, n=count) if count else label


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.context_processor(lambda: {"nav_links": nav_links})
    app.cli.add_command(demo.seed_demo_command)
