"""The coverage summary (issue 15, "Fast at province scale"): ``CoveragePerson`` (one row
per person counted) and ``CoverageTally`` (those people as dated changes, rolled up to every
facility above them), kept in the same transaction as the doses and recipients.

* After each flush, the recipients whose doses or record changed in it (whatever code made
  the change: a form, an import, a merge, a correction, a deletion) get their person row
  computed again in SQL; the difference between the old and the new row goes into the tally.
* ORM ``UPDATE``/``DELETE ... WHERE`` statements on doses, recipients or vaccines (the only
  statements the audit guard lets through, ``audit/hook.py``) do the same for the rows they
  touch.
* ``rebuild`` computes both tables from the doses (the migration, ``vaxportal reports
  rebuild-summary``, ``bench/generate.py``); ``differences`` compares them with a fresh
  computation (``vaxportal reports check-summary``).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import chain

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.reports.coverage import AGE_BANDS, age_band
from vaxportal.reports.models import EVERY, CoveragePerson, CoverageTally, DoseTally

PERSON = CoveragePerson.__table__
TALLY = CoverageTally.__table__
DOSES = DoseTally.__table__
#: a dose's place in ``DoseTally``
DOSE_KEY = ("facility_id", "given_on", "vaccine_id", "dose_number")
_DOSES_PENDING = "vaxportal_dose_tally_pending"
MEASURES = ("dose1", "complete", "booster")
_PENDING = "vaxportal_coverage_pending"
_CHUNK = 500
_REBUILD_CHUNK = 10_000


# -- a person's row, in SQL -------------------------------------------------------------------


def person_rows() -> sa.Select:
    """The summary row of every person counted: not merged away, with at least one dose."""
    complete = sa.case((Dose.dose_number >= Vaccine.doses_in_series, Dose.given_on))
    booster = sa.case((Dose.dose_number > Vaccine.doses_in_series, Dose.given_on))
    return (
        sa.select(Recipient.id.label("recipient_id"), Recipient.facility_id,
                  sa.func.coalesce(Recipient.priority_group, "").label("priority_group"),
                  Recipient.date_of_birth,
                  sa.func.min(Dose.given_on).label("first_on"),
                  sa.func.min(complete).label("complete_on"),
                  sa.func.min(booster).label("booster_on"))
        .join(Dose, Dose.recipient_id == Recipient.id)
        .join(Vaccine, Vaccine.id == Dose.vaccine_id)
        .where(Recipient.merged_into_id.is_(None))
        .group_by(Recipient.id, Recipient.facility_id, Recipient.priority_group,
                  Recipient.date_of_birth)
    )


_COLUMNS = ("recipient_id", "facility_id", "priority_group", "date_of_birth", "first_on",
            "complete_on", "booster_on")


def _as_dict(row) -> dict:
    return {key: getattr(row, key) for key in _COLUMNS}


# -- a person's changes over time -------------------------------------------------------------


def band_start(born: date, low: int) -> date:
    """The first day on which a person born on ``born`` is in the band from age ``low``
    (``coverage.age_band``'s rule: the first day whose date ``low`` years back is on or
    after the birth; 29 February counts from 1 March in a common year)."""
    try:
        return born.replace(year=born.year + low)
    except ValueError:  # born on 29 February, a common year
        return date(born.year + low, 3, 1)


def events(row: dict) -> Iterator[tuple[date, str, int, int]]:
    """(day, band, measure, +1/-1) of one person: counted from the day of each measure in
    the band of that day, then moved band to band on each later birthday that starts one."""
    born = row["date_of_birth"]
    for measure, on in enumerate((row["first_on"], row["complete_on"], row["booster_on"])):
        if on is None:
            continue
        yield on, age_band(born, on), measure, 1
        for (before, _l, _h), (code, low, _high) in zip(AGE_BANDS, AGE_BANDS[1:],
                                                         strict=False):
            start = band_start(born, low)
            if start > on:
                yield start, before, measure, -1
                yield start, code, measure, 1


def _add(tally: dict, row: dict, sign: int) -> None:
    """Add (or take away) one person's changes to ``tally``, keyed by home facility."""
    for day, band, measure, delta in events(row):
        key = (row["facility_id"], day, row["priority_group"], band)
        tally.setdefault(key, [0, 0, 0])[measure] += sign * delta


def _buckets(day: date) -> tuple[tuple[str, date], ...]:
    """The rows a change on ``day`` is written to: its day, its month, its year."""
    return (("d", day), ("m", day.replace(day=1)), ("y", day.replace(month=1, day=1)))


def _paths(conn: Connection, by_home: dict) -> dict:
    homes = sorted({key[0] for key in by_home})
    return dict(conn.execute(sa.select(Facility.id, Facility.path)
                             .where(Facility.id.in_(homes))).all()) if homes else {}


def _rolled_up(by_home: dict, paths: dict) -> dict:
    """{(node, grain, day, group, band): [dose1, complete, booster]}: every change at its
    home facility and at each facility above it, on its day, month and year; by group (all
    bands), by band (all groups) and for everybody (``EVERY``: a birthday's -1 and +1 cancel
    there, so those rows hold only the days people were vaccinated)."""
    out: dict = {}
    for (home, day, group, band), counts in by_home.items():
        if not any(counts):
            continue
        nodes = [int(part) for part in paths.get(home, f"/{home}/").strip("/").split("/")]
        for node in nodes:
            for grain, bucket in _buckets(day):
                for kept in ((EVERY, EVERY), (group, EVERY), (EVERY, band)):
                    sums = out.setdefault((node, grain, bucket, *kept), [0, 0, 0])
                    for i in range(3):
                        sums[i] += counts[i]
    return {key: counts for key, counts in out.items() if any(counts)}


def _tally_rows(tally: dict) -> list[dict]:
    return [{"node_id": node, "grain": grain, "day": day, "priority_group": group,
             "band": band, "dose1": d1, "complete": full, "booster": boost}
            for (node, grain, day, group, band), (d1, full, boost) in tally.items()]


def _apply(conn: Connection, tally: dict) -> None:
    """Add ``tally`` to the stored counts (an upsert per key)."""
    rows = _tally_rows(tally)
    if rows:
        _upsert(conn, TALLY, rows,
                lambda excluded: {m: TALLY.c[m] + excluded[m] for m in MEASURES})


def _dose_rows(conn: Connection, changes: dict) -> list[dict]:
    """{(facility, day, vaccine, number): +n/-n} -> ``DoseTally`` rows at the facility and
    each facility above it."""
    changes = {key: n for key, n in changes.items() if n}
    facilities = sorted({key[0] for key in changes})
    paths = dict(conn.execute(sa.select(Facility.id, Facility.path).where(
        Facility.id.in_(facilities))).all()) if facilities else {}
    out: dict = {}
    for (facility, day, vaccine_id, number), n in changes.items():
        for node in paths.get(facility, f"/{facility}/").strip("/").split("/"):
            key = (int(node), day, vaccine_id, number)
            out[key] = out.get(key, 0) + n
    return [{"node_id": node, "day": day, "vaccine_id": vaccine_id, "dose_number": number,
             "doses": n} for (node, day, vaccine_id, number), n in out.items() if n]


def count_doses(conn: Connection, changes: dict) -> None:
    """Add ``changes`` (doses by facility, day, vaccine and number) to ``DoseTally``."""
    rows = _dose_rows(conn, changes)
    if rows:
        _upsert(conn, DOSES, rows, lambda excluded: {"doses": DOSES.c.doses + excluded.doses})


def _dose_key(obj, *, old: bool) -> tuple:
    state = sa.inspect(obj)
    values = []
    for attr in DOSE_KEY:
        history = state.attrs[attr].history
        if old and history.deleted:
            values.append(history.deleted[0])
        else:
            values.append(getattr(obj, attr) if old else state.dict.get(attr))
    return tuple(values)


def _doses_of(conn: Connection, ids: list[int], sign: int, changes: dict) -> None:
    if ids:
        for row in conn.execute(sa.select(*(Dose.__table__.c[a] for a in DOSE_KEY))
                                .where(Dose.id.in_(ids))):
            changes[tuple(row)] = changes.get(tuple(row), 0) + sign


# -- keeping it: the recipients of a change ------------------------------------------------


@functools.cache
def _old_and_new() -> sa.CompoundSelect:
    """The stored rows (``new`` 0) and the rows computed again (``new`` 1) of the recipients
    ``ids`` (an expanding parameter), with their home facility's path: one round trip. Built
    once: the dose's write path pays no statement building."""
    ids = sa.bindparam("ids", expanding=True)
    stored = (sa.select(*(PERSON.c[key] for key in _COLUMNS), Facility.path,
                        sa.literal_column("0").label("new"))
              .join(Facility, Facility.id == PERSON.c.facility_id)
              .where(PERSON.c.recipient_id.in_(ids)))
    computed = (person_rows().add_columns(Facility.path, sa.literal_column("1").label("new"))
                .join(Facility, Facility.id == Recipient.facility_id)
                .where(Recipient.id.in_(ids)).group_by(Facility.path))
    return sa.union_all(stored, computed)


def _upsert(conn: Connection, table: sa.Table, rows: list[dict], set_) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns], set_=set_(stmt.excluded))
    conn.execute(stmt, rows)


def refresh(conn: Connection, recipient_ids: Iterable[int]) -> None:
    """Compute the person rows of ``recipient_ids`` again and move their difference into the
    tally (in the connection's transaction): one read, one upsert of the people, one of the
    tally (and a delete for people no longer counted)."""
    ids = sorted({i for i in recipient_ids if i is not None})
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(_old_and_new(), {"ids": ids[start:start + _CHUNK]}).all()
        old = {row.recipient_id: _as_dict(row) for row in rows if not row.new}
        new = {row.recipient_id: _as_dict(row) for row in rows if row.new}
        changed = [i for i in sorted(set(old) | set(new)) if old.get(i) != new.get(i)]
        if not changed:
            continue
        paths = {row.facility_id: row.path for row in rows}
        by_home: dict = {}
        for i in changed:
            if i in old:
                _add(by_home, old[i], -1)
            if i in new:
                _add(by_home, new[i], 1)
        gone = [i for i in changed if i not in new]
        if gone:
            conn.execute(sa.delete(PERSON).where(PERSON.c.recipient_id.in_(gone)))
        kept = [new[i] for i in changed if i in new]
        if kept:
            _upsert(conn, PERSON, kept, lambda excluded: {
                key: excluded[key] for key in _COLUMNS if key != "recipient_id"})
        _apply(conn, _rolled_up(by_home, paths))


_READY: weakref.WeakSet = weakref.WeakSet()


def _ready(conn: Connection) -> bool:
    """Has this database the summary's tables? (not during the migrations before
    ``coverage01``, whose own flushes would write to them; that revision fills them)"""
    engine = conn.engine
    if engine not in _READY and sa.inspect(conn).has_table(PERSON.name):
        _READY.add(engine)
    return engine in _READY


def _history(obj, key: str) -> set:
    state = sa.inspect(obj)
    values = {state.dict.get(key)}
    history = state.attrs[key].history
    values.update(chain(history.added or (), history.deleted or (), history.unchanged or ()))
    return values


def _before_flush(session: Session, _context, _instances) -> None:
    """The recipients doses leave (their old ``recipient_id``), read before the flush."""
    pending = session.info.setdefault(_PENDING, set())
    doses = session.info.setdefault(_DOSES_PENDING, {})
    for obj in chain(session.dirty, session.deleted):
        if isinstance(obj, Dose):
            pending.add(obj.recipient_id)  # loads an expired value
            pending.update(_history(obj, "recipient_id"))
            key = _dose_key(obj, old=True)  # the dose's place before this flush
            doses[key] = doses.get(key, 0) - 1


def _after_flush(session: Session, _context) -> None:
    ids = session.info.pop(_PENDING, set())
    doses = session.info.pop(_DOSES_PENDING, {})
    vaccines = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Dose):
            ids.add(sa.inspect(obj).dict.get("recipient_id"))
            if obj not in session.deleted:
                key = _dose_key(obj, old=False)
                doses[key] = doses.get(key, 0) + 1
        elif isinstance(obj, Recipient):
            ids.add(sa.inspect(obj).dict.get("id"))
        elif isinstance(obj, Vaccine) and _history(obj, "doses_in_series") - {
                sa.inspect(obj).dict.get("doses_in_series")}:
            vaccines.add(obj.id)
    if not ids and not vaccines and not any(doses.values()):
        return
    conn = session.connection()
    if any(doses.values()) and _ready(conn):
        count_doses(conn, doses)
    if vaccines:
        ids.update(conn.scalars(sa.select(Dose.recipient_id).where(
            Dose.vaccine_id.in_(sorted(vaccines))).distinct()))
    ids.discard(None)
    if ids and _ready(conn):
        refresh(conn, ids)


def _forget(session: Session, _previous) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_DOSES_PENDING, None)


_WATCHED = frozenset(("dose", "recipient", "vaccine"))


def _on_statement(state):
    """An ORM ``UPDATE``/``DELETE ... WHERE`` on doses, recipients or vaccines: the people
    it touches, before and after, are computed again once it has run."""
    if not (state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name not in _WATCHED:
        return None
    conn = state.session.connection()
    if not _ready(conn):
        return None
    where = state.statement.whereclause
    pick = sa.select(table.c.id)
    if where is not None:
        pick = pick.where(where)
    keys = list(conn.scalars(pick, state.parameters or {}))
    before = _people_of(conn, name, keys)
    doses: dict = {}
    if name == "dose":
        _doses_of(conn, keys, -1, doses)
    result = state.invoke_statement()
    if state.statement.returning_column_descriptions:
        result = result.freeze()()
    if name == "dose":
        _doses_of(conn, keys, 1, doses)
        count_doses(conn, doses)
    refresh(conn, before | _people_of(conn, name, keys))
    return result


def _people_of(conn: Connection, table: str, keys: list[int]) -> set[int]:
    if not keys:
        return set()
    if table == "recipient":
        return set(keys)
    column = Dose.id if table == "dose" else Dose.vaccine_id
    return set(conn.scalars(sa.select(Dose.recipient_id).where(column.in_(keys)).distinct()))


#: the session events that keep the summary (``bench/summary_upkeep.py`` turns them off to
#: measure what they cost)
LISTENERS = (("before_flush", _before_flush), ("after_flush", _after_flush),
             ("after_soft_rollback", _forget), ("do_orm_execute", _on_statement))


def install() -> None:
    for name, listener in LISTENERS:
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)


def uninstall() -> None:
    for name, listener in LISTENERS:
        if event.contains(db.session, name, listener):
            event.remove(db.session, name, listener)


# -- from scratch -----------------------------------------------------------------------------


def computed(conn: Connection) -> tuple[dict, dict]:
    """({recipient id: row}, {tally key: counts}) computed from the doses, not stored."""
    people, by_home = {}, {}
    for row in conn.execute(person_rows()):
        people[row.recipient_id] = _as_dict(row)
        _add(by_home, people[row.recipient_id], 1)
    return people, _rolled_up(by_home, _paths(conn, by_home))


def _dose_counts(conn: Connection) -> dict:
    """{(facility, day, vaccine, number): doses} of every dose, one GROUP BY."""
    columns = [Dose.__table__.c[a] for a in DOSE_KEY]
    return {tuple(row[:4]): int(row[4]) for row in conn.execute(
        sa.select(*columns, sa.func.count()).group_by(*columns))}


def rebuild(conn: Connection) -> int:
    """Both tables again from the doses: the people by one INSERT ... SELECT, the tally from
    them, read in chunks. Returns the number of people."""
    conn.execute(sa.delete(TALLY))
    conn.execute(sa.delete(PERSON))
    conn.execute(sa.delete(DOSES))
    rows = _dose_rows(conn, _dose_counts(conn))
    for start in range(0, len(rows), _REBUILD_CHUNK):
        conn.execute(sa.insert(DOSES), rows[start:start + _REBUILD_CHUNK])
    conn.execute(sa.insert(PERSON).from_select(list(_COLUMNS), person_rows()))
    by_home: dict = {}
    last = 0
    while True:
        rows = conn.execute(sa.select(PERSON).where(PERSON.c.recipient_id > last)
                            .order_by(PERSON.c.recipient_id).limit(_REBUILD_CHUNK)).all()
        if not rows:
            break
        for row in rows:
            _add(by_home, _as_dict(row), 1)
        last = rows[-1].recipient_id
    rows = _tally_rows(_rolled_up(by_home, _paths(conn, by_home)))
    for start in range(0, len(rows), _REBUILD_CHUNK):
        conn.execute(sa.insert(TALLY), rows[start:start + _REBUILD_CHUNK])
    return conn.scalar(sa.select(sa.func.count()).select_from(PERSON)) or 0


def differences(conn: Connection) -> list[str]:
    """Where the stored summary differs from one computed from the doses (empty: exact)."""
    people, tally = computed(conn)
    stored = {row.recipient_id: _as_dict(row) for row in conn.execute(sa.select(PERSON))}
    out = [f"person {i}: stored {stored.get(i)}, computed {people.get(i)}"
           for i in sorted(set(people) | set(stored)) if people.get(i) != stored.get(i)]
    kept = {}
    for row in conn.execute(sa.select(TALLY)):
        counts = [row.dose1, row.complete, row.booster]
        if any(counts):
            kept[(row.node_id, row.grain, row.day, row.priority_group, row.band)] = counts
    out += [f"tally {key}: stored {kept.get(key)}, computed {tally.get(key)}"
            for key in sorted(set(tally) | set(kept), key=repr)
            if kept.get(key) != tally.get(key)]
    doses = {(r["node_id"], r["day"], r["vaccine_id"], r["dose_number"]): r["doses"]
             for r in _dose_rows(conn, _dose_counts(conn))}
    stored_doses = {tuple(row[:4]): row[4] for row in conn.execute(sa.select(
        DOSES.c.node_id, DOSES.c.day, DOSES.c.vaccine_id, DOSES.c.dose_number,
        DOSES.c.doses)) if row[4]}
    out += [f"doses {key}: stored {stored_doses.get(key)}, computed {doses.get(key)}"
            for key in sorted(set(doses) | set(stored_doses), key=repr)
            if doses.get(key) != stored_doses.get(key)]
    return out


# -- the commands -----------------------------------------------------------------------------

cli = AppGroup("reports", help="Báo cáo: bảng tổng hợp độ bao phủ.")


@cli.command("rebuild-summary")
def rebuild_command() -> None:
    """Tính lại bảng tổng hợp độ bao phủ từ các mũi tiêm."""
    count = rebuild(db.session.connection())
    db.session.commit()
    click.echo(f"coverage summary rebuilt: {count} people")


@cli.command("check-summary")
def check_command() -> None:
    """So bảng tổng hợp với số đếm lại từ các mũi tiêm."""
    found = differences(db.session.connection())
    db.session.rollback()
    for line in found[:50]:
        click.echo(line)
    if found:
        raise click.ClickException(f"{len(found)} differences")
    click.echo("coverage summary exact")
