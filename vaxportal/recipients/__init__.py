"""The `recipients` domain: blueprint at /recipients."""

from flask import Blueprint

from vaxportal.demo import EXTRA_SEEDERS
from vaxportal.recipients.demo import seed_recipients

bp = Blueprint("recipients", __name__, url_prefix="/recipients")


def init_app(app) -> None:
    # the routes import bp from this module: importing them at the top would be a cycle
    from vaxportal.recipients import (  # noqa: F401  (routes attach to bp)
        codes_cli,
        dose_views,
        lot_views,
        merge_views,
        review_views,
        scan,
        vaccines,
        views,
    )

    app.register_blueprint(bp)
    scan.init_app(app)
    app.cli.add_command(vaccines.seed_vaccines_command)
    app.cli.add_command(codes_cli.priority_cli)
    app.cli.add_command(codes_cli.codes_cli)
    if seed_recipients not in EXTRA_SEEDERS:
        EXTRA_SEEDERS.append(seed_recipients)
