"""Who is asking: the ONE reader of the signed-in account."""

from __future__ import annotations

from flask_login import current_user

from vaxportal.auth.models import Account


def current_account() -> Account | None:
    """The signed-in account (the model object, not Flask-Login's proxy), or None."""
    if not current_user or not current_user.is_authenticated:
        return None
    return current_user._get_current_object()
