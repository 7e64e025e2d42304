"""Exports in constant memory: the Excel writer (``exports.xlsx.write_workbook``) over a
generator of N rows with the export's columns, and the import reader
(``exports.reader.iter_rows``, streaming) reading the same file back. Baseline: the run of
the smallest N. Constant memory shows as a ratio near x1 for ten times the rows.

    .venv/bin/python bench/export_memory.py [--rows 10000 100000] [--shared-strings]

Every measurement runs in a fresh child process. Figures:

* python peak: the peak of Python's allocations (tracemalloc) while writing; in its own
  run, because tracemalloc slows the writer about threefold (and the reader eightfold,
  too slow to trace at 100,000 rows: the reader is measured by its resident set only);
* rss growth: the peak resident set during the call (sampled every 10 ms) less the
  resident set just before it: what the process really took, C libraries included;
  a few hundred kB is the allocator's noise, so its ratio is not printed;
* per extra row: (big run - small run) / (big N - small N), in bytes: ~0 is constant
  memory, and times a million rows it says what an Excel-sized file would take;
* rows/s: per second of the process's CPU time, which other processes on the machine
  do not inflate as they do wall time.

The rows come from a pool of 1,000 generated people (made before measuring, the same for
every N), each row a fresh dict with its own national ID, so the generator holds nothing
that grows with N. ``--shared-strings`` also reads a copy written as Excel writes files
(a shared-strings table rather than the export's inline strings): what an upload saved by
Excel costs the reader.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import cycle, islice
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaxportal import create_app  # noqa: E402
from vaxportal.exports import xlsx  # noqa: E402
from vaxportal.exports.columns import build_columns  # noqa: E402
from vaxportal.exports.importing import import_columns  # noqa: E402
from vaxportal.exports.reader import iter_rows  # noqa: E402
from vaxportal.recipients.services import FIELD_KEYS  # noqa: E402

POOL = 1_000
KEYS = [*FIELD_KEYS, "facility", "dose_count", "last_dose_on"]
GENDERS = {"male": "Nam", "female": "Nữ"}


def pool() -> list[dict]:
    """People as an export row holds them (gender as its Vietnamese word)."""
    import random

    from vaxportal.recipients.demo import _person

    rng, used = random.Random(2026), set()
    rows = []
    for number in range(POOL):
        person = {key: _person(rng, used).get(key) for key in FIELD_KEYS}
        person["gender"] = GENDERS[person["gender"]]
        rows.append({**person, "facility": "Trạm Y tế phường Mỹ Bình",
                     "dose_count": number % 4, "last_dose_on": date(2022, 1, 1 + number % 28)})
    return rows


def rows(people: list[dict], count: int):
    """``count`` rows, each a fresh dict with its own national ID (nothing kept)."""
    for number, person in enumerate(islice(cycle(people), count)):
        yield {**person, "national_id": f"089{number:09d}"}


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def measured(figures: dict, trace: bool = False):
    """Fills ``figures`` with cpu and wall seconds, rss growth and (``trace``) python peak."""
    before, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if trace:
        tracemalloc.start()
    cpu, wall = time.process_time(), time.perf_counter()
    yield
    figures["cpu"], figures["wall"] = time.process_time() - cpu, time.perf_counter() - wall
    if trace:
        figures["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    done.set()
    sampler.join()
    figures["rss"] = max(peak[0], _rss()) - before


def write(path: str, count: int, trace: bool) -> dict:
    people, figures = pool(), {}
    columns = build_columns(KEYS)
    mark = xlsx.Watermark(account="tyt.mybinh", person="Đặng Thị Lan", at=datetime.now(UTC),
                          export_id="bench", scope="Trạm Y tế phường Mỹ Bình")
    with measured(figures, trace):
        result = xlsx.write_workbook(path, columns, rows(people, count), watermark=mark)
    assert result.rows == count, result
    figures["size"] = Path(path).stat().st_size
    return figures


def write_shared_strings(path: str, count: int) -> dict:
    """The same workbook with a shared-strings table, as Excel saves files (not measured)."""
    with mock.patch.dict(xlsx.WORKBOOK_OPTIONS, constant_memory=False):
        return write(path, count, trace=False)


def read(path: str, count: int) -> dict:
    columns, figures = import_columns(), {}
    with measured(figures):
        seen = sum(1 for _ in iter_rows(path, columns))
    assert seen == count, (seen, count)
    return figures


PHASES = {
    "write-traced": lambda path, count: write(path, count, trace=True),
    "write": lambda path, count: write(path, count, trace=False),
    "write-shared": write_shared_strings,
    "read": read,
}


def child(phase: str, path: str, count: int) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "OTP_ENCRYPTION_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})  # for gettext; no database
    with app.app_context():
        print(json.dumps(PHASES[phase](path, count)))


def measure(phase: str, path: Path, count: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", phase, str(path), str(count)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def line(name: str, figures: dict, base: dict, count: int) -> None:
    mib = 2 ** 20
    text = f"{name:<38}"
    if "peak" in figures:
        ratio = figures["peak"] / base["peak"]
        text += f" python peak {figures['peak'] / mib:5.1f} MiB x{ratio:5.2f}  "
    print(f"{text} rss +{figures['rss'] / mib:5.1f} MiB   {count / figures['cpu']:6.0f} rows/s")


def per_row(group: dict[int, dict], counts: list[int]) -> None:
    """What each row beyond the smallest run added: ~0 B is constant memory."""
    small, big = group[counts[0]], group[counts[-1]]
    extra = counts[-1] - counts[0]
    parts = [f"{label} {(big[key] - small[key]) / extra:+.0f} B"
             for key, label in (("peak", "python peak"), ("rss", "rss")) if key in big]
    print(f"  per extra row: {', '.join(parts)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shared-strings", action="store_true")
    parser.add_argument("--uri", help="ignored: no database here (accepted for run.py)")
    parser.add_argument("--child", nargs=3, metavar=("PHASE", "PATH", "ROWS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        phase, path, count = args.child
        child(phase, path, int(count))
        return
    folder = Path(tempfile.mkdtemp(prefix="vaxbench-xlsx-"))
    try:
        run(sorted(args.rows), folder, args.shared_strings)
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def run(counts: list[int], folder: Path, shared: bool) -> None:
    figures: dict[str, dict[int, dict]] = {}
    for count in counts:
        path, copy = folder / f"export-{count}.xlsx", folder / f"shared-{count}.xlsx"
        traced = measure("write-traced", path, count)
        figures.setdefault("write", {})[count] = {**measure("write", path, count),
                                                  "peak": traced["peak"]}
        figures.setdefault("read", {})[count] = measure("read", path, count)
        print(f"{count} rows x {len(KEYS)} columns: {traced['size'] / 2**20:.1f} MiB file")
        if shared:
            size = measure("write-shared", copy, count)["size"]
            figures.setdefault("shared", {})[count] = measure("read", copy, count)
            print(f"  copy with shared strings: {size / 2**20:.1f} MiB file")
    small = counts[0]
    print(f"baseline: the {small}-row run of each line; rows/s of CPU time")
    names = {"write": "write_workbook (export)", "read": "iter_rows (import)",
             "shared": "iter_rows, shared strings"}
    for key, name in names.items():
        if key not in figures:
            continue
        for count in counts:
            line(f"{name}, {count} rows", figures[key][count], figures[key][small], count)
        if len(counts) > 1:
            per_row(figures[key], counts)


if __name__ == "__main__":
    main()
