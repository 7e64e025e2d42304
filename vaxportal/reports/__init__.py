"""The `reports` domain: coverage against target populations, who is due for a dose, and the
daily report (blueprint at /reports, permission ``read_reports``)."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")


def init_app(app) -> None:
    # routes attach to bp
    from vaxportal.reports import daily_views, summary, target_views, views  # noqa: F401

    app.register_blueprint(bp)
    summary.install()
    app.cli.add_command(summary.cli)
