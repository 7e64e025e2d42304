"""The benchmarks are not tests (issue 13), but the province generator they all start from
must keep running as the app's functions change under it (a renamed argument once broke
``make bench`` unnoticed): a tiny province, generated through the script's own command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.engines import scratch_postgres
from tests.settings import PG_URI
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
        wordless = conn.scalar(sa.text("SELECT count(*) FROM recipient WHERE name_words = ''"))
        nguyen = conn.scalar(sa.text("SELECT count(*) FROM recipient WHERE name_key LIKE "
                                     "'nguyen %'"))
        indexed = conn.scalar(sa.text("SELECT count(*) FROM recipient_name_fts WHERE "
                                      "recipient_name_fts MATCH 'nguyen'"))
    engine.dispose()
    assert recipients > 0 and doses > 0, result.stdout
    assert wordless == 0 and indexed >= nguyen > 0  # the names' words, in their index


@pytest.mark.postgres
def test_the_province_generator_leaves_postgresql_vacuumed_as_autovacuum_would():
    """On PostgreSQL the province is left as autovacuum leaves a table after a load: its
    statistics and its visibility map (``VACUUM (ANALYZE)``), or no index-only scan is ever
    planned and the benchmarks measure a database no deployment has."""
    with scratch_postgres(PG_URI, "generator") as uri:
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "generate.py"), "--scale", "0.0001",
             "--uri", uri], cwd=ROOT, capture_output=True, text=True, timeout=240,
            check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        engine = sa.create_engine(uri)
        with engine.connect() as conn:
            kept = dict(conn.execute(sa.text(
                "SELECT relname, last_vacuum IS NOT NULL AND last_analyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname IN ('recipient', 'dose')")).all())
        engine.dispose()
    assert kept == {"recipient": True, "dose": True}


def test_the_search_benchmark_seeds_what_the_register_form_stores(app):
    """``bench/search.py`` starts by checking that its people are what the register form
    stores (it once stopped there: the form stores the coded fields as codes); then its
    people are found by their words."""
    from bench.search import seed
    from vaxportal.extensions import db
    from vaxportal.recipients.models import Recipient

    seed(40)
    rows = db.session.execute(sa.select(Recipient.ethnicity, Recipient.province,
                                        Recipient.name_words)).all()
    assert len(rows) == 40
    assert {(ethnicity, province) for ethnicity, province, _w in rows} == {("01", "91")}
    assert all(words for _e, _p, words in rows)


def test_the_audit_hook_benchmark_runs_and_checks_its_rows():
    """``bench/audit_hook.py`` turns the hook off and on between rounds: it fails by itself
    when an audited round did not write one audit row per dose (the hook not put back, or
    left off) and must keep running as the hook changes."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "audit_hook.py"), "--people", "50",
         "--doses", "40"], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "floor: + one ready-made row" in result.stdout
    assert "floor: + the lock and head" in result.stdout
    assert "audited " in result.stdout and "(goal <= 1.3x)" in result.stdout
    assert "doses a commit" in result.stdout and "audited" in result.stdout.splitlines()[-1]
