"""The `facilities` domain: blueprint at /facilities."""

from flask import Blueprint

bp = Blueprint("facilities", __name__, url_prefix="/facilities")


def init_app(app) -> None:
    from vaxportal.facilities import account_views, views  # noqa: F401  (routes attach to bp)

    app.register_blueprint(bp)
    from vaxportal.facilities import cli

    cli.init_app(app)
