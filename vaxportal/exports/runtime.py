"""What a background job of this domain needs around it: the audit actor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g


@contextmanager
def acting_as(account) -> Iterator[None]:
    """Audit rows written by the job name the account that started it (``job:<username>``);
    restored afterwards, as a job run at once shares the request's ``g``."""
    missing = object()
    previous = g.get("audit_actor", missing)
    g.audit_actor = f"job:{account.username}"
    try:
        yield
    finally:
        if previous is missing:
            g.pop("audit_actor", None)
        else:
            g.audit_actor = previous
