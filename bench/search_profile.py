"""Where a repeated search POST spends its time: the register's search box (the htmx POST of
``bench/scale.py``'s throughput, a signed-in session that keeps its cookie and searches the
same name again), through the test client of an app in production configuration (no
``TESTING``: the renderguard off, as under gunicorn), on a database ``bench/scale.py --keep``
built.

    .venv/bin/python bench/search_profile.py DB [--uri postgresql+psycopg://...] [--profile N]
        [--requests N] [--user bench.nurse]

``DB``: the folder of one kept scale (``/tmp/keep/scale-0.025``). Prints the process CPU per
request (the median of rounds of ``--requests``, beside a round of the bare page of
``bench/bare.py`` in the same process: a ratio as ``scale.py`` prints, without gunicorn, the
network or ``wrk``; and the least of each's rounds, which other work on a shared machine
inflates least), then with ``--profile N`` the cProfile of N requests timed by this process's
CPU clock, so a wait on the database server counts nothing (function calls per request, and
the top functions by own and by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.scale import shapes, sign_in  # noqa: E402
from vaxportal import create_app  # noqa: E402

HEADERS = {"HX-Request": "true", "Referer": "https://localhost/recipients/"}


def production_app(folder: Path, uri: str | None) -> flask.Flask:
    """The app as ``gunicorn wsgi:app`` makes it from ``bench/scale.py``'s environment."""
    if uri:
        url = sa.engine.make_url(uri)
        uri = url.set(database=f"{url.database}_{folder.name.replace('.', '_')}"
                      .replace("-", "_")).render_as_string(hide_password=False)
    return create_app({
        "SQLALCHEMY_DATABASE_URI": uri or f"sqlite:///{folder / 'bench.sqlite3'}",
        "SECRET_KEY": "bench", "OTP_ENCRYPTION_KEY": "bench", "AUDIT_KEY": "bench",
        "AUDIT_CHECKPOINT_DIR": str(folder / "audit-checkpoints"),
        "SMS_BACKEND": "http", "SMS_HTTP_URL": "http://127.0.0.1:9/",
        "EXPORT_DIR": str(folder / "exports"),
    })


def search_client(app, username: str):
    """A client whose cookie holds the session after its first search, and the POST's body."""
    cookie, csrf = sign_in(app, username)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, domain="localhost")
    _method, url, data = shapes(app, username)["name"]
    body = {**data, "csrf_token": csrf}
    first = client.post(url, data=body, headers=HEADERS, base_url="https://localhost")
    assert first.status_code == 200, first.status_code
    return client, url, body, first.data


def bare_client(size: int):
    os.environ["BENCH_BARE_BYTES"] = str(size)
    from bench import bare

    return bare.app.test_client()


def cpu_per_request(fn, count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        fn()
    return (time.process_time() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--uri")
    parser.add_argument("--user", default="bench.nurse")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    app = production_app(args.db, args.uri)
    client, url, body, answer = search_client(app, args.user)
    bare = bare_client(len(answer))

    def search():
        response = client.post(url, data=body, headers=HEADERS, base_url="https://localhost")
        assert response.status_code == 200
        return response

    def floor():
        assert bare.post("/", data={"q": "x"}).status_code == 200

    for _ in range(20):
        search()
        floor()
    mine, base = [], []
    for _ in range(args.rounds):
        base.append(cpu_per_request(floor, args.requests))
        mine.append(cpu_per_request(search, args.requests))
    app_ms, bare_ms = statistics.median(mine) * 1e3, statistics.median(base) * 1e3
    backend = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    print(f"{backend}: search POST ({len(answer)} B), CPU of this process per request: app "
          f"{app_ms:.2f} ms, bare {bare_ms:.2f} ms; bare / app {bare_ms / app_ms:.1%}; "
          f"the least of the rounds: app {min(mine) * 1e3:.2f} ms, bare "
          f"{min(base) * 1e3:.2f} ms, {min(base) / min(mine):.1%} "
          f"(rounds app {', '.join(f'{m * 1e3:.2f}' for m in mine)})")
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.profile):
            search()
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"function calls per request: {stats.total_calls / args.profile:.0f}")
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top * 2)


if __name__ == "__main__":
    main()
