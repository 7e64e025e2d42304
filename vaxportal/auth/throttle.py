"""Flask-Limiter limits of the sign-in and one-time-code entry points (P3.4).

``login_limits`` throttle the password form per address and per typed username (a browser
that has signed in to that username before has its own count);
``otp_limits`` throttle every POST that checks or sends a one-time code per address and per
account (the session's): the sign-in code and its resend, the step-up prompt (``/auth/step-up``
and the code posted back to a ``fresh_otp_required`` view) and an export's own code. A
throttled request answers 429 (the Vietnamese error page) before any code is looked at. The
lock-out counters (``lockout``) count wrong codes on top of this.

Use ``@otp_throttled`` (or ``@limited(otp_limits)``) under the route and permission
decorators. Each decorated function keeps its own counters per endpoint.

Look-ups of people by what a user types are throttled per account too (P1): the register's
national-ID field check (``field_check_limits``), registration (``register_limits``) and the
cross-facility look-up (``lookup_limits``), so a signed-in account cannot probe the platform
for who is registered where.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, request
from flask_limiter import RateLimitExceeded

from vaxportal.auth import lockout, sessions
from vaxportal.extensions import limiter


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _otp_limit() -> str:
    return current_app.config["OTP_RATE_LIMIT"]


def _field_check_limit() -> str:
    return current_app.config["FIELD_CHECK_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _lookup_limit() -> str:
    return current_app.config["LOOKUP_RATE_LIMIT"]


def _username_key() -> str:
    """Per typed username; a browser that has signed in to it before counts apart, so that
    an attacker hammering a username never holds the holder up there (``lockout``)."""
    username = request.form.get("username") or ""
    device = lockout.known_browser(username)
    return "username:" + username.strip().lower()[:64] + (f":browser:{device}" if device else "")


def _session_account_key() -> str:
    row = sessions.current()
    return f"account:{row.account_id if row else '-'}"


login_limits = (limiter.limit(_login_limit, methods=["POST"]),
                limiter.limit(_login_limit, key_func=_username_key, methods=["POST"]))
otp_limits = (limiter.limit(_otp_limit, methods=["POST"]),
              limiter.limit(_otp_limit, key_func=_session_account_key, methods=["POST"]))


def _not_an_id_check() -> bool:
    """Only the national-ID field looks anyone up; the other fields' checks are not counted."""
    return (request.view_args or {}).get("name") != "national_id"


field_check_limits = (limiter.limit(_field_check_limit, key_func=_session_account_key,
                                    methods=["POST"], exempt_when=_not_an_id_check),)
register_limits = (limiter.limit(_register_limit, key_func=_session_account_key,
                                 methods=["POST"]),)
lookup_limits = (limiter.limit(_lookup_limit, key_func=_session_account_key,
                               methods=["POST"]),)


def limited(limits):
    """Apply several Flask-Limiter limits to one function (a view or a helper of one)."""

    def decorate(view):
        for limit in reversed(limits):
            view = limit(view)
        return view

    return decorate


def otp_throttled(view):
    """The OTP limits, per address and per account, on a view that takes a one-time code."""
    return limited(otp_limits)(view)


def limited_or(limits, refused):
    """Like ``limited``, but a request over a limit is answered by ``refused(*args, **kwargs)``
    instead of the 429 error page: a form can then come back with what was typed and a
    message (the view is not run)."""

    def decorate(view):
        counted = limited(limits)(view)

        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                return counted(*args, **kwargs)
            except RateLimitExceeded:
                return refused(*args, **kwargs)

        return wrapped

    return decorate
