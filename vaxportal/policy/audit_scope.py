"""Who reads which audit rows (P2.1, P2.4), built on the permissions and the scope.

* ``Perm.read_data_audit`` (supervisors, reviewers): data events (changes of recipients,
  doses, duplicates, and access to them: identity views, look-ups, exports, imports) whose
  facility lies in the account's scope (its subtree), plus catalogue rows.
* ``Perm.read_security_audit`` (admins): account and security events only (sign-ins, codes,
  locks, refusals, the account lifecycle, the facility tree). Never a data row, so never a
  recipient's value.

Imported as ``vaxportal.policy.audit_scope`` (not re-exported by ``vaxportal.policy``: the
audit's models import nothing of the policy, and the policy's other modules need no audit).
"""

from __future__ import annotations

import sqlalchemy as sa

from vaxportal.audit import registry
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account
from vaxportal.facilities.models import Delegation
from vaxportal.policy.roles import Perm, has_perm
from vaxportal.policy.scope import scope

READ_PERMS = (Perm.read_data_audit, Perm.read_security_audit)


def is_security():
    return sa.or_(
        AuditEvent.category == "account",
        sa.and_(AuditEvent.category == "access",
                sa.or_(AuditEvent.entity.is_(None),
                       AuditEvent.entity.in_(sorted(registry.SECURITY_ENTITIES)))),
    )


def is_data():
    return sa.or_(
        AuditEvent.category == "data",
        sa.and_(AuditEvent.category == "access", AuditEvent.entity.is_not(None),
                AuditEvent.entity.not_in(sorted(registry.SECURITY_ENTITIES))),
    )


def can_read(account) -> bool:
    return any(has_perm(account, perm) for perm in READ_PERMS)


def visible(account):
    """The WHERE clause of the audit rows ``account`` may read (false when none)."""
    allowed = []
    if has_perm(account, Perm.read_data_audit):
        in_scope = sa.or_(scope(account).condition(AuditEvent.facility_id),
                          sa.and_(AuditEvent.facility_id.is_(None),
                                  AuditEvent.entity.in_(sorted(registry.SHARED_ENTITIES))))
        allowed.append(sa.and_(is_data(), in_scope))
    if has_perm(account, Perm.read_security_audit):
        allowed.append(is_security())
    return sa.or_(*allowed) if allowed else sa.false()


def sees_data(account) -> bool:
    return has_perm(account, Perm.read_data_audit)


def visible_people(stmt: sa.Select, account) -> sa.Select:
    """Restrict a query joining ``Account`` to the accounts whose rows the reader may see:
    every account for the security audit; for the data audit, the accounts of the reader's
    scope and those ever delegated into it."""
    if has_perm(account, Perm.read_security_audit):
        return stmt
    ids = scope(account).ids
    delegated = sa.select(Delegation.account_id).where(Delegation.facility_id.in_(ids))
    return stmt.where(sa.or_(Account.facility_id.in_(ids), Account.id.in_(delegated)))
