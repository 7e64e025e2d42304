"""What the audit trail costs a write (issue 13: "audit hook, 10,000 dose inserts"): doses
recorded the way the dose form records them (one ORM object, one commit), with the session
hook writing each dose's audit row into the chain, and the same inserts without the hook,
in alternate rounds on the same data so that a load on the shared machine weighs on both
alike. The coverage summary's session events are off in both, so only the trail differs.
Goal: audited <= 1.3x the same inserts without the hook.

Two floors are measured in the same rounds, the parts any trail written in the write's own
transaction pays, without the hook's work: the same inserts each with one ready-made row
of the trail's shape sent by the driver into a table with the trail's columns and indexes
(``FLOOR_TABLE``), and the same with the chain's append lock and head read first (one more
round trip on PostgreSQL; on SQLite the head's read, the lock being the flush's own write).

    .venv/bin/python bench/audit_hook.py [--people 2000] [--doses 4000] [--uri ...]
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
from vaxportal.audit import chain, hook  # noqa: E402
from vaxportal.audit.models import AuditEvent  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.recipients.models import Dose  # noqa: E402
from vaxportal.reports import summary  # noqa: E402
from vaxportal.timeutil import utcnow  # noqa: E402

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


#: the ways one dose is recorded, in the order of the first round (each round turns it)
WAYS = ("without", "row", "row+lock", "audited")
LABELS = {"without": "without the hook", "row": "floor: + one ready-made row",
          "row+lock": "floor: + the lock and head", "audited": "audited"}
#: the floors' table: the trail's columns and indexes, none of its rows
FLOOR_TABLE = "bench_audit_floor"


def main() -> None:
    args = arguments(doses=4000)  # in all, every way
    app = bench_app(args.uri)
    with app.app_context():
        people, vaccines = people_and_vaccines(args.people)
        summary.uninstall()
        rng = random.Random(13)
        samples: dict[str, list[float]] = {way: [] for way in WAYS}
        cpu: dict[str, float] = dict.fromkeys(WAYS, 0.0)
        audit_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        floor = Floor()
        for n in range(args.doses // (len(WAYS) * ROUND)):
            for way in WAYS[n % len(WAYS):] + WAYS[:n % len(WAYS)]:
                trail(way == "audited")
                floor.on(way)
                started = time.process_time()
                samples[way] += [record(rng, people, vaccines) for _ in range(ROUND)]
                cpu[way] += time.process_time() - started
                floor.off()
        floor.drop()
        trail(True)
        summary.install()
        written = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent)) - audit_rows
        if written != len(samples["audited"]):
            raise SystemExit(f"{written} audit rows for {len(samples['audited'])} audited doses")
        median = {way: statistics.median(samples[way]) for way in WAYS}
        bare = median["without"]
        print(f"{args.uri.split('@')[-1] if args.uri else 'SQLite'}: people {args.people}, "
              f"doses recorded {len(samples['audited'])} each way, one a commit")
        for way in WAYS:
            line = (f"  {LABELS[way]:28s} median {median[way] * 1e3:6.3f} ms "
                    f"({1 / median[way]:6.0f} doses/s)  x{median[way] / bare:.2f}; "
                    f"CPU {cpu[way] / len(samples[way]) * 1e3:.3f} ms a dose, "
                    f"x{cpu[way] / cpu['without']:.2f}")
            if way == "audited":
                line += f" (goal <= {GOAL}x) {'PASS' if median[way] / bare <= GOAL else 'FAIL'}"
            print(line)
        batched(rng, people, vaccines, max(2, args.doses // (2 * BATCH)))
        db.session.rollback()


class Floor:
    """The floors' ready-made row, sent after each flush of the rounds of ``row`` and
    ``row+lock``: the trail's insert by the driver into ``FLOOR_TABLE``, with fixed values
    (a dose's insert as the hook would record it, its hashes made up) and a new id."""

    def __init__(self) -> None:
        conn = db.session.connection()
        self.dialect = conn.dialect
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")  # a run cut short's
        if self.dialect.name == "postgresql":
            conn.exec_driver_sql(f"CREATE TABLE {FLOOR_TABLE} (LIKE audit_event INCLUDING ALL)")
        else:
            table = AuditEvent.__table__.to_metadata(sa.MetaData(), name=FLOOR_TABLE)
            for index in table.indexes:
                index.name = f"{FLOOR_TABLE}_{index.name}"
            table.create(conn)
        db.session.commit()
        self.statements = chain._statements(self.dialect)
        self.insert = self.statements.insert.replace("audit_event", FLOOR_TABLE, 1)
        self.next_id, self.way = 0, None
        self.changes = ('{"dose_number":[null,2],"given_on":[null,"2022-03-04"],'
                        '"lot_number":[null,"L"],"recipient_id":[null,12],'
                        '"vaccine_id":[null,3],"vaccinator":[null,"V"]}')

    def on(self, way: str) -> None:
        if way in ("row", "row+lock"):
            event.listen(db.session, "after_flush", self._send)
            self.way = way

    def off(self) -> None:
        if self.way is not None:
            event.remove(db.session, "after_flush", self._send)
            self.way = None

    def _send(self, session, _context) -> None:
        self.next_id += 1
        full = dict.fromkeys(self.statements.keys)
        full.update(id=self.next_id, at=utcnow(), category="data", action="insert",
                    entity="dose", entity_id=str(self.next_id), facility_id=1, account_id=1,
                    actor="bench", prev_hash="0" * 64, row_hash="1" * 64)
        values = self.statements.values(full, {"changes": self.changes, "details": None})
        cursor = session.connection().connection.dbapi_connection.cursor()
        try:
            lock = self.way == "row+lock"
            if lock and self.dialect.name == "postgresql":
                cursor.execute(self.statements.locked_head)
                cursor.nextset()
                cursor.fetchone()
            elif lock:
                cursor.execute(self.statements.head)
                cursor.fetchone()
            cursor.execute(self.insert, self.statements.parameters(values))
        finally:
            cursor.close()

    def drop(self) -> None:
        db.session.connection().exec_driver_sql(f"DROP TABLE {FLOOR_TABLE}")
        db.session.commit()


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
