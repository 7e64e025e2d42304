"""Shared benchmark helpers: an app on a throw-away database, timing, ratio lines."""

from __future__ import annotations

import atexit
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vaxportal import create_app
from vaxportal.dbsetup import install_database_objects
from vaxportal.extensions import db


def bench_app(uri: str | None = None, folder: Path | None = None, fresh: bool = True):
    """An app on ``uri`` (or a SQLite file), its files in ``folder`` (kept) or in a temporary
    folder (removed at exit); ``fresh`` drops and creates every table."""
    if folder is None:
        tmp = Path(tempfile.mkdtemp(prefix="vaxbench-"))
        atexit.register(shutil.rmtree, tmp, True)  # the SQLite file of 50k recipients: ~90 MB
    else:
        tmp = folder
        tmp.mkdir(parents=True, exist_ok=True)
    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench", "OTP_ENCRYPTION_KEY": "bench",
        "AUDIT_KEY": "bench", "AUDIT_CHECKPOINT_DIR": str(tmp / "audit-checkpoints"),
        "SQLALCHEMY_DATABASE_URI": uri or f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SMS_BACKEND": f"file:{tmp / 'sms.jsonl'}", "JOBS_MODE": "sync",
        "EXPORT_DIR": str(tmp / "exports"),
    })
    if fresh:
        with app.app_context():
            db.drop_all()
            db.create_all()
            install_database_objects(db.session.connection())
            db.session.commit()
    return app


def timed(fn: Callable[[], object], repeat: int = 200) -> float:
    """Median seconds of one call over ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def paired(fn: Callable[[], object], baseline: Callable[[], object],
           budget: float = 1.5) -> tuple[float, float]:
    """Median seconds of ``fn`` and of ``baseline``, called alternately (after a warm-up of
    each) for as many rounds as fit in about ``budget`` seconds (10 to 200). A ratio of the
    two medians holds up when other processes load the machine for part of the run: both
    are measured in the same moments."""
    fn()
    baseline()
    start = time.perf_counter()
    fn()
    baseline()
    rounds = max(10, min(200, int(budget / max(time.perf_counter() - start, 1e-6))))
    measured, base = [], []
    for _ in range(rounds):
        for call, samples in ((baseline, base), (fn, measured)):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
    return statistics.median(measured), statistics.median(base)


def report(name: str, value: float, baseline: float, unit: str = "us") -> None:
    scale = 1e6 if unit == "us" else 1e3
    print(f"{name:<52} {value * scale:10.1f} {unit}   x{value / baseline:6.2f} of baseline")
