"""A large export through the background-job machinery the deployment uses.

With Redis (CI's PostgreSQL pass sets VAXPORTAL_TEST_REDIS_URL) the confirmed export goes to
an RQ queue of its own and an RQ worker runs it, as ``vaxportal worker`` does: the worker
builds its app from the environment (``jobs.run_in_worker``). The worker here is
``rq.SimpleWorker`` in this process (it does not fork), run in burst mode. Without Redis
the same flow runs in the default mode, a thread of the web process.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from tests.helpers import code_for, confirm, html, request_export
from tests.settings import REDIS_URL
from vaxportal import jobs
from vaxportal.audit.models import AuditEvent
from vaxportal.exports.models import ExportJob, JobStatus
from vaxportal.extensions import db

#: what the worker process needs from its environment to build the same app
WORKER_ENV = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "OTP_ENCRYPTION_KEY", "EXPORT_DIR",
              "SMS_BACKEND", "REDIS_URL", "RQ_QUEUE", "JOBS_MODE")


@pytest.fixture
def config(config):
    config["EXPORT_JOB_THRESHOLD"] = 2  # three rows run as a background job
    if REDIS_URL:
        config["REDIS_URL"] = REDIS_URL
        config["JOBS_MODE"] = "rq"
        config["RQ_QUEUE"] = f"vaxportal-test-{uuid.uuid4().hex}"  # parallel runs never meet
    else:
        config["JOBS_MODE"] = "thread"
    return config


@pytest.fixture
def rq_queue(app, monkeypatch):
    """The test's RQ queue, and the environment a worker process would have; the queue, its
    jobs and registries are deleted afterwards."""
    from redis import Redis
    from rq import Queue

    for key in WORKER_ENV:
        monkeypatch.setenv(f"VAXPORTAL_{key}", str(app.config[key]))
    monkeypatch.setenv("VAXPORTAL_TESTING", "true")
    monkeypatch.setattr(jobs, "_worker_app", None)  # the worker builds its own app
    connection = Redis.from_url(REDIS_URL)
    queue = Queue(app.config["RQ_QUEUE"], connection=connection)
    yield queue
    if jobs._worker_app is not None:
        with jobs._worker_app.app_context():
            db.engine.dispose()
    _delete_queue(queue)
    connection.close()


def _delete_queue(queue) -> None:
    from rq.job import Job

    registries = (queue.finished_job_registry, queue.failed_job_registry,
                  queue.started_job_registry)
    job_ids = set(queue.job_ids)
    for registry in registries:
        job_ids.update(registry.get_job_ids())
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=queue.connection)
        job.delete()
    queue.delete(delete_jobs=True)
    for key in queue.connection.scan_iter(f"*{queue.name}*"):
        queue.connection.delete(key)


def _run_worker(queue) -> None:
    """``vaxportal worker`` in burst mode, in this process; pytest's signal handlers kept."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker = jobs.new_worker([queue], queue.connection, in_process=True)
    try:
        worker.work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        queue.connection.delete(worker.key)  # its registration outlives a burst for a while


def _work_through_rq(request, client, job: ExportJob) -> None:
    from rq.job import JobStatus as RqStatus

    queue = request.getfixturevalue("rq_queue")
    assert queue.count == 1, "the export was not put on the configured RQ queue"
    rq_job = queue.jobs[0]
    assert rq_job.func_name == "vaxportal.jobs.run_in_worker"
    assert rq_job.args == ("vaxportal.exports.jobs.run_export", job.id)
    fragment = html(client.hx("GET", f"/exports/{job.id}"))
    assert "<progress" in fragment and "/download" not in fragment  # waits for a worker
    _run_worker(queue)
    assert jobs._worker_app is not None and jobs._worker_app is not request.getfixturevalue("app")
    rq_job.refresh()
    assert rq_job.get_status() == RqStatus.FINISHED, rq_job.exc_info
    assert queue.count == 0


def _wait_for_thread(client, job: ExportJob) -> None:
    deadline = time.monotonic() + 30
    while "/download" not in html(client.hx("GET", f"/exports/{job.id}")):
        assert time.monotonic() < deadline, "the export job did not finish"
        time.sleep(0.2)


def test_large_export_runs_on_the_configured_job_runner_and_downloads(
        request, app, nurse, person, outbox):
    for _ in range(3):
        person()
    job = request_export(nurse)
    response = confirm(nurse, job, code_for(outbox, job))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/exports/{job.id}")  # a job, not at once
    if REDIS_URL:
        assert app.config["JOBS_MODE"] == "rq"
        _work_through_rq(request, nurse, job)
    else:
        assert app.config["JOBS_MODE"] == "thread"
        _wait_for_thread(nurse, job)

    db.session.expire_all()
    done = db.session.get(ExportJob, job.id)
    assert done.status == JobStatus.done and done.rows_written == 3
    assert f"/exports/{job.id}/download" in html(nurse.hx("GET", f"/exports/{job.id}"))
    download = nurse.get(f"/exports/{job.id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"
    completed = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "export_completed", AuditEvent.entity_id == job.id))
    assert completed.actor == f"job:{nurse.account.username}"
    assert completed.details["sha256"] == done.sha256


@pytest.mark.postgres  # the PostgreSQL + Redis pass: Redis
@pytest.mark.parametrize("in_process", [False, True], ids=["vaxportal worker", "in process"])
def test_a_worker_asked_to_stop_leaves_its_command_channel_at_once(monkeypatch, in_process):
    """RQ's worker unsubscribed its command channel, then stopped the channel's thread. A
    thread that read the reply to UNSUBSCRIBE first (a worker process descheduled for a
    moment, as on a busy server) waited a minute for a new subscription, and redis-py's
    ``stop()`` waited for it: ``vaxportal worker`` took up to 60 s to stop (SIGTERM) and
    this suite's burst worker 60 s to finish. The moment is forced here: ``stop()`` is
    late by 0.5 s. The worker still leaves its channel within a few seconds."""
    from redis import Redis
    from redis.client import PubSubWorkerThread

    stop = PubSubWorkerThread.stop

    def late_stop(thread, *args, **kwargs):
        time.sleep(0.5)
        return stop(thread, *args, **kwargs)

    connection = Redis.from_url(REDIS_URL)
    worker = jobs.new_worker([f"vaxportal-test-{uuid.uuid4().hex}"], connection,
                             in_process=in_process)
    worker.subscribe()
    try:
        deadline = time.monotonic() + 5
        while not worker.pubsub.connection or not worker.pubsub.channels:
            assert time.monotonic() < deadline, "the worker did not subscribe"
            time.sleep(0.05)
        monkeypatch.setattr(PubSubWorkerThread, "stop", late_stop)
        leaving = threading.Thread(target=worker.unsubscribe, daemon=True)
        leaving.start()
        leaving.join(timeout=10)
        assert not leaving.is_alive(), "the worker is still leaving its command channel"
        assert not worker.pubsub_thread.is_alive()
    finally:
        monkeypatch.undo()
        if worker.pubsub_thread.is_alive():
            worker.pubsub_thread.stop(timeout=0)
        connection.close()
