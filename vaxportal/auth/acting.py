"""Who is acting, for the audit trail (P2.4): auth's answer to ``audit.actor_provider``.

* a web request: the signed-in account (the one Flask-Login loaded, or the request's
  session row at stage ``full``), the custodian holding it now and its session;
* a background job: the account that started it (``g.audit_account``, an account or its id,
  or the ``job:<username>`` label that ``audit.acting_as`` sets);
* otherwise nobody (the trail names the console).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_app_context, has_request_context

from vaxportal.audit import Actor, job_label
from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account
from vaxportal.extensions import db


def current_actor(account=None, *, load: bool = True) -> Actor | None:
    """The ``Actor`` for ``account`` (an Account or its id), or for whoever acts now."""
    account = _as_account(account)
    if account is None and has_request_context():
        account = _request_account(load)
    if account is None and has_app_context():
        account = _job_account()
    if account is None:
        return None
    row = g.get("user_session") if has_request_context() else None
    custodian = account.current_custodian
    return Actor(account_id=account.id, username=account.username,
                 custodian_id=custodian.id if custodian else None,
                 session_id=row.id if row is not None and row.account_id == account.id
                 else None,
                 facility_id=account.facility_id)


def _request_account(load: bool) -> Account | None:
    """The signed-in account of this request, if known (``load``: may load it now)."""
    if "_login_user" in g:  # Flask-Login already loaded it
        user = g._login_user
        return user if getattr(user, "is_authenticated", False) else None
    row = g.get("user_session")
    if row is not None and row.stage == "full" and row.ended_at is None:
        return row.account
    return current_account() if load else None


def _job_account() -> Account | None:
    """A background job acts as the account that started it."""
    account = g.get("audit_account")
    label = job_label() or ""
    if account is not None or not label.startswith("job:"):
        return _as_account(account)
    username = label.split(":", 1)[1]
    cached = g.get("_audit_job_account")
    if cached is None or cached.username != username:
        with db.session.no_autoflush:
            cached = db.session.scalar(sa.select(Account).where(Account.username == username))
        g._audit_job_account = cached
    return cached


def _as_account(account) -> Account | None:
    if account is None or hasattr(account, "username"):  # an Account, or the current_user proxy
        return account
    return db.session.get(Account, int(account))
