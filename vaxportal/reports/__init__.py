"""The `reports` domain: coverage against target populations, and who is due for a dose
(blueprint at /reports, permission ``read_reports``)."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")


def init_app(app) -> None:
    from vaxportal.reports import summary, target_views, views  # noqa: F401  (routes attach to bp)

    app.register_blueprint(bp)
    summary.install()
    app.cli.add_command(summary.cli)
