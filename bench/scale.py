"""The register at province scale against the floor of its own stack (issue 13), each app
figure beside a baseline measured in the same run, with PASS/FAIL against the issue's goal.

    .venv/bin/python bench/scale.py [--small 0.005] [--large 0.05] [--uri postgresql+psycopg://...]

1. p95 growth: the register's requests (name, national ID, no filter, deep page) as a
   commune nurse, a district supervisor and the provincial reviewer, through the whole
   Flask request (test client), on a small and on a large database made by
   ``bench/generate.py``; the goal is p95(large) / p95(small) <= 1.5.
2. Throughput on the large database: the search box's htmx POST under ``gunicorn -w 2``
   (production configuration) against a bare Flask + Jinja page of the same size served by
   the same gunicorn settings; ``wrk``, rounds interleaved; goal >= 50 %. Then the peak
   resident set of a web worker (goal <= 150 MB).
3. Export of the reviewer's whole province: ``columns.iter_rows`` into
   ``xlsx.write_workbook`` against raw XlsxWriter ``constant_memory`` fed from one
   server-side cursor of the same columns; goal <= 1.3x.

With ``--uri`` (PostgreSQL) both databases are made in turn in that one database: give it
one of its own. Without, SQLite files in a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import xlsxwriter  # noqa: E402
from flask_wtf.csrf import generate_csrf  # noqa: E402

from bench.common import bench_app  # noqa: E402
from bench.generate import generate  # noqa: E402
from vaxportal.audit import integrity  # noqa: E402
from vaxportal.auth.models import Account, UserSession  # noqa: E402
from vaxportal.exports import columns as export_columns  # noqa: E402
from vaxportal.exports import xlsx  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.recipients.models import Recipient  # noqa: E402
from vaxportal.recipients.search import RegisterFilter  # noqa: E402
from vaxportal.timeutil import utcnow  # noqa: E402

ROLES = (("nurse, own commune station", "bench.nurse"),
         ("supervisor, district", "bench.supervisor"),
         ("reviewer, province", "bench.reviewer"))
REQUESTS = 40  # per shape and role, for a p95
GROWTH_GOAL = 1.5
THROUGHPUT_GOAL = 0.5
EXPORT_GOAL = 1.3
WORKER_MB_GOAL = 150
VERIFY_GOAL = 100_000  # rows/s of CPU


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- signed-in requests ---------------------------------------------------------------------

def sign_in(app, username: str) -> tuple[str, str]:
    """(session cookie, CSRF token) of a full session of ``username``, as after the OTP."""
    token = secrets.token_urlsafe(32)
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.username == username))
        db.session.add(UserSession(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                   account_id=account.id, stage="full",
                                   otp_verified_at=utcnow()))
        db.session.commit()
    with app.test_request_context():
        flask.session["sid"] = token
        csrf = generate_csrf()
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(flask.session))
    return cookie, csrf


def client_for(app, username: str):
    cookie, csrf = sign_in(app, username)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, domain="localhost")
    client.csrf = csrf
    return client


def shapes(app, username: str) -> dict[str, tuple[str, str, dict]]:
    """The requests measured, with a name and an ID that exist in the account's scope."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.username == username))
        stmt = RegisterFilter().statement(account, Recipient.full_name, Recipient.national_id)
        full_name, national_id = db.session.execute(stmt.offset(7).limit(1)).one()
    return {
        "name": ("POST", "/recipients/", {"q": full_name}),
        "national ID": ("POST", "/recipients/", {"q": national_id}),
        "no filter": ("GET", "/recipients/", {}),
        "deep page (80)": ("GET", "/recipients/?page=80", {}),
    }


def timed_requests(client, method: str, url: str, data: dict, count: int) -> list[float]:
    # over https (the session cookie is Secure) CSRF checks the referrer too
    headers = {"HX-Request": "true", "Referer": "https://localhost/recipients/"}
    samples = []
    for _ in range(count + 2):
        start = time.perf_counter()
        if method == "POST":
            response = client.post(url, data={**data, "csrf_token": client.csrf},
                                   headers=headers, base_url="https://localhost")
        else:
            response = client.get(url, headers=headers, base_url="https://localhost")
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{method} {url}: {response.status_code}")
    return samples[2:]  # after two warm-up requests


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def latencies(app) -> dict[tuple[str, str], float]:
    found = {}
    for label, username in ROLES:
        client = client_for(app, username)
        for shape, (method, url, data) in shapes(app, username).items():
            found[(label, shape)] = p95(timed_requests(client, method, url, data, REQUESTS))
    return found


# -- throughput under gunicorn ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(target: str, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", target],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn {target} stopped (exit {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn {target} did not start")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def worker_peak_mb(process: subprocess.Popen) -> float:
    """The largest peak resident set (VmHWM) among the master's workers."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(process.pid)],
                              capture_output=True, text=True, check=False).stdout.split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
    return max(peaks)


def workers_cpu(process: subprocess.Popen) -> float:
    """Seconds of CPU (user + system) the master's workers have used so far: on a loaded
    machine the CPU a request costs holds better than the requests a second."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(process.pid)],
                              capture_output=True, text=True, check=False).stdout.split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """Seconds of CPU the whole machine has been busy (every core; ``/proc/stat``): the
    workers, the database server, ``wrk`` and the kernel."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, path: str, body: str, cookie: str, seconds: int) -> tuple[float, int]:
    """(requests a second, requests answered) of one ``wrk`` round."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        'wrk.headers["HX-Request"] = "true"\n'
        f'wrk.headers["Cookie"] = "vaxportal={cookie}"\n')
    try:
        # wrk's default 2 s timeout drops the slow answers of a loaded machine uncounted
        out = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "--timeout", "30s",
                              "-s", str(script),
                              f"http://127.0.0.1:{port}{path}"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        script.unlink()
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors:.*timeout (\d+)", out)
    if failed and any(int(n) for n in failed.groups() if n):
        raise SystemExit(f"wrk: failed or timed-out answers on {path}\n{out}")
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            int(re.search(r"(\d+) requests in", out).group(1)))


def throughput(app, tmp: Path, rounds: int = 3, seconds: int = 8) -> None:
    """Two ways of sending the same search, each against the bare page in the same rounds.
    ``wrk`` replays one cookie and never keeps the one it is given back:

    * "again in its session": the cookie a browser holds after its first search (the
      session's search salt and sweep time): the search is found stored, nothing written;
    * "first of a session": the cookie right after sign-in, so every request is a browser
      session's first search (a new salt: the sweep's DELETE, the search's INSERT and a
      commit that writes), as this benchmark measured before 3 December 2026."""
    from urllib.parse import urlencode

    cookie, csrf = sign_in(app, "bench.nurse")
    _label, (_m, url, data) = "name", shapes(app, "bench.nurse")["name"]
    body = urlencode({**data, "csrf_token": csrf})
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, domain="localhost")
    answer = client.post(url, data={**data, "csrf_token": csrf},
                         headers={"HX-Request": "true", "Referer": "https://localhost/"},
                         base_url="https://localhost")
    size = len(answer.data)
    searched = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="localhost").value
    env = {"VAXPORTAL_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
           "VAXPORTAL_SECRET_KEY": app.config["SECRET_KEY"],
           "VAXPORTAL_OTP_ENCRYPTION_KEY": "bench", "VAXPORTAL_AUDIT_KEY": "bench",
           "VAXPORTAL_AUDIT_CHECKPOINT_DIR": str(tmp / "checkpoints"),
           # a gateway never called: no search sends an SMS
           "VAXPORTAL_SMS_BACKEND": "http", "VAXPORTAL_SMS_HTTP_URL": "http://127.0.0.1:9/",
           "VAXPORTAL_EXPORT_DIR": str(tmp / "exports"), "BENCH_BARE_BYTES": str(size)}
    vax, vax_port = start_gunicorn("wsgi:app", env)
    bare, bare_port = start_gunicorn("bench.bare:app", env)
    ways = {"again in its session": searched, "first of a session": cookie}
    try:
        for way in ways.values():  # warm-up: both workers have served
            wrk(vax_port, url, body, way, 3)
        wrk(bare_port, "/", "q=x", "-", 3)
        rates: dict[str, list[float]] = {name: [] for name in [*ways, "bare"]}
        # seconds of the workers' CPU, of the whole machine's, requests
        cpu = {name: [0.0, 0.0, 0] for name in rates}
        for _ in range(rounds):
            for name, way in ways.items():
                for key, server, port, args in ((name, vax, vax_port, (url, body, way)),
                                                ("bare", bare, bare_port, ("/", "q=x", "-"))):
                    before, machine = workers_cpu(server), machine_cpu()
                    rate, served = wrk(port, *args, seconds)
                    rates[key].append(rate)
                    cpu[key][0] += workers_cpu(server) - before
                    cpu[key][1] += machine_cpu() - machine
                    cpu[key][2] += served
        peak = worker_peak_mb(vax)
    finally:
        stop(vax)
        stop(bare)
    floor = statistics.median(rates["bare"])
    print(f"search POST (htmx, {size} B) under gunicorn -w 2, wrk -c4; bare Flask + Jinja, "
          f"same size: {floor:7.1f} req/s")
    for name in ways:
        mine = statistics.median(rates[name])
        print(f"  {name:<22} {mine:7.1f} req/s; {mine / floor:6.1%} of bare "
              f"(goal >= {THROUGHPUT_GOAL:.0%}) {verdict(mine / floor >= THROUGHPUT_GOAL)}")
    per_request = {name: spent / max(1, served) for name, (spent, _, served) in cpu.items()}
    machine = {name: spent / max(1, served) for name, (_, spent, served) in cpu.items()}
    print("  CPU of the web workers per request: " + "; ".join(
        f"{name} {ms * 1e3:.2f} ms" for name, ms in per_request.items())
        + "; bare / app: " + ", ".join(f"{name} {per_request['bare'] / per_request[name]:.1%}"
                                       for name in ways))
    # what the machine spends beside the workers (the database server, wrk, the kernel)
    # stays when the workers get cheaper: the share reached if the app's workers cost no
    # more than the bare page's, on this machine, is the most a faster app can give
    bound = {name: machine["bare"] / (machine[name] - per_request[name] + per_request["bare"])
             for name in ways}
    print("  CPU of the whole machine per request: " + "; ".join(
        f"{name} {ms * 1e3:.2f} ms" for name, ms in machine.items())
        + "; if the app's workers cost the bare page's: " + ", ".join(
            f"{name} {share:.1%}" for name, share in bound.items()))
    print("  rounds: " + "; ".join(f"{name} {', '.join(f'{r:.0f}' for r in found)}"
                                   for name, found in rates.items()))
    print(f"web worker peak resident set: {peak:6.1f} MB (goal <= {WORKER_MB_GOAL} MB) "
          f"{verdict(peak <= WORKER_MB_GOAL)}")


# -- export ---------------------------------------------------------------------------------

def export_app(app, path: Path, upto: int) -> int:
    with app.app_context():
        account = db.session.scalar(
            sa.select(Account).where(Account.username == "bench.reviewer"))
        keys, masked = export_columns.plan_for(account)
        rows = export_columns.iter_rows(RegisterFilter(), account, keys, masked, upto=upto)
        mark = xlsx.Watermark(account=account.username, person="", at=datetime.now(UTC),
                              export_id="bench", scope="bench")
        result = xlsx.write_workbook(str(path), export_columns.build_columns(keys), rows,
                                     watermark=mark)
        db.session.rollback()
        return result.rows


def export_raw(app, path: Path, upto: int) -> int:
    """The floor: one server-side cursor of the same columns in the same order, written
    row by row by XlsxWriter in constant-memory mode."""
    with app.app_context():
        stmt = (sa.select(*export_columns._select_columns())
                .join_from(Recipient, export_columns.Facility,
                           export_columns.Facility.id == Recipient.facility_id)
                .where(Recipient.merged_into_id.is_(None), Recipient.id <= upto)
                .order_by(Recipient.name_key, Recipient.id))
        workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = workbook.add_worksheet()
        count = 0
        with db.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(stmt)
            for count, row in enumerate(result, start=1):
                sheet.write_row(count, 0, [value if not hasattr(value, "isoformat")
                                           else value.isoformat() for value in row])
        workbook.close()
        return count


def export(app, tmp: Path, upto: int, rounds: int = 2) -> None:
    mine, floor, rows = [], [], 0
    for n in range(rounds):
        for fn, samples in ((export_raw, floor), (export_app, mine)):
            start = time.perf_counter()
            rows = fn(app, tmp / f"{fn.__name__}-{n}.xlsx", upto)
            samples.append(time.perf_counter() - start)
    ratio = min(mine) / min(floor)
    print(f"export of {rows} rows: app {min(mine):6.1f} s; raw XlsxWriter constant_memory "
          f"from one server-side cursor {min(floor):6.1f} s; x{ratio:5.2f} "
          f"(goal <= {EXPORT_GOAL}) {verdict(ratio <= EXPORT_GOAL)}")


# -- audit verify -----------------------------------------------------------------------------

def verify(app) -> None:
    """``vaxportal audit verify`` over the large database's whole trail (the generator writes
    the hook's rows for every person and dose); goal >= 100,000 rows/s of CPU, as in
    ``bench/audit_verify.py``, which also measures hashing alone."""
    with app.app_context():
        start, cpu = time.perf_counter(), time.process_time()
        result = integrity.verify_now()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rate = result.checked / max(cpu, 1e-9)
    print(f"audit verify of {result.checked:,} rows (ok={result.ok}): {wall:6.1f} s wall, "
          f"{result.checked / max(wall, 1e-9):,.0f} rows/s wall, {rate:,.0f} rows/s CPU "
          f"(goal >= {VERIFY_GOAL:,}) {verdict(result.ok and rate >= VERIFY_GOAL)}")


# -- the run ----------------------------------------------------------------------------------

def kept_database(uri: str | None, folder: Path) -> str | None:
    """The database of one kept scale: a SQLite file in ``folder``, or on PostgreSQL a
    database of its own named after the folder, made when missing."""
    if uri is None:
        return None
    url = sa.engine.make_url(uri)
    name = f"{url.database}_{folder.name.replace('.', '_').replace('-', '_')}"
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = sa.text("SELECT 1 FROM pg_database WHERE datname = :n")
        if conn.scalar(found, {"n": name}) is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def build(uri: str | None, scale: float, keep: Path | None = None):
    """The database at ``scale``; with ``keep``, built once into a folder (and on
    PostgreSQL a database) of that scale and reused by later runs."""
    folder = keep / f"scale-{scale}" if keep else None
    if folder is not None:
        uri = kept_database(uri, folder)
        done = folder / "built"
        if done.exists():
            print(f"scale {scale}: reusing {done.read_text().strip()}", flush=True)
            return bench_app(uri, folder, fresh=False)
    started = time.perf_counter()
    # the register, the export and the audit trail never read the coverage summary
    app, _place, counts = generate(uri, scale, summary_tables=False, folder=folder)
    line = (", ".join(f"{v} {k}" for k, v in counts.items())
            + f", built in {time.perf_counter() - started:.0f} s")
    print(f"scale {scale}: {line}", flush=True)
    if folder is not None:
        (folder / "built").write_text(f"{line} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=float, default=0.0025, help="5,000 recipients")
    parser.add_argument("--large", type=float, default=0.025, help="50,000 recipients")
    parser.add_argument("--export-rows", type=int, default=20_000)
    parser.add_argument("--full", action="store_true",
                        help="a province: 100,000 -> 2,000,000 recipients, 1,000,000 exported")
    parser.add_argument("--uri")
    parser.add_argument("--keep", type=Path,
                        help="build each scale's database once into this folder (on "
                             "PostgreSQL: a database per scale named after --uri's) and "
                             "reuse it on later runs")
    parser.add_argument("--only-build", action="store_true",
                        help="with --keep: build the databases and stop")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["growth", "throughput", "export", "verify"])
    args = parser.parse_args()
    if args.full:
        args.small, args.large, args.export_rows = 0.05, 1.0, 1_000_000
    tmp = Path(tempfile.mkdtemp(prefix="vaxscale-"))
    if args.only_build:
        for scale in (args.small, args.large):
            build(args.uri, scale, args.keep)
        return
    small = {}
    if "growth" not in args.skip:
        small = latencies(build(args.uri, args.small, args.keep))
    app = build(args.uri, args.large, args.keep)
    if "growth" not in args.skip:
        large = latencies(app)
        print(f"p95 of {REQUESTS} requests, scale {args.small} -> {args.large} "
              f"(goal: growth <= {GROWTH_GOAL}x)")
        for (label, shape), before in small.items():
            after = large[(label, shape)]
            print(f"  {label:<28} {shape:<16} {before * 1e3:8.1f} ms -> {after * 1e3:8.1f} ms"
                  f"  x{after / before:5.2f} {verdict(after / before <= GROWTH_GOAL)}")
    if "throughput" not in args.skip:
        throughput(app, tmp)
    if "export" not in args.skip:
        export(app, tmp, args.export_rows)
    if "verify" not in args.skip:
        verify(app)


if __name__ == "__main__":
    main()
