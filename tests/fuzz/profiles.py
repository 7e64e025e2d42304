"""The Hypothesis profiles of the form fuzzer, what it collects of unhandled errors, and the
statuses each form answered (for the run's summary).

Profiles (``VAXPORTAL_FUZZ_PROFILE``): ``fuzz`` (default, CI) runs the same examples on
every run (derandomized, no example database, no deadline); ``fuzz-deep`` draws many more,
at random, for a local hunt (it keeps found failures under .hypothesis/, not in git)."""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict

from hypothesis import HealthCheck, Phase, settings

_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
          HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("VAXPORTAL_FUZZ_EXAMPLES", "30")),
    derandomize=True, database=None, deadline=None, suppress_health_check=_QUIET,
    print_blob=False,
    # no shrinking: each example is a few requests against a live app, and a 500 reports
    # its frames (the log of the app's error handler) in the failure message anyway
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
settings.register_profile(
    "fuzz-deep", max_examples=int(os.environ.get("VAXPORTAL_FUZZ_EXAMPLES", "300")),
    derandomize=False, deadline=None,
    suppress_health_check=_QUIET, print_blob=True,
)
PROFILE = os.environ.get("VAXPORTAL_FUZZ_PROFILE", "fuzz")


class Unhandled(logging.Handler):
    """Collects what the app's last-resort error handler logs: the type of an unhandled
    error and its frames, of which ``report()`` keeps the app's own."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record) -> None:
        self.records.append(record.getMessage())

    def report(self) -> str:
        lines = []
        for record in self.records:
            first, *frames = record.splitlines()
            lines.append(first)
            for i, line in enumerate(frames):
                if "/vaxportal/" in line and line.lstrip().startswith("File"):
                    lines += frames[i:i + 2]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{len(self.records)} unhandled error(s)>"


#: endpoint → Counter of the statuses answered (full page and htmx), for the run's summary
STATUSES: defaultdict[str, Counter] = defaultdict(Counter)
