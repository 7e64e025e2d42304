"""Large exports as jobs with progress, cancel, download by the maker only, expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app

from tests.helpers import code_for, confirm, export_now, html, request_export, search_id
from vaxportal import jobs
from vaxportal.audit.models import AuditEvent
from vaxportal.exports import cleanup, exporting, views
from vaxportal.exports.models import ExportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow


@pytest.fixture
def config(config):
    config["EXPORT_JOB_THRESHOLD"] = 3  # more than three rows run as a background job
    return config


@pytest.fixture
def queued(monkeypatch):
    """Jobs handed to ``jobs.enqueue`` are held here instead of running at once."""
    held = []
    monkeypatch.setattr(views.jobs, "enqueue", lambda path, *args: held.append((path, args)))
    return held


def _confirmed_job(client, outbox) -> ExportJob:
    job = request_export(client)
    response = confirm(client, job, code_for(outbox, job))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/exports/{job.id}")
    db.session.expire_all()
    return db.session.get(ExportJob, job.id)


def test_large_export_runs_as_a_job_with_a_progress_bar(nurse, person, outbox, queued):
    for _ in range(4):
        person()
    job = _confirmed_job(nurse, outbox)
    assert queued == [("vaxportal.exports.jobs.run_export", (job.id,))]
    assert job.status == JobStatus.queued
    page = html(nurse.get(f"/exports/{job.id}"))
    assert "<progress" in page and 'max="4"' in page
    assert 'hx-trigger="every 2s"' in page and f'hx-get="/exports/{job.id}"' in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    fragment = nurse.hx("GET", f"/exports/{job.id}")
    assert "<html" not in html(fragment) and "<progress" in html(fragment)
    assert "HX-Request" in fragment.headers["Vary"]

    exporting.run_export(job.id)  # what the worker does
    fragment = html(nurse.hx("GET", f"/exports/{job.id}"))
    assert "hx-trigger" not in fragment and "<progress" not in fragment  # polling ends
    assert f"/exports/{job.id}/download" in fragment
    page = html(nurse.get(f"/exports/{job.id}"))
    assert 'content="3"' not in page  # no more polling; the file is fetched once instead
    assert f'content="0;url=/exports/{job.id}/download"' in page
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.status == JobStatus.done and job.progress == job.rows_written == 4
    assert nurse.get(f"/exports/{job.id}/download").status_code == 200


def test_job_saves_progress_on_its_row_as_it_writes(nurse, person, outbox, queued,
                                                    monkeypatch):
    for _ in range(5):
        person()
    job = _confirmed_job(nurse, outbox)
    seen = []
    save = exporting._save_progress
    monkeypatch.setattr(exporting, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(exporting, "_save_progress",
                        lambda job_id, n: (save(job_id, n), seen.append(
                            db.session.get(ExportJob, job_id).progress)))
    exporting.run_export(job.id)
    assert seen[:2] == [2, 4]


def test_running_export_can_be_cancelled(nurse, person, outbox, queued, monkeypatch):
    for _ in range(6):
        person()
    job = _confirmed_job(nurse, outbox)
    job_id = job.id
    monkeypatch.setattr(exporting, "PROGRESS_EVERY", 2)

    def user_cancels(job_id, n):  # the user presses "cancel" while the job writes
        assert nurse.post(f"/exports/{job_id}/cancel").status_code == 303

    monkeypatch.setattr(exporting, "_save_progress", user_cancels)
    exporting.run_export(job_id)
    db.session.expire_all()
    job = db.session.get(ExportJob, job_id)
    assert job.status == JobStatus.cancelled and job.file_name is None
    assert list(Path(current_app.config["EXPORT_DIR"]).glob(f"{job_id}*")) == []
    assert nurse.get(f"/exports/{job_id}/download").status_code == 303


def test_queued_export_cancelled_never_runs(nurse, person, outbox, queued):
    for _ in range(4):
        person()
    job = _confirmed_job(nurse, outbox)
    assert nurse.post(f"/exports/{job.id}/cancel").status_code == 303
    exporting.run_export(job.id)
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).status == JobStatus.cancelled


def test_download_refused_to_another_account(nurse, signed_in, place, person, outbox):
    person()
    job, _data = export_now(nurse, outbox)
    colleague = signed_in("data_entry", facility=place["s1"])  # same facility, other account
    supervisor = signed_in("supervisor", facility=place["d1"])
    for other in (colleague, supervisor):
        assert other.get(f"/exports/{job.id}/download").status_code == 404
        assert other.get(f"/exports/{job.id}").status_code == 404
        assert job.id not in html(other.get("/exports/"))
    assert nurse.get(f"/exports/{job.id}/download").status_code == 200


def test_small_export_runs_at_once_and_downloads(nurse, person, outbox, queued):
    person()
    person()
    job = request_export(nurse)
    response = confirm(nurse, job, code_for(outbox, job))
    assert response.headers["Location"].endswith(f"/exports/{job.id}")
    assert queued == []
    download = nurse.get(f"/exports/{job.id}/download")
    assert download.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"


def _file(job) -> Path:
    return Path(current_app.config["EXPORT_DIR"]) / job.file_name


def test_expired_export_file_is_refused_before_the_sweep_deletes_it(nurse, person, outbox,
                                                                     runner):
    person()
    job, _data = export_now(nurse, outbox)
    path = _file(job)
    assert path.exists()
    assert job.expires_at - job.finished_at == timedelta(hours=24)
    job.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = nurse.get(f"/exports/{job.id}/download")
    assert response.status_code == 303
    assert "không còn để tải" in html(nurse.get(response.headers["Location"]))
    assert path.exists()  # a GET changes nothing: the sweep deletes it
    assert runner.invoke(args=["cleanup"]).exit_code == 0
    assert not path.exists()
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).status == JobStatus.expired


def test_cleanup_cli_deletes_expired_files(nurse, person, outbox, runner):
    person()
    job, _data = export_now(nurse, outbox)
    path = _file(job)
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "exports_expired: 1" in result.output
    assert not path.exists()


def test_exports_pages_commit_nothing(app, nurse, person, outbox):
    """A GET changes nothing: the exports pages run no clean-up of their own (counted by
    the session's commits), even when a file is due for deletion."""
    person()
    job, _data = export_now(nurse, outbox)
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    commits = []
    sa.event.listen(db.session(), "after_commit", commits.append)
    for url in ("/exports/", f"/exports/{job.id}", f"/exports/{job.id}/download"):
        assert nurse.get(url).status_code in (200, 303)
    assert commits == []
    assert _file(job).exists()


def test_the_sweep_is_scheduled_at_most_once_per_period(app, nurse, person, outbox):
    """``jobs.enqueue_due`` (the worker's clock, or the web process in thread mode) runs the
    clean-up once, then not again within ``CLEANUP_EVERY_MINUTES``."""
    person()
    job, _data = export_now(nurse, outbox)
    path = _file(job)
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert jobs.enqueue_due(app) == [cleanup.JOB]  # sync mode: ran at once
    assert not path.exists()
    assert jobs.enqueue_due(app) == []


def test_in_thread_mode_a_request_starts_the_sweep_once(app, nurse, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "enqueue", started.append)
    assert nurse.get("/exports/").status_code == 200
    assert started == []  # sync mode (tests): nothing runs behind a request
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    nurse.get("/exports/")
    nurse.get("/exports/")
    assert started == [cleanup.JOB]


def test_index_lists_own_jobs_with_status(nurse, signed_in, place, person, outbox):
    person()
    job, _data = export_now(nurse, outbox)
    page = html(nurse.get("/exports/"))
    assert job.short_ref in page and "Hoàn tất" in page
    other = signed_in("data_entry", facility=place["s1b"])
    assert job.short_ref not in html(other.get("/exports/"))


def test_p2_4_dead_worker_leaves_a_failed_export_and_an_audit_event(nurse, person, outbox,
                                                                     queued):
    for _ in range(4):
        person()
    job = _confirmed_job(nurse, outbox)
    job.status = JobStatus.running
    db.session.commit()
    db.session.execute(sa.update(ExportJob).where(ExportJob.id == job.id)
                       .values(updated_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    cleanup.run()  # the scheduled sweep
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).status == JobStatus.failed
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "export_failed", AuditEvent.entity_id == job.id))
    assert event is not None and event.category == "access"
    assert event.details["reason"] == "abandoned"
    assert event.details["filter"] == job.filter and event.details["row_count"] == 4
    assert event.account_id == nurse.account.id
    assert event.actor == f"job:{nurse.account.username}"


def test_a_running_export_with_recent_progress_is_not_swept(nurse, person, outbox, queued):
    for _ in range(4):
        person()
    job = _confirmed_job(nurse, outbox)
    job.status = JobStatus.running
    db.session.commit()
    cleanup.run()
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).status == JobStatus.running
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "export_failed")) is None


def test_export_of_exactly_the_threshold_runs_at_once(nurse, person, outbox, queued):
    for _ in range(3):  # EXPORT_JOB_THRESHOLD rows: not over it
        person()
    assert "Danh sách lớn" not in html(nurse.get("/exports/new"))
    job = request_export(nurse)
    response = confirm(nurse, job, code_for(outbox, job))
    assert response.headers["Location"].endswith(f"/exports/{job.id}")
    assert queued == []
    assert nurse.get(f"/exports/{job.id}/download").status_code == 200
    person()  # one over the threshold: a background job
    assert "Danh sách lớn" in html(nurse.get("/exports/new"))
    job = _confirmed_job(nurse, outbox)
    assert queued == [("vaxportal.exports.jobs.run_export", (job.id,))]


def test_p2_4_download_is_audited_with_filter_rows_and_sha256(nurse, person, outbox):
    person(full_name="Trần Văn Tải")
    person(full_name="Trần Văn Tải")
    person(full_name="Lê Thị Khác")
    sid = search_id(nurse, q="tran van tai")
    job, data = export_now(nurse, outbox, sid)
    assert nurse.get(f"/exports/{job.id}/download").status_code == 200  # a second download
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "export_downloaded", AuditEvent.entity_id == job.id)).all()
    assert len(events) == 2
    for event in events:
        assert event.category == "access" and event.account_id == nurse.account.id
        assert event.details["filter"] == {"q": "tran van tai", "facility_id": None,
                                           "vaccine_id": None}
        assert event.details["filter"] == job.filter
        assert event.details["row_count"] == 2
        assert event.details["sha256"] == hashlib.sha256(data).hexdigest()


def test_rows_stream_in_keyset_chunks_without_loss_or_repeat(nurse, person):
    from vaxportal.exports import columns
    from vaxportal.recipients.search import RegisterFilter

    for _ in range(7):
        person(full_name="Nguyễn Văn An")  # one name key: chunks must break ties by id
    person(full_name="Bùi Thị Ba")
    person("s2", full_name="Ngoài Phạm Vi")
    rows = list(columns.iter_rows(RegisterFilter(), nurse.account,
                                  ["full_name", "national_id"], False, chunk=2))
    assert [r["full_name"] for r in rows] == ["Bùi Thị Ba"] + ["Nguyễn Văn An"] * 7
    assert len({r["national_id"] for r in rows}) == 8


def test_nav_links_to_exports(nurse):
    assert 'href="/exports/"' in html(nurse.get("/exports/"))


def test_export_job_in_a_thread_of_the_web_process(app, nurse, person, outbox):
    """The default job mode: the export runs beside the web requests that poll it."""
    import time

    app.config["JOBS_MODE"] = "thread"
    for _ in range(5):
        person()
    job = request_export(nurse)
    assert confirm(nurse, job, code_for(outbox, job)).status_code == 303
    deadline = time.monotonic() + 30
    while "/download" not in html(nurse.hx("GET", f"/exports/{job.id}")):
        assert time.monotonic() < deadline, "the export job did not finish"
        time.sleep(0.2)
    download = nurse.get(f"/exports/{job.id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"
    completed = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "export_completed", AuditEvent.entity_id == job.id))
    assert completed.actor == f"job:{nurse.account.username}"
    assert completed.account_id == nurse.account.id
