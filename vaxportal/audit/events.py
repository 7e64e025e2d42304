"""Recording access and account events (the data-change rows come from the session hook).

Who is acting:
* a web request: the signed-in account, the custodian holding it now, its session, the client
  address and the request id;
* a background job: the account that started it (``g.audit_account``, or the
  ``g.audit_actor = "job:<username>"`` that ``exports.runtime.acting_as`` sets);
* a console command: ``console:<OS user>``.
"""

from __future__ import annotations

import getpass
import logging

import sqlalchemy as sa
from flask import g, has_app_context, has_request_context, request
from flask_login import current_user

from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db

log = logging.getLogger(__name__)


def actor_context(account=None, *, load_user: bool = True) -> dict:
    """Who is acting: the signed-in account and its custodian, the console, or a job.

    ``load_user=False`` (the session hook) never triggers loading the signed-in account,
    which may itself write to the database; inside a flush that is not allowed.
    """
    if account is None and has_request_context():
        account = _request_account(load_user)
    if account is None and has_app_context():
        account = _job_account()
    ctx: dict = {"ip": None, "request_id": None, "session_id": None}
    if has_request_context():
        ctx.update(ip=request.remote_addr, request_id=g.get("request_id"))
        row = g.get("user_session")
        if row is not None and account is not None and row.account_id == account.id:
            ctx["session_id"] = row.id
    job_actor = g.get("audit_actor") if has_app_context() else None
    if account is not None:
        custodian = account.current_custodian
        ctx.update(account_id=account.id, actor=job_actor or f"account:{account.username}",
                   custodian_id=custodian.id if custodian else None)
    elif has_request_context():
        ctx.update(account_id=None, custodian_id=None, actor="anonymous")
    else:
        ctx.update(account_id=None, custodian_id=None, actor=_background_actor())
    return ctx


def _request_account(load_user: bool):
    """The signed-in account of this request, if known."""
    if "_login_user" in g:  # Flask-Login already loaded it
        user = g._login_user
        return user if getattr(user, "is_authenticated", False) else None
    row = g.get("user_session")
    if row is not None and row.stage == "full" and row.ended_at is None:
        return row.account
    if load_user and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def _job_account():
    """A background job acts as the account that started it."""
    account = g.get("audit_account")
    if account is not None or not str(g.get("audit_actor") or "").startswith("job:"):
        return _as_account(account)
    from vaxportal.auth.models import Account

    username = g.audit_actor.split(":", 1)[1]
    cached = g.get("_audit_job_account")
    if cached is None or cached.username != username:
        with db.session.no_autoflush:
            cached = db.session.scalar(sa.select(Account).where(Account.username == username))
        g._audit_job_account = cached
    return cached


def _as_account(account):
    if account is None or hasattr(account, "username"):
        return account
    from vaxportal.auth.models import Account

    return db.session.get(Account, int(account))


def _background_actor() -> str:
    """A job sets ``g.audit_actor``; otherwise it is the console and the OS user."""
    if has_app_context() and g.get("audit_actor"):
        return g.audit_actor
    return f"console:{_os_user()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def record(action: str, *, category: str, entity: str | None = None, entity_id=None,
           facility_id: int | None = None, details: dict | None = None, account=None) -> None:
    """Add an access/account event to the current transaction (chained at the next flush)."""
    ctx = actor_context(account)
    db.session.add(AuditEvent(
        category=category, action=action, entity=entity,
        entity_id=None if entity_id is None else str(entity_id), facility_id=facility_id,
        details=details, **ctx,
    ))


# -- refusals (P2.4: refused access is traced too) ----------------------------------------

def connect_refusals(app) -> None:
    """Record every permission refusal and every other 403 answer."""
    from vaxportal.policy import permission_refused

    permission_refused.connect(_on_permission_refused)
    app.after_request(_record_forbidden)


def _on_permission_refused(account, permission=None, endpoint=None, **_extra) -> None:
    if has_request_context():
        g.audit_refusal = {"permission": str(permission) if permission else None,
                           "endpoint": endpoint}


def _record_forbidden(response):
    if response.status_code != 403:
        return response
    refusal = g.pop("audit_refusal", None)
    try:
        db.session.rollback()  # nothing half-done in a refused request is kept
        account = _request_account(load_user=False)
        record("permission_refused" if refusal else "forbidden", category="access",
               facility_id=account.facility_id if account is not None else None,
               details=refusal or {"endpoint": request.endpoint}, account=account)
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not record a refusal (%s, request %s)", type(error).__name__,
                  g.get("request_id"))
    return response
