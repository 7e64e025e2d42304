"""What a background job of this domain needs around it: the audit actor."""

from __future__ import annotations

from contextlib import AbstractContextManager

from vaxportal import audit


def acting_as(account) -> AbstractContextManager[None]:
    """Audit rows written by the job name the account that started it (``job:<username>``)."""
    return audit.acting_as(f"job:{account.username}")
