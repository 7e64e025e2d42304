"""Entry points of this domain's background jobs, named by dotted path for ``jobs.enqueue``.

Each takes a job id only and reloads everything from the database (a job runs with an app
context, not a request, possibly in another process).
"""

from vaxportal.exports.exporting import run_export
from vaxportal.exports.importing import check_import, run_import

__all__ = ["check_import", "run_export", "run_import"]
