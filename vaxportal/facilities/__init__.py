"""The `facilities` domain: blueprint at /facilities."""

from flask import Blueprint

bp = Blueprint("facilities", __name__, url_prefix="/facilities")


def init_app(app) -> None:
    from vaxportal.facilities import (  # noqa: F401  (routes attach to bp)
        account_views,
        approval_views,
        approvals,
        views,
    )

    app.register_blueprint(bp)
    approvals.init_app(app)
    from vaxportal.facilities import cli

    cli.init_app(app)
