"""Background jobs: a thread of the web process by default, RQ workers when Redis is set.

``JOBS_MODE``: ``thread`` (default), ``rq`` (default when ``REDIS_URL`` is set) or ``sync``
(runs at once; tests). A job is named by its dotted path so that an RQ worker can import it.
"""

from __future__ import annotations

import importlib
import logging
import threading

import click
from flask import Flask, current_app
from flask_babel import gettext as _

from vaxportal import create_app

log = logging.getLogger(__name__)
_worker_app: Flask | None = None


def init_app(app: Flask) -> None:
    if not app.config.get("JOBS_MODE"):
        app.config["JOBS_MODE"] = "rq" if app.config.get("REDIS_URL") else "thread"
    app.cli.add_command(worker_command)


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
        except Exception:  # a job records its own failure; this only keeps the thread quiet
            log.exception("background job %s failed", func_path)


def run_in_worker(func_path: str, *args):
    """Entry point RQ calls in the worker process."""
    global _worker_app
    if _worker_app is None:
        _worker_app = create_app()
    with _worker_app.app_context():
        return _call(func_path, args)


def _queue(app: Flask):
    from redis import Redis
    from rq import Queue

    name = app.config.get("RQ_QUEUE") or "vaxportal"  # tests use a queue of their own
    return Queue(name, connection=Redis.from_url(app.config["REDIS_URL"]))


@click.command("worker")
def worker_command() -> None:
    """Chạy tiến trình xử lý tác vụ nền trên Redis đã cấu hình (VAXPORTAL_REDIS_URL)."""
    from rq import Worker

    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException(_(
            "Chưa cấu hình VAXPORTAL_REDIS_URL; tác vụ nền chạy ngay trong tiến trình web."))
    queue = _queue(app)
    Worker([queue], connection=queue.connection).work()
