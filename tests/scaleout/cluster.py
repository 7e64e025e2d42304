"""Several vaxportal processes on one PostgreSQL and one Redis, driven over real HTTP.

``Cluster`` starts web processes (``gunicorn wsgi:app``, one worker each, on free ports of
127.0.0.1) and ``vaxportal worker`` processes, all configured through the ``VAXPORTAL_*``
environment the way a deployment configures them, from the test run's own settings
(``tests.settings.base_config``): the test's database, its Redis number, an RQ queue of their
own. Each process runs in a process group of its own, so that a worker's forked job process
dies with it. ``Browser`` is a client with a cookie jar shared by every process, as behind a
reverse proxy that spreads one browser's requests over several app servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html import unescape
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: how long a process may take to answer its first request (a loaded machine of two cores)
START_SECONDS = 120
#: how long a background job or a state change may take before the test gives up
WAIT_SECONDS = 90


def environment(config: dict) -> dict[str, str]:
    """The environment that configures an app as ``config`` does (``from_prefixed_env``
    reads each value as JSON), with this worktree's ``vaxportal`` first on the path."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("VAXPORTAL_", "PYTEST_"))}
    for key, value in config.items():
        env[f"VAXPORTAL_{key}"] = json.dumps(value)
    env["PYTHONPATH"] = str(ROOT)
    return env


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port free now, never one this process handed out before."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_for(what: str, check, seconds: float = WAIT_SECONDS, every: float = 0.05):
    """Poll ``check()`` until it returns something true; that value. Fails after ``seconds``
    (a ceiling against a hang, never a measurement)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(every)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL to the process and every process it started: RQ's job process (the "work
        horse") runs in a session of its own, outside the worker's process group."""
        for pid in [*_descendants(self.popen.pid), self.popen.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, children before their parents' parents (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found = children + found
        todo += children
    return found


@dataclass
class Web(Process):
    url: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


@dataclass
class Cluster:
    """Processes sharing one configuration; ``stop()`` ends every one still running."""

    config: dict
    folder: Path
    processes: list[Process] = field(default_factory=list)

    def _spawn(self, name: str, argv: list[str], **env) -> tuple[subprocess.Popen, Path]:
        log = self.folder / f"{name}-{len(self.processes)}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(argv, cwd=ROOT, env=environment(self.config) | env,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return popen, log

    def start_web(self, name: str) -> Web:
        """``gunicorn wsgi:app`` with one worker on a free port (not yet ready)."""
        port = free_port()
        popen, log = self._spawn(name, [str(BIN / "gunicorn"), "-w", "1", "--chdir", str(ROOT),
                                        "-b", f"127.0.0.1:{port}", "--timeout", "120",
                                        "--log-level", "warning", "wsgi:app"])
        web = Web(name, popen, log, url=f"http://127.0.0.1:{port}")
        self.processes.append(web)
        return web

    def start_worker(self, name: str = "worker") -> Process:
        """``vaxportal worker``: RQ on the configured Redis and queue. Its connections to
        PostgreSQL carry ``name`` as their application name."""
        popen, log = self._spawn(name, [str(BIN / "vaxportal"), "worker"], PGAPPNAME=name)
        worker = Process(name, popen, log)
        self.processes.append(worker)
        return worker

    def wait_ready(self, *webs: Web) -> None:
        """Each web process answers /healthz with 200 (its database reached)."""
        for web in webs:
            wait_for(f"{web} to start", lambda web=web: self._ready(web), START_SECONDS, 0.1)

    def _ready(self, web: Web) -> bool:
        if not web.alive():
            raise AssertionError(f"{web} stopped:\n{web.log_tail()}")
        try:
            with urllib.request.urlopen(web.url + "/healthz", timeout=5) as answer:
                return answer.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


# -- a browser over HTTP ----------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 comes back as it is, as the tests read it


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """One browser: its cookies (the session's and the device's) go to whichever process it
    talks to; the CSRF token is taken from the last page, as the app's JavaScript does."""

    def __init__(self) -> None:
        self.jar = CookieJar()
        self.csrf = ""
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirects())

    def get(self, web: Web, path: str, **headers) -> Answer:
        return self._send(urllib.request.Request(web.url + path, headers=headers))

    def post(self, web: Web, path: str, data: dict | None = None, *,
             files: dict[str, tuple[str, bytes]] | None = None, **headers) -> Answer:
        if files:
            body, content_type = _multipart(data or {}, files)
        else:
            body = urllib.parse.urlencode(data or {}).encode()
            content_type = "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, "X-CSRFToken": self.csrf, **headers}
        return self._send(urllib.request.Request(web.url + path, data=body, headers=headers,
                                                 method="POST"))

    def page(self, web: Web, path: str) -> Answer:
        """GET a page that must answer 200 (its CSRF token kept for the next POST)."""
        answer = self.get(web, path)
        assert answer.status == 200, f"GET {path} at {web}: {answer.status} {answer.location}"
        return answer

    def _send(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=WAIT_SECONDS) as response:
                answer = Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, dict(error.headers), error.read())
        found = _CSRF.search(answer.text) if "text/html" in answer.headers.get(
            "Content-Type", "") else None
        if found:
            self.csrf = unescape(found.group(1))
        return answer

    def sign_in(self, web: Web, username: str, password: str, outbox, *,
                code_at: Web | None = None) -> Answer:
        """The password page at ``web``, then the code sent by SMS, typed at ``code_at``
        (another process, if given). The answer to the code: 303 when signed in."""
        before = len(outbox())
        answer = self.password(web, username, password)
        assert answer.status == 303 and answer.location.endswith("/auth/otp"), answer.text
        target = code_at or web
        self.page(target, "/auth/otp")
        codes = [m["secret"] for m in outbox()[before:] if m["kind"] in ("login", "activation")]
        assert codes, "no sign-in code was sent"
        return self.post(target, "/auth/otp", {"code": codes[-1]})

    def password(self, web: Web, username: str, password: str) -> Answer:
        self.page(web, "/auth/login")
        return self.post(web, "/auth/login", {"username": username, "password": password})


def _multipart(fields: dict, files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, content) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
