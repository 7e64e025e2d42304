"""The `auth` domain: blueprint at /auth."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")


def init_app(app) -> None:
    from vaxportal.auth import expired, sessions, views, views_account  # noqa: F401  (routes)
    from vaxportal.extensions import login_manager

    login_manager.unauthorized_handler(expired.unauthorized)
    app.after_request(sessions.commit_written)
    app.register_blueprint(bp)
