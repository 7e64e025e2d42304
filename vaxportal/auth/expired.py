"""Flask-Login's answer to a request that needs a signed-in account (no session, or one that
timed out, was revoked or ended by a lock).

- htmx: 401 with a short message into the flash region (``HX-Retarget: #flashes``), and a
  link that signs in in a new tab. The form the nurse was filling in is not replaced by the
  sign-in page, so nothing typed is lost; after signing in in the other tab the same form is
  sent again. Each sign-in gets a new CSRF token, so that first resend is refused once with
  the current token in ``X-CSRF-Refresh`` (``web._csrf_error``), which ``app.js`` keeps.
- otherwise: a redirect to the sign-in page whose ``next`` is a page that can be opened
  again: the requested URL for a GET, else the page the form was on (the same-site Referer)
  if it answers GET, else nothing. A POST-only URL as ``next`` would answer 405 after
  sign-in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, make_response, redirect, render_template, request
from flask_login import login_url
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from vaxportal import htmx
from vaxportal.extensions import login_manager
from vaxportal.urls import safe_next


def unauthorized():
    if htmx.is_htmx():
        return _htmx_answer()
    if login_manager.login_message:
        flash(str(login_manager.login_message), login_manager.login_message_category)
    return redirect(_login_url(_next_target()))


def _htmx_answer():
    url = _login_url(_page_of(htmx.current_url()))
    response = make_response(render_template("auth/_session_expired.html", login_url=url), 401)
    return htmx.retarget(response, "#flashes", "innerHTML")


def _login_url(next_url: str | None) -> str:
    return login_url(login_manager.login_view, next_url=next_url)


def _next_target() -> str | None:
    if request.method in ("GET", "HEAD"):
        return safe_next(request.full_path.rstrip("?"))
    return _page_of(request.referrer)


def _page_of(url: str | None) -> str | None:
    """The local path (and query) of ``url`` when it is on this site and answers GET."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    target = safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
    return target if target and _answers_get(parts.path) else None


def _answers_get(path: str) -> bool:
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:  # the same page with or without its trailing slash
        return True
    except HTTPException:  # 404, or 405: a POST-only URL
        return False
    return True
