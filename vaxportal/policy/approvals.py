"""Two people for access (P2.1): who decides a pending account action."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.facilities.models import PendingAction
from vaxportal.policy.roles import Perm, has_perm, is_admin

#: pending actions a second admin decides; a delegation is decided by the data owner
DELEGATION = "delegate"


def decidable(stmt: sa.Select, account: Account | None = None) -> sa.Select:
    """Restrict a query on ``PendingAction`` to those the account may approve or refuse:
    undecided ones, never its own request; an admin decides issues, hand-overs and role or
    phone changes; a delegation is decided by the delegated facility's own account (the data
    owner)."""
    account = current_account() if account is None else account
    if not has_perm(account, Perm.decide_account_actions):
        return stmt.where(sa.false())
    stmt = stmt.where(PendingAction.status == "pending",
                      PendingAction.requested_by_id != account.id)
    if is_admin(account):
        return stmt.where(PendingAction.kind != DELEGATION)
    return stmt.where(PendingAction.kind == DELEGATION,
                      PendingAction.facility_id == account.facility_id)


def get_decidable_or_404(pending_id: int, account: Account | None = None) -> PendingAction:
    """One pending action the account may decide; any other answers 404."""
    stmt = decidable(sa.select(PendingAction).where(PendingAction.id == pending_id), account)
    obj = db.session.scalar(stmt)
    if obj is None:
        abort(404)
    return obj
