"""The `auth` domain: blueprint at /auth."""

from flask import Blueprint

from vaxportal import audit
from vaxportal.auth import acting
from vaxportal.extensions import login_manager

bp = Blueprint("auth", __name__, url_prefix="/auth")


def init_app(app) -> None:
    # the routes import bp from this module: importing them above would be a cycle
    from vaxportal.auth import expired, sessions, views, views_account  # noqa: F401

    audit.actor_provider(acting.current_actor)
    login_manager.unauthorized_handler(expired.unauthorized)
    app.after_request(sessions.commit_written)
    app.register_blueprint(bp)
