"""The `exports` domain: blueprint at /exports (Excel export and import, their jobs)."""

from flask import Blueprint

bp = Blueprint("exports", __name__, url_prefix="/exports")


def init_app(app) -> None:
    # the routes import bp from this module: importing them at the top would be a cycle
    from vaxportal.exports import cleanup, import_views, storage, views  # noqa: F401  (routes)

    storage.init_app(app)
    cleanup.init_app(app)
    app.register_blueprint(bp)
