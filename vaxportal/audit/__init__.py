"""The audit trail (P2.4), on the ground floor: every domain writes to it, it imports none.

The core (this package's ``models``, ``registry``, ``actors``, ``chain``, ``checkpoint``,
``hook``, ``events``, ``integrity`` and ``cli``) knows no domain: each domain marks its own
models with ``@audit.audited(...)`` where it defines them, and auth names who is acting
through ``audit.actor_provider(fn)``. The reading side (``views``, ``forms``, ``labels``,
``person_filter``, ``present``, ``refusals``) sits above the domains and plugs in with
``views.init_app``.
"""

from vaxportal.audit import cli, hook
from vaxportal.audit.actors import Actor, acting_as, actor_provider, job_label
from vaxportal.audit.events import record
from vaxportal.audit.registry import audited

__all__ = ["Actor", "acting_as", "actor_provider", "audited", "init_app", "job_label", "record"]


def init_app(app) -> None:
    """The session hook, the bypass guard and ``vaxportal audit ...``."""
    hook.install(app)
    app.cli.add_command(cli.audit_cli)
