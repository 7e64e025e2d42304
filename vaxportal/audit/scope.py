"""Who reads which audit rows (P2.1, P2.4), built on the policy's permissions and scope.

* ``Perm.read_data_audit`` (supervisors, reviewers): data events (changes of recipients,
  doses, duplicates, and access to them: identity views, look-ups, exports, imports) whose
  facility lies in the account's scope (its subtree), plus catalogue rows.
* ``Perm.read_security_audit`` (admins): account and security events only (sign-ins, codes,
  locks, refusals, the account lifecycle, the facility tree). Never a data row, so never a
  recipient's value.
"""

from __future__ import annotations

import sqlalchemy as sa

from vaxportal.audit import registry
from vaxportal.audit.models import AuditEvent
from vaxportal.policy import Perm, has_perm, scope_facility_ids

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
        in_scope = sa.or_(AuditEvent.facility_id.in_(scope_facility_ids(account)),
                          sa.and_(AuditEvent.facility_id.is_(None),
                                  AuditEvent.entity.in_(sorted(registry.SHARED_ENTITIES))))
        allowed.append(sa.and_(is_data(), in_scope))
    if has_perm(account, Perm.read_security_audit):
        allowed.append(is_security())
    return sa.or_(*allowed) if allowed else sa.false()


def sees_data(account) -> bool:
    return has_perm(account, Perm.read_data_audit)
