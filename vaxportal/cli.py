"""The ``vaxportal`` console script: Flask's CLI over ``create_app``."""

from flask.cli import FlaskGroup

from vaxportal import create_app


def main() -> None:
    FlaskGroup(create_app=create_app, help="vaxportal: quản lý tiêm chủng.")()
