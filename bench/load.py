"""The load test (issue 13): Locust's simulated clinic staff, supervisors and exports
(``bench/locustfile.py``) against gunicorn with several workers and a ``vaxportal worker``,
on PostgreSQL and Redis, in production mode. ``make load`` runs it; ``.ci/run`` a short one.

    .venv/bin/python bench/load.py [--users 100] [--seconds 120] [--web-workers 4]
        [--uri postgresql+psycopg://postgres@127.0.0.1:5432/vax_load]
        [--redis redis://127.0.0.1:6379/15]

1. The database at ``--uri`` is dropped and made again (give it one of its own), migrated
   (``vaxportal db upgrade``) and filled with the demo province (``vaxportal seed-demo``);
   the Redis database at ``--redis`` is emptied. The demo accounts get a known password
   and a proven phone, as after their first sign-in.
2. gunicorn serves ``wsgi:app`` with production settings (no debug, no testing), behind
   one trusted proxy (``X-Forwarded-For``: each simulated person has an address of its
   own), its SMS going to the load test's gateway by the ``http`` backend; exports above
   ``EXPORT_JOB_THRESHOLD`` rows go to the worker.
3. Locust runs headless for ``--seconds`` with ``--users`` people; then the figures per
   request kind: count, p50, p95, p99 (ms), requests/s. Exit 1 on any failed request or
   error in a simulated person; answers 429 (the app's throttling) are counted apart and
   allowed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

import sqlalchemy as sa  # noqa: E402

LOAD_PASSWORD = "Tai-Thu#2026-Kx7"
#: the accounts the simulated people sign in with (the demo province's, not the admins)
ROLES = ("data_entry", "supervisor", "reviewer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings(args, folder: Path, sms_port: int) -> dict[str, str]:
    """The production configuration of every process, as ``VAXPORTAL_*`` environment."""
    keys = {key: secrets.token_urlsafe(32) for key in
            ("SECRET_KEY", "OTP_ENCRYPTION_KEY", "AUDIT_KEY")}
    values = {
        **keys,
        "SQLALCHEMY_DATABASE_URI": args.uri,
        "REDIS_URL": args.redis, "RATELIMIT_STORAGE_URI": args.redis,
        "RQ_QUEUE": "vaxportal-load",
        "AUDIT_CHECKPOINT_DIR": str(folder / "audit-checkpoints"),
        "EXPORT_DIR": str(folder / "exports"), "STATIC_BUILD_DIR": str(folder / "static"),
        "SMS_BACKEND": "http", "SMS_HTTP_URL": f"http://127.0.0.1:{sms_port}/sms",
        "PROXY_FIX_X_FOR": "1",
        # plain http on the loopback (behind the proxy, TLS would end there)
        "SESSION_COOKIE_SECURE": "false",
        # a few demo accounts shared by many simulated people: each signs in with a code
        "OTP_RESEND_PER_HOUR": "100000",
        # the province's export (the demo's few hundred people) runs on the worker
        "EXPORT_JOB_THRESHOLD": "100",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAXPORTAL_")}
    env.update({f"VAXPORTAL_{key}": value for key, value in values.items()})
    env["PYTHONPATH"] = str(ROOT)
    return env


def recreate_database(uri: str) -> None:
    url = sa.engine.make_url(uri)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def empty_redis(url: str) -> None:
    from redis import Redis

    connection = Redis.from_url(url)
    connection.flushdb()
    connection.close()


def command(env: dict, *args: str) -> None:
    done = subprocess.run([str(BIN / "vaxportal"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"vaxportal {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def prepare(env: dict, folder: Path) -> Path:
    """Migrate, seed the demo province (debug mode: its initial passwords go to a file of
    the run's folder), then give the demo accounts the load test's password; their
    usernames, phones and roles, for the locustfile, in ``accounts.json``."""
    command(env, "db", "upgrade")
    command(env | {"VAXPORTAL_DEBUG": "1", "VAXPORTAL_SMS_BACKEND":
                   f"file:{folder / 'seed-sms.jsonl'}"}, "seed-demo")
    script = ("from bench.load import activate; activate()")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"could not prepare the demo accounts:\n{done.stderr}")
    path = folder / "accounts.json"
    path.write_text(done.stdout)
    return path


def activate() -> None:
    """In the app's environment: every demo account of ``ROLES`` active, its phone proven,
    its password ``LOAD_PASSWORD`` (one hash for all); prints them as JSON."""
    from vaxportal import create_app
    from vaxportal.auth.models import Account, AccountStatus
    from vaxportal.auth.passwords import hash_password
    from vaxportal.extensions import db
    from vaxportal.timeutil import utcnow

    app = create_app()
    with app.app_context():
        digest = hash_password(LOAD_PASSWORD)
        accounts = db.session.scalars(sa.select(Account).where(Account.role.in_(ROLES))).all()
        for account in accounts:
            account.password_hash = digest
            account.must_change_password = False
            account.initial_password_expires_at = None
            account.status = AccountStatus.active
            account.phone_verified_at = utcnow()
        db.session.commit()
        print(json.dumps([{"username": a.username, "password": LOAD_PASSWORD,
                           "phone": a.phone, "role": a.role} for a in accounts]))


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and the processes below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and the cutime, cstime of the children it has reaped (a job's forked
        # process, gone by the end of the run: its CPU is its parent's cutime by then)
        total += sum(int(field) for field in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


#: issue 13's goals for the peak resident set of a web worker and of a job worker
WEB_WORKER_MB, JOB_WORKER_MB = 150, 200


class PeakWatch(threading.Thread):
    """The peak resident set (``VmHWM``) of every process below ``pid`` (``pid`` itself
    included unless ``children_only``), read every 20 ms during the run: a job's forked
    process lives only while its job runs."""

    def __init__(self, pid: int, *, children_only: bool = False) -> None:
        super().__init__(daemon=True)
        self.pid, self.children_only = pid, children_only
        self.peaks: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.read()

    def read(self) -> None:
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            try:
                todo += [int(child) for child in
                         Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
                if self.children_only and pid == self.pid:
                    continue
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
                    self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))

    def stop(self) -> float:
        """The largest peak seen (MB), after a last reading."""
        self.done.set()
        self.join()
        self.read()
        return max(self.peaks.values(), default=0.0)


def verdict(peak: float, goal: int) -> str:
    return f"{peak:6.1f} MB (goal <= {goal} MB) {'PASS' if peak <= goal else 'FAIL'}"


def report(prefix: Path, result: Path) -> tuple[int, int, int]:
    """Print the figures per request kind; (failed requests, errors, requests)."""
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(f"{prefix}_exceptions.csv", newline="") as handle:
        errors = list(csv.DictReader(handle))
    throttled = json.loads(result.read_text())["throttled"] if result.exists() else {}
    print(f"{'request kind':<45} {'count':>7} {'fail':>5} {'429':>5} {'p50':>6} {'p95':>6} "
          f"{'p99':>6} {'req/s':>7}   (times in ms)")
    failed = served = 0
    for row in rows:
        name, throttles = row["Name"], throttled.get(row["Name"], 0)
        if name == "Aggregated":
            name, throttles = "all requests", sum(throttled.values())
            failed, served = int(row["Failure Count"]), int(row["Request Count"])
        print(f"{name:<45} {row['Request Count']:>7} {row['Failure Count']:>5} "
              f"{throttles:>5} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6} "
              f"{float(row['Requests/s']):>7.1f}")
    for error in errors:
        print(f"error in a simulated person ({error['Count']}x): {error['Message']}")
    return failed, len(errors), served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--uri", default=os.environ.get(
        "LOAD_DATABASE_URI", "postgresql+psycopg://postgres@127.0.0.1:5432/vax_load"))
    parser.add_argument("--redis", default=os.environ.get(
        "LOAD_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vaxportal-load-"))
    sms_port = web_port = free_port()
    while web_port == sms_port:
        web_port = free_port()
    env = settings(args, folder, sms_port)
    print(f"load test: {args.users} users for {args.seconds} s, gunicorn -w {args.web_workers} "
          f"+ vaxportal worker, {os.cpu_count()} cores, load average before "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    started = time.monotonic()
    recreate_database(args.uri)
    empty_redis(args.redis)
    accounts = prepare(env, folder)
    print(f"database migrated and seeded in {time.monotonic() - started:.0f} s", flush=True)
    url = f"http://127.0.0.1:{web_port}"
    processes = []
    try:
        web = start([str(BIN / "gunicorn"), "-w", str(args.web_workers), "-b",
                     f"127.0.0.1:{web_port}", "--timeout", "120", "--log-level", "warning",
                     "wsgi:app"], env, folder / "gunicorn.log")
        processes.append(web)
        processes.append(start([str(BIN / "vaxportal"), "worker"], env, folder / "worker.log"))
        wait_ready(url, web, folder / "gunicorn.log")
        time.sleep(3)  # the other gunicorn workers finish building their app
        cpu_before = [cpu_seconds(process.pid) for process in processes]
        watches = [PeakWatch(web.pid, children_only=True), PeakWatch(processes[1].pid)]
        for watch in watches:
            watch.start()
        prefix, result = folder / "locust", folder / "result.json"
        locust = subprocess.run(
            [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
             "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
             "--run-time", f"{args.seconds}s", "--stop-timeout", "30", "--host", url,
             "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
             "--logfile", str(folder / "locust.log")],
            cwd=ROOT, env=env | {"LOAD_ACCOUNTS": str(accounts), "LOAD_SMS_PORT": str(sms_port),
                                 "LOAD_RESULT": str(result)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # its figures: the CSV files
            check=False)
        web_cpu, worker_cpu = (cpu_seconds(process.pid) - before
                               for process, before in zip(processes, cpu_before, strict=True))
        web_peak, job_peak = (watch.stop() for watch in watches)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        failed, errors, served = report(prefix, result)
        print(f"CPU used during the run: web processes {web_cpu:.1f} s "
              f"({1000 * web_cpu / max(served, 1):.1f} ms per request), "
              f"job worker {worker_cpu:.1f} s (its jobs' forked processes included)")
        print(f"peak resident set: a web worker {verdict(web_peak, WEB_WORKER_MB)}; the job "
              f"worker or a job's process {verdict(job_peak, JOB_WORKER_MB)}")
    finally:
        for process in reversed(processes):
            stop(process)
    if locust.returncode or failed or errors:
        print(f"FAIL: {failed} failed requests, {errors} errors (locust exit "
              f"{locust.returncode}); logs in {folder}")
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    print("PASS: no failed request (429s, the app's throttling, allowed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
