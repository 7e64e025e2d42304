"""The production servers of the ``deploy`` extra serve ``wsgi:app`` (docs/deploy.md):
gunicorn on Linux, waitress on Windows. Each is started on a free port with the production
configuration (secrets from the environment, no debug) and answers one request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from vaxportal import ROOT

BIN = Path(sys.executable).parent
#: the command of each server, and the words of its log line once it listens
SERVERS = {
    "gunicorn": (["gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", "wsgi:app"], "Listening at"),
    "waitress": (["waitress-serve", "--listen=127.0.0.1:{port}", "wsgi:app"], "Serving on"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def static_build(tmp_path_factory) -> Path:
    """One folder of hashed static files for both servers (built once, at the first start)."""
    return tmp_path_factory.mktemp("static")


def _environment(tmp_path: Path, static: Path) -> dict:
    settings = {
        "SECRET_KEY": "k" * 48, "OTP_ENCRYPTION_KEY": "o" * 48, "AUDIT_KEY": "a" * 48,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'vaxportal.sqlite3'}",
        "STATIC_BUILD_DIR": str(static), "EXPORT_DIR": str(tmp_path / "exports"),
        "AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "SMS_BACKEND": "http", "SMS_HTTP_URL": "http://127.0.0.1:9/",  # never called here
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("VAXPORTAL_")}
    return {**env, **{f"VAXPORTAL_{key}": value for key, value in settings.items()}}


@pytest.mark.parametrize("server", list(SERVERS))
def test_the_server_serves_wsgi_app(server, static_build, tmp_path):
    command, ready = SERVERS[server]
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / command[0]), *(part.format(port=port) for part in command[1:])],
        cwd=ROOT, env=_environment(tmp_path, static_build), stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    log = []
    try:
        for line in process.stderr:  # the server's log, until it listens (or stops)
            log.append(line)
            if ready in line:
                break
        assert process.poll() is None, "".join(log[-20:])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as answer:
            assert answer.status == 200
            assert json.load(answer) == {"status": "ok", "db": "ok"}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
