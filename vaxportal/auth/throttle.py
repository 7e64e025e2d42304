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
"""

from __future__ import annotations

from flask import current_app, request

from vaxportal.auth import lockout, sessions
from vaxportal.extensions import limiter


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _otp_limit() -> str:
    return current_app.config["OTP_RATE_LIMIT"]


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
