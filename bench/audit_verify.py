"""`vaxportal audit verify` against the floor it cannot go below: hashing the same rows alone.

    .venv/bin/python bench/audit_verify.py [--rows 100000] [--uri …]

The trail is filled with ``--rows`` chained rows shaped like the hook's (an insert of a
recipient: a dozen fields with Vietnamese text, a dose, an access event), written through
``chain.append`` in batches, and checkpointed. Then, alternately: the whole verification
(``integrity.verify_now``: read every row, recompute its keyed hash, check every link and
the checkpoint) and the baseline, the keyed hash (HMAC-SHA256) of each row's canonical bytes
already in memory. The goal of issue 13: at least 100,000 rows/s.
"""

from __future__ import annotations

import argparse
import hmac
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_app  # noqa: E402
from vaxportal.audit import chain, integrity  # noqa: E402
from vaxportal.extensions import db  # noqa: E402

GOAL = 100_000  # rows/s


def fake_rows(count: int) -> list[dict]:
    """Rows as the hook and ``record`` write them (without id and hashes)."""
    rows = []
    for i in range(count):
        kind = i % 3
        base = {"account_id": 1 + i % 50, "custodian_id": 1 + i % 50, "session_id": i % 997,
                "actor": f"account:tyt{i % 50:03d}", "ip": "10.0.0.7",
                "request_id": f"{i:016x}", "facility_id": 1 + i % 40}
        if kind == 0:
            rows.append({**base, "category": "data", "action": "insert", "entity": "recipient",
                         "entity_id": str(i), "changes": {
                             "full_name": {"old": None, "new": f"Nguyễn Văn Ấn {i}"},
                             "date_of_birth": {"old": None, "new": "1987-03-14"},
                             "gender": {"old": None, "new": "male"},
                             "national_id": {"old": None, "new": f"{i:012d}"},
                             "phone": {"old": None, "new": "+84912345678"},
                             "province": {"old": None, "new": "89"},
                             "ward": {"old": None, "new": "30280"},
                             "street": {"old": None, "new": "Số 12, đường Trần Hưng Đạo"},
                             "facility_id": {"old": None, "new": 1 + i % 40}}})
        elif kind == 1:
            rows.append({**base, "category": "data", "action": "insert", "entity": "dose",
                         "entity_id": str(i), "changes": {
                             "recipient_id": {"old": None, "new": i - 1},
                             "vaccine_id": {"old": None, "new": 3},
                             "lot_number": {"old": None, "new": "AB1234"},
                             "dose_number": {"old": None, "new": 1},
                             "given_on": {"old": None, "new": "2026-11-02"}}})
        else:
            rows.append({**base, "category": "access", "action": "view_identity",
                         "entity": "recipient", "entity_id": str(i - 2),
                         "details": {"fields": ["national_id", "phone"]}})
    return rows


def fill(app, count: int, batch: int = 5000) -> None:
    rows = fake_rows(count)
    with app.app_context():
        for start in range(0, count, batch):
            with db.engine.begin() as conn:
                chain.append(conn, rows[start:start + batch])
        integrity.take_checkpoint()


def hashing_alone(app) -> tuple[float, float]:
    """Wall and CPU seconds to HMAC every row's canonical bytes, already in memory (the
    floor)."""
    with app.app_context(), db.engine.connect() as conn:
        blobs = [chain.canonical(row) for row in chain._rows(conn, 5000)]
        key = chain.chain_key()
    start, cpu = time.perf_counter(), time.process_time()
    for blob in blobs:  # the one-call HMAC of OpenSSL, as ``verify`` hashes
        hmac.digest(key, blob, "sha256").hex()
    return time.perf_counter() - start, time.process_time() - cpu


def verification(app, rows: int) -> tuple[float, float]:
    """Wall and CPU seconds of the whole verification (CPU: this process; on SQLite the
    database works in it too, so on a shared machine it is the fairer figure)."""
    with app.app_context():
        start, cpu = time.perf_counter(), time.process_time()
        verdict = integrity.verify_now()
        took = time.perf_counter() - start, time.process_time() - cpu
    assert verdict.ok and verdict.checked == rows, verdict
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uri")
    args = parser.parse_args()
    app = bench_app(args.uri)
    start = time.perf_counter()
    fill(app, args.rows)
    print(f"{args.rows:,} audit rows written in {time.perf_counter() - start:.1f} s "
          f"({app.config['SQLALCHEMY_DATABASE_URI'].split(':', 1)[0]})")
    verify_s, base_s = [], []
    for _ in range(args.rounds):
        base_s.append(hashing_alone(app))
        verify_s.append(verification(app, args.rows))
    print(f"{'':<46} {'wall rows/s':>12} {'CPU rows/s':>12}   ratio (wall, CPU)")
    base = [statistics.median(s[i] for s in base_s) for i in (0, 1)]
    verify = [statistics.median(s[i] for s in verify_s) for i in (0, 1)]
    for name, pair in (("hashing alone (HMAC of bytes in memory)", base),
                       ("vaxportal audit verify", verify)):
        print(f"{name:<46} {args.rows / pair[0]:12,.0f} {args.rows / max(pair[1], 1e-9):12,.0f}"
              f"   x{pair[0] / base[0]:5.2f}, x{pair[1] / max(base[1], 1e-9):5.2f}")
    rate = args.rows / max(verify[1], 1e-9)
    print(f"goal >= {GOAL:,} rows/s (CPU): {'PASS' if rate >= GOAL else 'FAIL'}")


if __name__ == "__main__":
    main()
