"""The ``vaxportal`` console script: Flask's CLI over ``create_app``, with the migrations'
``db`` commands (a web worker's app has none: ``extensions.init_migrations``)."""

from flask.cli import FlaskGroup

from vaxportal import create_app
from vaxportal.extensions import init_migrations


def cli_app():
    app = create_app()
    init_migrations(app)
    return app


def main() -> None:
    FlaskGroup(create_app=cli_app, help="vaxportal: quản lý tiêm chủng.")()
