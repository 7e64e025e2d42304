"""Exports and imports run in a separate ``vaxportal worker`` process (RQ on Redis), never in
the web processes, and a worker killed in the middle of an import leaves whole batches only
(issue 13, scale-out). Requests go to web processes A and B alike."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from tests.helpers import PASSWORD, code_for, next_nid, spreadsheet
from tests.scaleout.cluster import Browser, wait_for
from tests.settings import PG_URI
from vaxportal.exports import cleanup
from vaxportal.exports.models import ExportJob, ImportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient
from vaxportal.text import fold

pytestmark = pytest.mark.postgres

BATCH = 10  # IMPORT_BATCH_SIZE of the processes (conftest.SETTINGS)


def _job(model, job_id: str):
    db.session.expire_all()
    return db.session.get(model, job_id)


def _status(model, job_id: str, *wanted: str):
    """The job once its status is one of ``wanted``."""
    return wait_for(f"{model.__name__} {job_id} to be {wanted}",
                    lambda: (job := _job(model, job_id)).status in wanted and job)


def _recipients() -> list[Recipient]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Recipient)))


def test_p3_4_an_export_waits_in_redis_runs_in_the_worker_and_downloads_at_either_process(
        pair, cluster, queue, nurse_account, person, outbox):
    a, b = pair
    for _ in range(3):
        person("s1")
    browser = Browser()
    assert browser.sign_in(a, nurse_account.username, PASSWORD, outbox).status == 303
    browser.page(a, "/exports/new")
    answer = browser.post(a, "/exports/new", {"s": ""})
    assert answer.status in (302, 303), answer.text
    job_id = answer.location.rstrip("/").rsplit("/", 1)[-1]
    browser.page(b, f"/exports/{job_id}")
    code = code_for(outbox, _job(ExportJob, job_id))
    answer = browser.post(b, f"/exports/{job_id}/confirm", {"code": code})
    assert answer.status == 303 and answer.location.endswith(f"/exports/{job_id}")

    # no worker runs yet: the export waits on the queue, neither web process writes it
    assert _job(ExportJob, job_id).status == JobStatus.queued
    assert queue.count == 1
    assert "/download" not in browser.page(a, f"/exports/{job_id}").text

    cluster.start_worker()
    wait_for("the export's download link",
             lambda: f"/exports/{job_id}/download" in browser.page(a, f"/exports/{job_id}").text)
    assert _job(ExportJob, job_id).rows_written == 3
    download = browser.get(b, f"/exports/{job_id}/download")
    assert download.status == 200 and download.body[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(download.body))
    assert sum(sheet.max_row for sheet in book.worksheets) >= 3


def _rows(count: int) -> list[dict]:
    born = date(1970, 1, 1)
    rows = []
    for n in range(count):
        day = born + timedelta(days=37 * n)
        rows.append({"full_name": "Lê Thị Hồng", "date_of_birth": day.strftime("%d/%m/%Y"),
                     "gender": "Nữ", "national_id": next_nid("female", day),
                     "province": "An Giang"})
    return rows


def _upload(browser: Browser, web, facility_id: int, data: bytes) -> str:
    browser.page(web, "/exports/import")
    answer = browser.post(web, "/exports/import", {"facility_id": str(facility_id)},
                          files={"file": ("danh-sach.xlsx", data)})
    assert answer.status == 303, answer.text
    return answer.location.rstrip("/").rsplit("/", 1)[-1]


def _confirm(browser: Browser, web, job_id: str) -> None:
    browser.page(web, f"/exports/import/{job_id}")
    assert browser.post(web, f"/exports/import/{job_id}/confirm").status == 303


class _Blocker:
    """A transaction of the test's own holding an uncommitted recipient with ``national_id``:
    the import's INSERT of the same ID waits on it (the unique index) until it ends."""

    def __init__(self, national_id: str, facility_id: int) -> None:
        self.engine = sa.create_engine(PG_URI)
        self.conn = self.engine.connect()
        self.conn.begin()
        self.conn.execute(sa.text(
            "INSERT INTO recipient (full_name, name_key, date_of_birth, gender, national_id, "
            "facility_id, created_at, updated_at, version_id) VALUES ('Chặn Ghi', :key, "
            "'1970-01-01', 'female', :nid, :facility, now(), now(), 1)"),
            {"key": fold("Chặn Ghi"), "nid": national_id, "facility": facility_id})
        self.pid = self.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()

    def waiting(self) -> str | None:
        """The statement of another backend that waits for this transaction's lock."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT query FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                {"pid": self.pid}).scalar()

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()
        self.engine.dispose()


def _connections(application_name: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
            "AND datname = current_database()"),
            {"name": application_name}).scalar_one()


def test_an_import_killed_mid_batch_leaves_whole_batches_and_a_retry_completes(
        app, pair, cluster, nurse_account, outbox):
    """30 rows in batches of 10. The worker writes batch 1, then blocks inside batch 2 (nine
    of its rows already inserted, the tenth waiting on a lock of the test's) and is killed
    with SIGKILL: exactly batch 1 stays. The dry run of the same file again counts those ten
    as already registered, and its writing completes the list."""
    a, b = pair
    rows = _rows(3 * BATCH)
    data = spreadsheet(rows)
    browser = Browser()
    assert browser.sign_in(a, nurse_account.username, PASSWORD, outbox).status == 303
    worker = cluster.start_worker("worker-1")
    job_id = _upload(browser, b, nurse_account.facility_id, data)
    assert _status(ImportJob, job_id, JobStatus.checked).valid_rows == 3 * BATCH

    blocker = _Blocker(rows[2 * BATCH - 1]["national_id"], nurse_account.facility_id)
    try:
        _confirm(browser, a, job_id)
        waiting = wait_for("the import to wait inside its second batch", blocker.waiting)
        assert waiting.startswith("COPY recipient ")  # the batch's rows, one statement
        worker.kill()  # SIGKILL to the worker and the job process it forked
    finally:
        blocker.release()
    # PostgreSQL rolls back what the dead process had begun when it finds it gone
    wait_for("the killed job's connection to end", lambda: _connections("worker-1") == 0)

    written = _recipients()
    assert len(written) == BATCH  # batch 1 whole, nothing of batch 2
    assert {r.national_id for r in written} == {row["national_id"] for row in rows[:BATCH]}
    job = _job(ImportJob, job_id)
    assert job.status == JobStatus.running and job.progress == BATCH

    # the sweep (``vaxportal cleanup``) marks the dead job failed; the user brings the file again
    app.config["JOB_STALE_MINUTES"] = 0
    cleanup.run()
    assert _job(ImportJob, job_id).status == JobStatus.failed
    cluster.start_worker("worker-2")
    retry = _upload(browser, a, nurse_account.facility_id, data)
    checked = _status(ImportJob, retry, JobStatus.checked)
    assert (checked.valid_rows, checked.duplicate_rows) == (2 * BATCH, BATCH)
    _confirm(browser, b, retry)
    done = _status(ImportJob, retry, JobStatus.done, JobStatus.failed)
    assert done.status == JobStatus.done and done.created_count == 2 * BATCH
    assert sorted(r.national_id for r in _recipients()) == sorted(r["national_id"] for r in rows)
