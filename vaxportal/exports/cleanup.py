"""Files of exports and imports are personal data at rest: deleted when their time is up.

Run on access (the exports pages) and by ``vaxportal exports cleanup`` (cron / a timer).
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app

from vaxportal.exports import bp, exporting, importing
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

#: a running job that has not saved progress for this long is taken as dead
STALE_MINUTES = 30


def cleanup(now=None) -> dict[str, int]:
    now = now or utcnow()
    stale = timedelta(minutes=int(current_app.config.get("JOB_STALE_MINUTES", STALE_MINUTES)))
    done = {
        "exports_expired": exporting.expire_exports(now),
        "exports_abandoned": exporting.fail_abandoned_exports(now, stale),
        "imports_expired": importing.expire_imports(now),
        "imports_abandoned": importing.fail_abandoned_imports(now, stale),
    }
    db.session.commit()
    return done


@bp.cli.command("cleanup")
def cleanup_command() -> None:
    """Delete expired export files and import uploads; mark dead jobs failed."""
    done = cleanup()
    click.echo(", ".join(f"{key}: {value}" for key, value in done.items()))
