"""Alembic environment: the app's engine and metadata, via Flask-Migrate."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from vaxportal.dbsetup import include_name

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
metadata = migrate_ext.db.metadata


def _skip_empty(context_, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def run_offline() -> None:
    context.configure(url=str(migrate_ext.db.engine.url), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    args = dict(migrate_ext.configure_args)
    args.setdefault("process_revision_directives", _skip_empty)
    args.setdefault("compare_type", True)
    args.setdefault("include_name", include_name)  # not the FTS5 tables of EXTRA_DDL
    args.setdefault("render_as_batch", migrate_ext.db.engine.dialect.name == "sqlite")
    with migrate_ext.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, **args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
