"""Import of a recipient list (issue 13): the app's whole import of N rows, the dry run and
the writing (``exports.importing.check_import`` then ``run_import``, as their jobs run them:
every row checked by the register form's rules, duplicates looked up per batch, one
transaction per batch with its audit rows) against the floor of the stack on the same file:
openpyxl read-only, each name folded, one ``executemany`` INSERT per batch into a copy of the
recipient's columns, one commit per batch.

    .venv/bin/python bench/import_speed.py [--rows 5000] [--rounds 1] [--uri …] [--stages]
        [--problems 0.02]

``--stages``: the CPU seconds of each stage (read, row checks, duplicates, report, writing)
against the floor's, to see where the time goes. ``--problems``: that share of the rows
carries an error, so the dry run also writes its report's workbook of every row (a list
where every row is ready gets none); the floor imports every row either way.

The baseline runs before and after the app (the faster of the two is kept, so a busy moment
of the machine does not flatter the ratio). ``--rounds N``: N imports of N different lists
into the same register, each between two runs of the floor on its own list (floor, app,
floor, app, floor, ...), so that a loaded machine's swings meet both; each round's ratio is
printed, and the median of the apps' times against the median of the floors'. The CPU
seconds of this process are compared too (steadier on a loaded machine; on PostgreSQL the
server's share is in the wall clock only). Goal of issue 13: at most x3 of the baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_babel import force_locale

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openpyxl  # noqa: E402
import xlsxwriter  # noqa: E402

from bench.common import bench_app  # noqa: E402
from vaxportal import gender  # noqa: E402
from vaxportal.auth.models import Account, AccountStatus  # noqa: E402
from vaxportal.exports import checks, importing, storage  # noqa: E402
from vaxportal.exports.models import ImportJob, JobStatus  # noqa: E402
from vaxportal.exports.reader import iter_rows, write_error_report  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.facilities import tree  # noqa: E402
from vaxportal.facilities.models import FacilityKind  # noqa: E402
from vaxportal.recipients.demo import _person  # noqa: E402
from vaxportal.recipients.fields import FIELD_KEYS  # noqa: E402
from vaxportal.recipients.services import register_batch  # noqa: E402
from vaxportal.text import fold  # noqa: E402
from vaxportal.timeutil import utcnow  # noqa: E402

GOAL = 3.0
BATCH = 500


def write_list(path: Path, rows: int, seed: int = 13, used: set | None = None,
               problems: float = 0.0) -> int:
    """``rows`` generated people under the import template's headers, as a person fills it
    (gender as its word, codes as their labels, dates as dates); ``used``: national IDs
    not to give again (those of the lists of earlier rounds). ``problems``: the share of
    rows given a national ID of five digits (an error the dry run reports: the list then
    gets its report's workbook). Returns the number of rows with an error."""
    rng, used = random.Random(seed), set() if used is None else used
    bad = 0
    headers = [column.header for column in importing.import_columns()]
    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as book:
        sheet = book.add_worksheet()
        dates = book.add_format({"num_format": "dd/mm/yyyy"})
        sheet.write_row(0, 0, headers)
        pick = random.Random(seed + 1)  # apart, so the people are the same either way
        for number in range(1, rows + 1):
            person = _person(rng, used)
            person["gender"] = gender.label(person["gender"])
            if problems and pick.random() < problems:
                person["national_id"] = "12345"
                bad += 1
            for col, key in enumerate(FIELD_KEYS):
                value = person.get(key)
                if isinstance(value, date):
                    sheet.write_datetime(number, col, datetime.combine(value, datetime.min.time()),
                                         dates)
                elif value is not None:
                    sheet.write_string(number, col, str(value))
    return bad


def app_import(path: Path, number: int = 1) -> tuple[float, float, int]:
    """Seconds of the dry run plus the writing (wall clock, and this process's CPU), and
    the recipients created (``number``: the round's, for a station and an account of its
    own)."""
    station = tree.add_facility(f"BENCH{number}", "Trạm Y tế đo",
                                FacilityKind.commune_station)
    account = Account(username=f"bench.import{number}", role="data_entry",
                      facility_id=station.id,
                      phone=f"+8491200{number:04d}", password_hash="-",
                      status=AccountStatus.active)
    db.session.add(account)
    db.session.flush()
    data = path.read_bytes()
    job = ImportJob(account_id=account.id, facility_id=station.id, file_size=len(data),
                    file_sha256=hashlib.sha256(data).hexdigest(),
                    expires_at=utcnow() + timedelta(hours=1))
    db.session.add(job)
    db.session.flush()
    with storage.open_private(storage.upload_path(job.id)) as out:
        out.write(data)
    db.session.commit()
    job_id = job.id
    start, cpu = time.perf_counter(), time.process_time()
    importing.check_import(job_id)
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.checked, (job.status, job.error)
    assert importing.confirm_import(job, db.session.get(Account, job.account_id)) is None
    db.session.commit()
    importing.run_import(job_id)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.done, (job.status, job.error)
    return elapsed, cpu, job.created_count


def baseline(path: Path, uri: str) -> tuple[float, float, int]:
    """openpyxl read-only + fold + executemany per batch, on an engine of its own (the
    app's engine refuses statements that skip the audit hook)."""
    engine = sa.create_engine(uri)
    table = sa.Table("bench_import_floor", sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name_key", sa.String(120)),
                     sa.Column("facility_id", sa.Integer),
                     *(sa.Column(key, sa.Date if key == "date_of_birth" else sa.String(200))
                       for key in FIELD_KEYS))
    table.drop(engine, checkfirst=True)
    table.create(engine)
    words = {str(word): code for code, word in gender.LABELS.items()}
    start, cpu = time.perf_counter(), time.process_time()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = book.worksheets[0].iter_rows(min_row=2, values_only=True)
    count, batch = 0, []
    with engine.connect() as conn:
        for values in rows:
            row = dict(zip(FIELD_KEYS, values, strict=False))
            if isinstance(row["date_of_birth"], datetime):
                row["date_of_birth"] = row["date_of_birth"].date()
            row["gender"] = words.get(row["gender"], row["gender"])
            batch.append({**row, "name_key": fold(row["full_name"]), "facility_id": 1})
            if len(batch) == BATCH:
                count += _insert(conn, table, batch)
                batch = []
        count += _insert(conn, table, batch)
    book.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    table.drop(engine)
    engine.dispose()
    return elapsed, cpu, count


def _insert(conn, table, batch: list[dict]) -> int:
    if batch:
        conn.execute(table.insert(), batch)
        conn.commit()
    return len(batch)


def stages(path: Path, uri: str, rows: int) -> None:
    """Where the time goes: the CPU seconds of this process for each stage of the import,
    run one after the other by the app's own functions (on PostgreSQL the server's share
    is not counted), against the floor's CPU seconds."""
    columns = importing.import_columns()
    station = tree.add_facility("STAGES", "Trạm Y tế đo", FacilityKind.commune_station)
    db.session.commit()
    spent: dict[str, float] = {}

    def stage(name: str, fn):
        start = time.process_time()
        result = fn()
        spent[name] = spent.get(name, 0.0) + time.process_time() - start
        return result

    with force_locale(importing.TEMPLATE_LOCALE):
        data = stage("read the sheet (openpyxl's parser, values)",
                     lambda: list(iter_rows(str(path), columns)))
        checker = checks.Checker(set())
        rows_checked = stage("check each row (the form's fields)",
                             lambda: [checker.validate(row, values) for row, values in data])
        stage("duplicates, dry run (per batch)", lambda: [
            checker.judge(rows_checked[i:i + BATCH]) for i in range(0, rows, BATCH)])
        stage("report workbook (a list with a problem)", lambda: write_error_report(
            str(path.with_name("report.xlsx")), columns,
            ((c.row, c.data, "; ".join(c.messages)) for c in rows_checked)))
        writer = checks.Checker()
        for start in range(0, rows, BATCH):
            batch = stage("duplicates, writing (per batch)", lambda start=start: writer.judge(
                [checks.RowCheck(c.row, {}, clean=dict(c.clean))
                 for c in rows_checked[start:start + BATCH]]))
            stage("records, words, audit rows, commit", lambda batch=batch: (
                register_batch([(c.clean, False) for c in batch], station.id,
                               importing._new_ids(len(batch)),
                               name_keys=[c.person[0] for c in batch]),
                db.session.commit()))
    start = time.process_time()
    baseline(path, uri)
    floor = time.process_time() - start
    print(f"CPU seconds by stage, {rows:,} rows (floor: {floor:.2f} s)")
    for name, seconds in spent.items():
        print(f"  {name:<42} {seconds:6.2f} s   x{seconds / floor:4.2f} of the floor")
    total = sum(spent.values())
    print(f"  {'all stages':<42} {total:6.2f} s   x{total / floor:4.2f} of the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=1,
                        help="imports of different lists, each between two floor runs")
    parser.add_argument("--uri", default=None)
    parser.add_argument("--stages", action="store_true",
                        help="CPU seconds of each stage instead of the whole import")
    parser.add_argument("--problems", type=float, default=0.0,
                        help="share of rows with an error (the dry run then writes its "
                             "report's workbook of every row), e.g. 0.02")
    args = parser.parse_args()
    app = bench_app(args.uri)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    with tempfile.TemporaryDirectory(prefix="vaximport-") as tmp, app.test_request_context():
        paths, used, bad = [], set(), []
        for number in range(1, max(1, args.rounds) + 1):
            paths.append(Path(tmp) / f"danh-sach-{number}.xlsx")
            bad.append(write_list(paths[-1], args.rows, seed=12 + number, used=used,
                                  problems=args.problems))
        if args.stages:
            stages(paths[0], uri, args.rows)
            return
        print(f"import of {args.rows:,} rows ({uri.split(':')[0]})"
              + (f", {sum(bad):,} of {len(bad) * args.rows:,} with an error" if args.problems
                 else ""))
        floors = [baseline(paths[0], uri)]
        apps = []
        for number, path in enumerate(paths, start=1):
            apps.append(app_import(path, number))
            floors.append(baseline(path, uri))
            assert floors[-1][2] == args.rows, floors[-1]
            assert apps[-1][2] == args.rows - bad[number - 1], (apps[-1], bad[number - 1])
            _print_round(number, args.rows, apps[-1], min(floors[-2:]))
    _print_summary(apps, floors)


def _print_round(number: int, rows: int, app: tuple, floor: tuple) -> None:
    print(f"  round {number}: app (dry run + write) {app[0]:6.1f} s {rows / app[0]:6.0f} rows/s"
          f" | floor (openpyxl+executemany) {floor[0]:5.1f} s {rows / floor[0]:6.0f} rows/s"
          f" | x{app[0] / floor[0]:.1f}")


def _print_summary(apps: list[tuple], floors: list[tuple]) -> None:
    """One round: its app against the faster of the floor runs on either side. More: the
    median of the apps' times against the median of the floors' (each floor run next to an
    app run, so a busy spell of the machine slows both), wall clock and this process's CPU
    (on PostgreSQL the server's CPU is in the wall clock only)."""
    if len(apps) == 1:
        wall, cpu = (apps[0][i] / min(f[i] for f in floors) for i in (0, 1))
        how = "the faster floor run"
    else:
        wall, cpu = (statistics.median(a[i] for a in apps)
                     / statistics.median(f[i] for f in floors) for i in (0, 1))
        how = f"medians of {len(apps)} app and {len(floors)} floor runs"
    print(f"  CPU of this process: x{cpu:.1f} of the floor's")
    print(f"  x{wall:.1f} of the floor ({how}), goal <= x{GOAL:g}: "
          f"{'PASS' if wall <= GOAL else 'FAIL'}")


if __name__ == "__main__":
    main()
