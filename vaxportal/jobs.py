"""Background jobs: a thread of the web process by default, RQ workers when Redis is set.

``JOBS_MODE``: ``thread`` (default), ``rq`` (default when ``REDIS_URL`` is set) or ``sync``
(runs at once; tests). A job is named by its dotted path so that an RQ worker can import it.

Scheduled jobs (``schedule``) are enqueued at most once per period where the jobs run: by
``vaxportal worker`` (RQ; a Redis key claims each period, so several workers enqueue once),
or after a request of the web process in ``thread`` mode (outside the request's transaction).
In ``sync`` mode nothing is scheduled; run the job's command instead.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import threading
import time

import click
from flask import Flask, current_app
from flask_babel import gettext as _

from vaxportal import create_app, failures
from vaxportal.extensions import db

log = logging.getLogger(__name__)
_worker_app: Flask | None = None
_worker_pid: int | None = None  # the process whose connection pool ``_worker_app`` holds
_claim_lock = threading.Lock()
SCHEDULE = "vaxportal.jobs.schedule"
DUE = "vaxportal.jobs.due"
#: how often ``vaxportal worker`` looks for a scheduled job that is due
WORKER_TICK_SECONDS = 60


def init_app(app: Flask) -> None:
    if not app.config.get("JOBS_MODE"):
        app.config["JOBS_MODE"] = "rq" if app.config.get("REDIS_URL") else "thread"
    app.extensions[SCHEDULE] = []
    app.extensions[DUE] = {}
    app.after_request(_enqueue_due_in_thread_mode)
    app.cli.add_command(worker_command)


def schedule(app: Flask, func_path: str, *, every_minutes: int) -> None:
    """Run ``func_path()`` in the background every ``every_minutes`` (0: never)."""
    if every_minutes > 0:
        app.extensions[SCHEDULE].append((func_path, every_minutes))


def enqueue_due(app: Flask) -> list[str]:
    """Enqueue each scheduled job whose period has passed; the ones enqueued."""
    started = []
    for func_path, minutes in app.extensions[SCHEDULE]:
        if _claim(app, func_path, minutes):
            enqueue(func_path)
            started.append(func_path)
    return started


def _claim(app: Flask, func_path: str, minutes: int) -> bool:
    """True once per period: across processes through Redis, else within this process."""
    if app.config["JOBS_MODE"] == "rq":
        key = f"{app.config.get('RQ_QUEUE') or 'vaxportal'}:due:{func_path}"
        return bool(_queue(app).connection.set(key, "1", nx=True, ex=minutes * 60))
    due, now = app.extensions[DUE], time.monotonic()
    with _claim_lock:
        if due.get(func_path, now) > now:
            return False
        due[func_path] = now + minutes * 60
    return True


def _enqueue_due_in_thread_mode(response):
    """Without a worker the web process runs the schedule, in threads of its own: the
    request's transaction is already closed by its view and nothing is added to it."""
    if current_app.config["JOBS_MODE"] == "thread":
        enqueue_due(current_app._get_current_object())
    return response


def enqueue(func_path: str, *args) -> None:
    """Run ``func_path(*args)`` in the background, inside an application context."""
    app = current_app._get_current_object()
    mode = app.config["JOBS_MODE"]
    if mode == "sync":
        _call(func_path, args)
    elif mode == "rq":
        _queue(app).enqueue(run_in_worker, func_path, *args, job_timeout=3600)
    else:
        threading.Thread(target=_run_in_thread, args=(app, func_path, args), daemon=True).start()


def _call(func_path: str, args: tuple):
    module, _, name = func_path.rpartition(".")
    return getattr(importlib.import_module(module), name)(*args)


def _run_in_thread(app: Flask, func_path: str, args: tuple) -> None:
    with app.app_context():
        try:
            _call(func_path, args)
        except Exception as error:  # a job records its own failure; this keeps the thread quiet
            log.error("background job %s failed: %s", func_path, failures.describe(error))


def run_in_worker(func_path: str, *args):
    """Entry point RQ calls in the worker process: the app ``vaxportal worker`` built before
    RQ forked this job's process (else built here, once), with a connection pool of this
    process's own (a forked process never uses its parent's pooled connections)."""
    global _worker_app, _worker_pid
    if _worker_app is None:
        _worker_app, _worker_pid = create_app(), os.getpid()
    with _worker_app.app_context():
        if _worker_pid != os.getpid():
            for engine in db.engines.values():
                engine.dispose(close=False)
            _worker_pid = os.getpid()
        try:
            return _call(func_path, args)
        except Exception as error:  # RQ would keep and log its message: personal data
            log.error("background job %s failed: %s", func_path, failures.describe(error))
            raise failures.JobFailed(type(error).__name__) from None


def _queue(app: Flask):
    from redis import Redis
    from rq import Queue

    name = app.config.get("RQ_QUEUE") or "vaxportal"  # tests use a queue of their own
    return Queue(name, connection=Redis.from_url(app.config["REDIS_URL"]))


class _PromptShutdown:
    """An RQ worker whose shutdown cannot hang on its command channel. RQ unsubscribes the
    channel's thread and then stops it; if the thread reads the reply to UNSUBSCRIBE before
    it is stopped, it waits for a subscription again (RQ's 60 s), and redis-py's ``stop()``
    waits for the thread: a ``vaxportal worker`` asked to stop (SIGTERM, a deployment)
    then took up to a minute, killed before that by a supervisor. Here the thread is told
    to stop first, so the reply to UNSUBSCRIBE ends its loop."""

    pubsub = pubsub_thread = None

    def unsubscribe(self) -> None:
        thread = self.pubsub_thread
        if thread is None:
            return
        thread.stop(timeout=0)  # its run flag cleared, without waiting for it
        self.pubsub.unsubscribe()
        thread.join(timeout=1)
        self.pubsub.close()


@functools.cache
def _worker_class(in_process: bool) -> type:
    from rq import SimpleWorker, Worker

    base = SimpleWorker if in_process else Worker
    return type(base.__name__, (_PromptShutdown, base), {})


def new_worker(queues: list, connection, *, in_process: bool = False):
    """The RQ worker of ``vaxportal worker`` (each job in a forked process), or with
    ``in_process`` one that runs each job in this process (``SimpleWorker``)."""
    return _worker_class(in_process)(queues, connection=connection)


@click.command("worker")
def worker_command() -> None:
    """Chạy tiến trình xử lý tác vụ nền trên Redis đã cấu hình (VAXPORTAL_REDIS_URL)."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException(_(
            "Chưa cấu hình VAXPORTAL_REDIS_URL; tác vụ nền chạy ngay trong tiến trình web."))
    global _worker_app, _worker_pid
    _worker_app, _worker_pid = app, os.getpid()  # each job's forked process starts from it
    queue = _queue(app)
    stop = threading.Event()
    threading.Thread(target=_run_schedule, args=(app, stop), daemon=True).start()
    try:
        new_worker([queue], queue.connection).work()
    finally:
        stop.set()


def _run_schedule(app: Flask, stop: threading.Event) -> None:
    """The worker's clock: enqueue what is due, now and every ``WORKER_TICK_SECONDS``."""
    while True:
        with app.app_context():
            try:
                enqueue_due(app)
            except Exception:  # Redis away for a moment: try again at the next tick
                log.exception("could not enqueue the scheduled jobs")
        if stop.wait(WORKER_TICK_SECONDS):
            return
