"""Every benchmark, one after the other, each in its own process (``make bench``).

    .venv/bin/python bench/run.py                      # SQLite, throw-away files
    .venv/bin/python bench/run.py --uri postgresql+psycopg://postgres@127.0.0.1:5432/vax_bench
    .venv/bin/python bench/run.py --only search        # some of them, by name
    .venv/bin/python bench/run.py --full               # scale.py at a province's size

``--uri`` goes to the benchmarks that use a database; they drop and create every table in
it, so give them a database of their own, never one that tests or people use.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (name, script and its arguments, uses a database)
BENCHMARKS = (
    ("subtree", ("subtree.py",), True),
    ("search", ("search.py",), True),
    ("coverage", ("coverage.py",), True),
    ("summary_upkeep", ("summary_upkeep.py",), True),
    ("export_memory", ("export_memory.py",), False),
    ("wire", ("wire.py",), False),
    ("scale", ("scale.py",), True),
    ("audit_verify", ("audit_verify.py",), True),
    ("audit_hook", ("audit_hook.py",), True),
    ("import_speed", ("import_speed.py",), True),
    # the same with 2 % of the rows in error: the dry run then writes its report's workbook
    ("import_with_errors", ("import_speed.py", "--problems", "0.02"), True),
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", help="database URI for the benchmarks that use one")
    parser.add_argument("--only", nargs="+", choices=[name for name, _s, _d in BENCHMARKS])
    parser.add_argument("--full", action="store_true",
                        help="scale.py from 100,000 to 2,000,000 recipients (a province)")
    args = parser.parse_args()
    failed = []
    for name, script, uses_db in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        command = [sys.executable, str(HERE / script[0]), *script[1:]]
        if uses_db and args.uri:
            command += ["--uri", args.uri]
        if name == "scale" and args.full:
            command += ["--full"]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(command, check=False).returncode
        print(f"== {name}: {time.perf_counter() - start:.0f} s"
              + ("" if code == 0 else f", FAILED (exit {code})"), flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
