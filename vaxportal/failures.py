"""What a log (or a job queue's record) may say of an unexpected error: its type and where
it was raised, never its message. A database error's message carries the statement's
parameters and, from PostgreSQL, the failing row itself ("Failing row contains ..."):
personal data, which never goes into a log."""

from __future__ import annotations

import traceback


class JobFailed(RuntimeError):
    """A background job failed; raised in place of its error, named by its type only, so
    that the queue's record of the failure (RQ keeps the traceback) holds no message."""


def frames(error: BaseException) -> str:
    """The traceback's frames, without the message."""
    return "".join(traceback.format_tb(error.__traceback__))


def describe(error: BaseException) -> str:
    """The error's type and frames, for a log."""
    return f"{type(error).__name__}\n{frames(error)}"
