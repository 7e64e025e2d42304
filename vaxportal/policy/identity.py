"""Who sees a recipient's identifiers in full, and the ONE masked form of them (P1).

The register's screens, the Excel export and the audit trail all mask through
``mask_field`` / ``mask_identifier``, with the same number of characters kept, so a
reviewer reads the same ``*********789`` everywhere.
"""

from __future__ import annotations

from flask import current_app

from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account
from vaxportal.policy.roles import Perm, has_perm, has_subtree_scope

#: a recipient's identifiers: shown in full only to accounts that need them
MASKED_FIELDS = ("national_id", "insurance_number", "phone")
#: keys of stored search terms and filters (``details["filter"]["q"]``): masked when they
#: hold a digit (an identifier or part of one)
SEARCH_TERM_KEYS = frozenset({"q"})
#: characters of an identifier left visible at its end (a short one keeps one)
KEPT = 3
_KEPT_SHORT = 1
_SHORT = 6


def sees_full_identity(account: Account | None = None) -> bool:
    """Accounts that write recipient data see identifiers in full; read-only accounts
    (reviewers) see them masked unless the platform allows it (REVIEWER_SEES_FULL_IDS).
    The register, the export and the audit trail all ask here."""
    account = current_account() if account is None else account
    return has_perm(account, Perm.write_recipients) or bool(
        current_app.config.get("REVIEWER_SEES_FULL_IDS")
    )


def sees_contact_phone(facility_id: int | None, account: Account | None = None) -> bool:
    """The phone numbers of the people due for a dose, and the identifiers of a person with
    a severe adverse event to follow up: only the data-entry account of their own facility
    calls them; every account above it sees them masked (P1)."""
    account = current_account() if account is None else account
    return (has_perm(account, Perm.write_recipients) and not has_subtree_scope(account)
            and facility_id is not None and facility_id == account.facility_id)


def mask_identifier(value: str | None) -> str:
    """``*********789``: the ONE masked form of an identifier (or of a search term holding
    one), on every screen, in every export and in the audit trail."""
    if not value:
        return ""
    if len(value) < 2:
        return "*" * len(value)
    keep = KEPT if len(value) > _SHORT else _KEPT_SHORT
    return "*" * (len(value) - keep) + value[-keep:]


def mask_field(key: str, value):
    """A stored value under ``key`` as a reader who may not see identifiers reads it:
    identifiers and search terms holding digits masked, nested filters included."""
    if isinstance(value, dict):
        return {k: mask_field(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_field(key, v) for v in value]
    if not isinstance(value, str):
        return value
    if key in MASKED_FIELDS or (key in SEARCH_TERM_KEYS and any(c.isdigit() for c in value)):
        return mask_identifier(value)
    return value


def shown_identifier(value: str | None, account: Account | None = None) -> str:
    """An identifier as ``account`` (default: the signed-in one) may see it."""
    return (value or "") if sees_full_identity(account) else mask_identifier(value)


def phone_hint(phone: str | None) -> str:
    """``•••678``: where a code was sent, told to the account's own holder."""
    return "•••" + (phone or "")[-KEPT:]
