"""What every response gets: request id, security headers, no caching, error pages."""

from __future__ import annotations

import logging
import re
import uuid

from flask import g, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from vaxportal import failures, htmx
from vaxportal.auth import sessions
from vaxportal.extensions import db, login_manager
from vaxportal.validators import DbIdConverter

log = logging.getLogger(__name__)

#: scripts, styles and images fall back to default-src: naming them again only costs bytes
CSP = ("default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")

ERROR_TEXT = {
    400: _l("Yêu cầu không hợp lệ. Vui lòng tải lại trang và thử lại."),
    403: _l("Tài khoản của bạn không có quyền thực hiện thao tác này."),
    404: _l("Không tìm thấy trang hoặc dữ liệu bạn yêu cầu."),
    405: _l("Thao tác này không được hỗ trợ tại địa chỉ này."),
    413: _l("Tệp hoặc dữ liệu gửi lên quá lớn."),
    429: _l("Bạn đã thử quá nhiều lần. Vui lòng đợi một lúc rồi thử lại."),
    500: _l("Đã có lỗi ở máy chủ. Dữ liệu của bạn chưa bị thay đổi; vui lòng thử lại sau."),
}
NUL_TEXT = _l("Dữ liệu gửi lên có ký tự không hợp lệ (ký tự NUL). Vui lòng xoá ký tự đó "
              "rồi gửi lại.")


def init_app(app) -> None:
    # before any blueprint adds a route: every <int:...> stays within the id columns' range
    app.url_map.converters["int"] = DbIdConverter
    # a page without the lines and indentation of the template's own {% ... %} tags
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    trusted = {key: int(app.config[f"PROXY_FIX_X_{key.upper()}"])
               for key in ("for", "proto", "host")}
    if any(trusted.values()):
        # The client's address (rate limits, audit) and scheme (HSTS, secure cookies) as the
        # proxy saw them; only as many hops as configured are believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted["for"], x_proto=trusted["proto"],
                                x_host=trusted["host"])
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Vui lòng đăng nhập để tiếp tục.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # server-side sessions do this job
    login_manager.request_loader(sessions.load_user_from_request)
    login_manager.user_loader(lambda _id: None)  # never trust an id from the cookie
    app.before_request(_assign_request_id)
    app.before_request(_refuse_nul_characters)
    app.after_request(_secure_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(Exception, _unexpected_error)


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _has_nul(values) -> bool:
    """A NUL anywhere, or a value that is not text at all (a form part werkzeug could not
    decode stays bytes): neither is something a person typed."""
    return any(_not_typed(key) or any(_not_typed(v) for v in items)
               for key, items in values.lists())


def _not_typed(value) -> bool:
    return not isinstance(value, str) or "\x00" in value


def _refuse_nul_characters():
    """No one types a NUL character and PostgreSQL cannot store one in text: refuse it in the
    path, the query or a form, before a view takes it to the database."""
    if "\x00" in request.path or _has_nul(request.args) or _has_nul(request.form):
        return _render_error(400, NUL_TEXT)
    return None


def _secure_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Request-ID"] = g.get("request_id", "")
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static":
        # Every dynamic page may hold personal data: no browser or proxy keeps it
        # (IE caches XHR GETs otherwise).
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        htmx.vary(response)
        response.vary.add("Cookie")
    return response


def _render_error(code: int, message=None):
    """The error page; for htmx, a message into the flash region (static/js/app.js lets
    htmx swap such an answer), so the form the user was filling in stays as it was."""
    message = message or ERROR_TEXT.get(code, "")
    if htmx.is_htmx():
        response = make_response(render_template("errors/_error.html", code=code,
                                                 message=message), code)
        return htmx.retarget(response, "#flashes", "innerHTML")
    return make_response(render_template("errors/error.html", code=code, message=message), code)


def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    response = _render_error(error.code)
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


#: the header that hands an htmx page its session's current CSRF token (static/js/app.js)
CSRF_REFRESH_HEADER = "X-CSRF-Refresh"


def _csrf_error(error: CSRFError):
    if not htmx.is_htmx():
        return _render_error(400, _l(
            "Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ. Vui lòng tải lại trang và gửi lại."))
    # Each sign-in gets a new token, so a form left open in another tab is refused once; it
    # keeps what was typed and gets the current token (same-origin scripts only can read it).
    response = _render_error(400, _l(
        "Mã bảo vệ của trang đã được làm mới (ví dụ sau khi đăng nhập lại). Những gì bạn đã "
        "nhập vẫn còn: vui lòng bấm gửi lại."))
    response.headers[CSRF_REFRESH_HEADER] = generate_csrf()
    return response


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    db.session.rollback()
    # The frames and the type, never the message (personal data: ``failures``)
    log.error("unhandled %s (request %s)\n%s", type(error).__name__, g.get("request_id"),
              failures.frames(error))
    return _render_error(InternalServerError.code)
