"""What a nurse's browser downloads, and the slow line (issue 14), with PASS/FAIL per goal.

    .venv/bin/python bench/wire.py

Runs the browser journeys of tests/browser/test_wire.py (Chromium, a live server on a
throw-away SQLite file): they count the requests and the bytes on the wire through Chromium's
own network log, and time sign-in, search and a dose on a line throttled to 256 kbit/s with
300 ms latency. Their figures are printed here; the journeys also assert the goals.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOURNEYS = ROOT / "tests" / "browser" / "test_wire.py"


def main() -> int:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(JOURNEYS)],
        cwd=ROOT, capture_output=True, text=True, check=False)
    lines = run.stdout.splitlines()
    for line in lines:
        if line.startswith("wire: "):
            print(line[len("wire: "):])
    print(lines[-1] if lines else run.stderr.strip())
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
