"""The `facilities` domain: blueprint at /facilities."""

from flask import Blueprint

bp = Blueprint("facilities", __name__, url_prefix="/facilities")


def init_app(app) -> None:
    # the routes import bp from this module: importing them at the top would be a cycle
    from vaxportal.facilities import (  # noqa: F401  (routes attach to bp)
        account_views,
        approval_views,
        approvals,
        cli,
        views,
    )

    app.register_blueprint(bp)
    approvals.init_app(app)
    cli.init_app(app)
