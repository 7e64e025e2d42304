"""The benchmarks are not tests (issue 13), but the province generator they all start from
must keep running as the app's functions change under it (a renamed argument once broke
``make bench`` unnoticed): a tiny province, generated through the script's own command line."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from vaxportal import ROOT


def test_the_province_generator_runs_at_a_tiny_scale(tmp_path):
    uri = f"sqlite:///{tmp_path / 'province.sqlite3'}"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), "--scale", "0.0001", "--uri", uri],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    engine = sa.create_engine(uri)
    with engine.connect() as conn:
        recipients = conn.scalar(sa.text("SELECT count(*) FROM recipient"))
        doses = conn.scalar(sa.text("SELECT count(*) FROM dose"))
    engine.dispose()
    assert recipients > 0 and doses > 0, result.stdout
