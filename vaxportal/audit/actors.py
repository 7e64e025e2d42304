"""Who is acting, as an audit row names it (P2.4: every edit tied to the account that made it).

The trail knows no account model. The domain that signs people in registers one provider
(``actor_provider(fn)``, done by ``auth.init_app``): ``fn(account, load=...)`` answers the
``Actor`` for ``account`` (an account or its id, named by the caller of ``record``) or, when
``account`` is None, for whoever acts now (the signed-in account, or the account a background
job runs for), and None when nobody is signed in. ``load=False`` (from inside a flush) must
not load the signed-in account, which may itself write to the database.

Without an account the row names the client (``anonymous``), the job (``job:<username>``,
set by ``acting_as``) or the console (``console:<OS user>``). The address and the request id
come from the request.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import g, has_app_context, has_request_context, request


@dataclass(frozen=True)
class Actor:
    account_id: int
    username: str
    custodian_id: int | None = None
    session_id: int | None = None
    facility_id: int | None = None  # the account's own facility (refused requests)


Provider = Callable[..., Actor | None]

_provider: list[Provider] = []

#: ``g`` key of a background job's label (``job:<username>``)
_JOB_LABEL = "audit_actor"


def actor_provider(fn: Provider) -> Provider:
    """Register the one function that names the acting account (usable as a decorator)."""
    _provider[:] = [fn]
    return fn


def actor(account=None, *, load: bool = True) -> Actor | None:
    """The acting account as the provider names it (None: no account acts)."""
    return _provider[0](account, load=load) if _provider else None


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    """Rows written in this block name ``label`` (a background job: ``job:<username>``); restored
    afterwards, as a job run at once shares the request's ``g``."""
    missing = object()
    previous = g.get(_JOB_LABEL, missing)
    setattr(g, _JOB_LABEL, label)
    try:
        yield
    finally:
        if previous is missing:
            g.pop(_JOB_LABEL, None)
        else:
            setattr(g, _JOB_LABEL, previous)


def job_label() -> str | None:
    """The label ``acting_as`` set, if any (providers read it to find the job's account)."""
    return g.get(_JOB_LABEL) if has_app_context() else None


def columns(account=None, *, load: bool = True) -> dict:
    """The actor columns of an audit row: account, custodian, session, name, address and
    request id."""
    found = actor(account, load=load)
    ctx: dict = {"ip": None, "request_id": None}
    if has_request_context():
        ctx.update(ip=request.remote_addr, request_id=g.get("request_id"))
    if found is not None:
        ctx.update(account_id=found.account_id, custodian_id=found.custodian_id,
                   session_id=found.session_id,
                   actor=job_label() or f"account:{found.username}")
    else:
        name = "anonymous" if has_request_context() else job_label() or f"console:{_os_user()}"
        ctx.update(account_id=None, custodian_id=None, session_id=None, actor=name)
    return ctx


@functools.cache
def _os_user() -> str:
    """The operating system's user running a console command (read once: it is the
    process's own)."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"
