"""The `audit` domain (P2.4): blueprint at /audit, the session hook, refusals and the CLI."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")


def init_app(app) -> None:
    from vaxportal.audit import cli, events, hook, views  # noqa: F401  (routes attach to bp)

    hook.install(app)
    events.connect_refusals(app)
    app.register_blueprint(bp)
    app.cli.add_command(cli.audit_cli)
