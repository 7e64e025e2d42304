"""Recording access and account events (the data-change rows come from the session hook).

Who is acting comes from ``actors`` (the provider auth registers), never from a domain model.
"""

from __future__ import annotations

from vaxportal.audit import actors
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db


def record(action: str, *, category: str, entity: str | None = None, entity_id=None,
           facility_id: int | None = None, details: dict | None = None, account=None) -> None:
    """Add an access/account event to the current transaction (chained at the next flush);
    ``account`` (an account or its id) when the actor is not the one signed in now."""
    db.session.add(AuditEvent(
        category=category, action=action, entity=entity,
        entity_id=None if entity_id is None else str(entity_id), facility_id=facility_id,
        details=details, **actors.columns(account),
    ))
