"""Who may do what, to which data: the ONE place that answers it.

* ``roles``: the role -> permission table, ``permission_required``, named role predicates;
* ``scope``: the per-request ``Scope`` (``scope()``) and the thin functions over it;
* ``identity``: who sees identifiers in full, the one masked form, the masked fields;
* ``delegation``: who may receive a delegation, for which facility, which are active;
* ``approvals``: who decides a pending account action;
* ``audit_scope``: which audit rows a reader sees (imported by name, not re-exported).

Views stack ``permission_required`` and pass queries through the scope; no other module
compares a role or builds a scope condition (``tests/test_structure.py`` checks it).
"""

from __future__ import annotations

from flask import Flask

from vaxportal.policy import delegation
from vaxportal.policy.approvals import DELEGATION, decidable, get_decidable_or_404
from vaxportal.policy.identity import (
    MASKED_FIELDS,
    mask_field,
    mask_identifier,
    phone_hint,
    sees_contact_phone,
    sees_full_identity,
    shown_identifier,
)
from vaxportal.policy.roles import (
    ADMIN_KINDS,
    DATA_PERMS,
    ROLE_PERMS,
    SUBTREE_ROLES,
    Perm,
    any_permission_required,
    has_perm,
    has_subtree_scope,
    is_admin,
    is_role,
    may,
    may_confirm_day,
    permission_refused,
    permission_required,
    role_fits_facility,
)
from vaxportal.policy.scope import (
    Scope,
    at_or_below,
    forget_scopes,
    get_in_scope_or_404,
    get_own_or_404,
    in_scope,
    scope,
    scope_facility_ids,
    scope_loader,
    scoped,
)

__all__ = [
    "ADMIN_KINDS", "DATA_PERMS", "DELEGATION", "MASKED_FIELDS", "ROLE_PERMS",
    "SUBTREE_ROLES", "Perm", "Scope", "any_permission_required", "at_or_below", "decidable",
    "delegation",
    "forget_scopes", "get_decidable_or_404", "get_in_scope_or_404", "get_own_or_404",
    "has_perm", "has_subtree_scope", "in_scope", "init_app", "is_admin", "is_role",
    "mask_field", "mask_identifier", "may", "may_confirm_day", "permission_refused",
    "permission_required",
    "phone_hint", "role_fits_facility", "scope", "scope_facility_ids", "scope_loader",
    "scoped", "sees_contact_phone", "sees_full_identity", "shown_identifier",
]


def init_app(app: Flask) -> None:
    """Templates ask the policy, never compare a role: these are their names for it."""
    app.jinja_env.globals.update(
        Perm=Perm, has_perm=may, shown_id=shown_identifier, mask_id=mask_identifier,
        may_receive_delegation=delegation.may_receive_delegation,
        delegation_state=delegation.state,
    )
