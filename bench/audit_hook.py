"""What the audit trail costs a write (issue 13: "audit hook, 10,000 dose inserts"): doses
recorded the way the dose form records them (one ORM object, one commit), with the session
hook writing each dose's audit row into the chain, and the same inserts without the hook,
in alternate rounds on the same data so that a load on the shared machine weighs on both
alike. The coverage summary's session events are off in both, so only the trail differs.
Goal: audited <= 1.3x the same inserts without the hook.

    .venv/bin/python bench/audit_hook.py [--people 2000] [--doses 2000] [--uri ...]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.common import bench_app  # noqa: E402
from bench.summary_upkeep import arguments, people_and_vaccines, record  # noqa: E402
from vaxportal.audit import hook  # noqa: E402
from vaxportal.audit.models import AuditEvent  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.recipients.models import Dose  # noqa: E402
from vaxportal.reports import summary  # noqa: E402

GOAL = 1.3
ROUND = 10
#: doses per commit in the batched rounds (an import's batch is 500 rows)
BATCH = 200
#: the hook's session listeners (``hook.install``), taken off for the baseline's rounds
SESSION_LISTENERS = (("before_flush", hook._before_flush), ("after_flush", hook._after_flush),
                     ("after_flush_postexec", hook._flush_done),
                     ("do_orm_execute", hook._on_orm_execute),
                     ("after_soft_rollback", hook._forget_flush))


def trail(on: bool) -> None:
    """The hook and its engine guard (which refuses an audited table's write without its
    rows) on or off."""
    change = event.listen if on else event.remove
    for name, listener in SESSION_LISTENERS:
        if event.contains(db.session, name, listener) != on:
            change(db.session, name, listener)
    if event.contains(db.engine, "before_cursor_execute", hook._guard_cursor) != on:
        change(db.engine, "before_cursor_execute", hook._guard_cursor)


def main() -> None:
    args = arguments(doses=2000)  # in all, both ways
    app = bench_app(args.uri)
    with app.app_context():
        people, vaccines = people_and_vaccines(args.people)
        summary.uninstall()
        rng = random.Random(13)
        samples: dict[bool, list[float]] = {True: [], False: []}
        cpu: dict[bool, float] = {True: 0.0, False: 0.0}
        audit_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        for n in range(args.doses // (2 * ROUND)):
            for on in (n % 2 == 0, n % 2 == 1):
                trail(on)
                started = time.process_time()
                samples[on] += [record(rng, people, vaccines) for _ in range(ROUND)]
                cpu[on] += time.process_time() - started
        trail(True)
        summary.install()
        written = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent)) - audit_rows
        if written != len(samples[True]):
            raise SystemExit(f"{written} audit rows for {len(samples[True])} audited doses")
        audited, bare = (statistics.median(samples[k]) for k in (True, False))
        ratio, cpu_ratio = audited / bare, cpu[True] / cpu[False]
        print(f"{args.uri.split('@')[-1] if args.uri else 'SQLite'}: people {args.people}, "
              f"doses recorded {len(samples[True])} audited + {len(samples[False])} without")
        print(f"one dose without the hook: median {bare * 1e3:6.2f} ms "
              f"({1 / bare:6.0f} doses/s)")
        print(f"one dose, audited:         median {audited * 1e3:6.2f} ms "
              f"({1 / audited:6.0f} doses/s)  x{ratio:.2f}; by CPU x{cpu_ratio:.2f} "
              f"(goal <= {GOAL}x) {'PASS' if ratio <= GOAL else 'FAIL'}")
        batched(rng, people, vaccines, max(2, args.doses // (2 * BATCH)))
        db.session.rollback()


def batched(rng, people, vaccines, rounds: int) -> None:
    """``BATCH`` doses added, then one commit (one flush: one chain append for all their
    audit rows, as an import's batch writes them), alternately with and without the hook."""
    summary.uninstall()
    per_dose: dict[bool, list[float]] = {True: [], False: []}
    for n in range(rounds * 2):
        on = n % 2 == 0
        trail(on)
        started = time.perf_counter()
        for _ in range(BATCH):
            rid, facility = rng.choice(people)
            db.session.add(Dose(recipient_id=rid, facility_id=facility,
                                vaccine_id=rng.choice(vaccines), lot_number="L",
                                vaccinator="V", dose_number=rng.randrange(1, 5),
                                given_on=date(2022, 1, 1) + timedelta(days=rng.randrange(365))))
        db.session.commit()
        per_dose[on].append((time.perf_counter() - started) / BATCH)
    trail(True)
    summary.install()
    audited, bare = (statistics.median(per_dose[k]) for k in (True, False))
    print(f"{BATCH} doses a commit, {rounds} rounds each way: without the hook "
          f"{bare * 1e3:5.2f} ms a dose, audited {audited * 1e3:5.2f} ms  x{audited / bare:.2f} "
          f"(goal <= {GOAL}x) {'PASS' if audited / bare <= GOAL else 'FAIL'}")


if __name__ == "__main__":
    main()
