"""Refused access is traced too (P2.4): every permission refusal and every other 403 answer
becomes an access event. Above the domains: it listens to the policy's signal."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import g, has_request_context, request

from vaxportal.audit import actors
from vaxportal.audit.events import record
from vaxportal.extensions import db
from vaxportal.policy import permission_refused

log = logging.getLogger(__name__)


def connect(app) -> None:
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
        actor = actors.actor(load=False)
        record("permission_refused" if refusal else "forbidden", category="access",
               facility_id=actor.facility_id if actor is not None else None,
               details=refusal or {"endpoint": request.endpoint},
               account=actor.account_id if actor is not None else None)
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not record a refusal (%s, request %s)", type(error).__name__,
                  g.get("request_id"))
    return response
