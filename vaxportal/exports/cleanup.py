"""Files of exports and imports, and stored search terms, are personal data at rest:
deleted when their time is up.

Never run by a page (a GET changes nothing). It runs as a scheduled background job
(``jobs.schedule``: every ``CLEANUP_EVERY_MINUTES`` on the worker, or from the web process
when jobs run in threads) and as ``vaxportal cleanup`` (cron / a systemd timer).
Until it runs, an expired file is already refused (``exporting.downloadable``).
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from vaxportal import jobs
from vaxportal.exports import exporting, importing
from vaxportal.extensions import db
from vaxportal.recipients import search
from vaxportal.timeutil import utcnow

#: a running job that has not saved progress for this long is taken as dead
STALE_MINUTES = 30
JOB = "vaxportal.exports.cleanup.run"


def init_app(app) -> None:
    app.cli.add_command(cleanup_command)
    jobs.schedule(app, JOB, every_minutes=int(app.config["CLEANUP_EVERY_MINUTES"]))


def sweep(now=None) -> dict[str, int]:
    """Expire files and stored searches and mark dead jobs failed; changes the session,
    does not commit."""
    now = now or utcnow()
    stale = timedelta(minutes=int(current_app.config.get("JOB_STALE_MINUTES", STALE_MINUTES)))
    return {
        "exports_expired": exporting.expire_exports(now),
        "exports_abandoned": exporting.fail_abandoned_exports(now, stale),
        "imports_expired": importing.expire_imports(now),
        "imports_abandoned": importing.fail_abandoned_imports(now, stale),
        "searches_expired": search.expire_searches(now),
    }


def run() -> dict[str, int]:
    """The background job and the command: one sweep, one commit (not a request's)."""
    done = sweep()
    db.session.commit()
    return done


@click.command("cleanup")
@with_appcontext
def cleanup_command() -> None:
    """Xoá tệp xuất, tệp nhập và từ khoá tìm kiếm đã hết hạn; đánh dấu lỗi các tác vụ đã
    ngừng."""
    done = run()
    click.echo(", ".join(f"{key}: {value}" for key, value in done.items()))
