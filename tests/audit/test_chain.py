"""Tamper evidence and append-only (P2.4): the hash chain, `vaxportal audit verify`, the ORM
guard and the database triggers."""

from __future__ import annotations

import json
import multiprocessing
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.helpers import audit_rows, raw_cursor, raw_execute, triggers_off
from vaxportal.audit import chain, events
from vaxportal.audit.hook import AuditAppendOnlyError
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db


@pytest.fixture
def trail(place, person):
    """A trail of a few dozen rows: the place's setup, recipients, edits, access events."""
    for n in range(5):
        recipient = person("s1", occupation="Nông dân")
        recipient.occupation = f"Nghề {n}"
        events.record("view_identity", category="access", entity="recipient",
                      entity_id=recipient.id, facility_id=recipient.facility_id)
        db.session.commit()
    rows = audit_rows()
    assert len(rows) > 20
    return rows


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_p2_4_intact_chain_verifies_with_the_number_of_rows(runner, trail):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert str(len(trail)) in result.output
    rows = audit_rows()
    assert rows[0].prev_hash is None
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == previous.row_hash
        assert row.id == previous.id + 1
        assert row.row_hash == chain.digest(row)


def test_p2_4_empty_trail_verifies(runner, app):
    result = verify(runner)
    assert result.exit_code == 0 and "0" in result.output


def _broken_id(output: str) -> int:
    return int(re.search(r"#(\d+) \(", output).group(1))


@pytest.mark.parametrize("sql, value", [
    ("UPDATE audit_event SET changes = ? WHERE id = ?", '{"occupation": {"new": "B"}}'),
    ("UPDATE audit_event SET actor = ? WHERE id = ?", "account:someone-else"),
    ("UPDATE audit_event SET account_id = ? WHERE id = ?", 999),
])
def test_p2_4_a_row_changed_in_the_database_is_found_by_verify(runner, trail, sql, value):
    target = trail[len(trail) // 2].id
    with triggers_off():
        raw_execute(sql, (value, target))
    result = verify(runner)
    assert result.exit_code == 1
    assert _broken_id(result.output) == target


def test_p2_4_a_row_changed_and_rehashed_breaks_the_next_link(runner, trail):
    """Whoever edits a row and recomputes its hash still breaks the following row's link."""
    target = trail[5]
    forged = {c: getattr(target, c) for c in chain.FIELDS}
    forged["actor"] = "account:forged"
    with triggers_off():
        raw_execute("UPDATE audit_event SET actor = ?, row_hash = ? WHERE id = ?",
                    ("account:forged", chain.digest(forged), target.id))
    result = verify(runner)
    assert result.exit_code == 1
    assert _broken_id(result.output) == target.id + 1


def test_p2_4_a_row_removed_from_the_database_is_named_by_verify(runner, trail):
    target = trail[7].id
    with triggers_off():
        raw_execute("DELETE FROM audit_event WHERE id = ?", (target,))
    result = verify(runner)
    assert result.exit_code == 1
    assert f"#{target}" in result.output  # the missing row
    assert _broken_id(result.output) == target + 1  # the first row that no longer links


def test_p2_4_the_last_row_changed_is_found(runner, trail):
    target = trail[-1].id
    with triggers_off():
        raw_execute("UPDATE audit_event SET action = 'nothing' WHERE id = ?", (target,))
    result = verify(runner)
    assert result.exit_code == 1 and _broken_id(result.output) == target


# -- append-only ----------------------------------------------------------------------------

def test_p2_4_orm_refuses_to_update_an_audit_row(trail):
    row = db.session.get(AuditEvent, trail[3].id)
    row.actor = "account:someone-else"
    with pytest.raises(AuditAppendOnlyError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(AuditEvent, trail[3].id).actor == trail[3].actor


def test_p2_4_orm_refuses_to_delete_an_audit_row(trail):
    db.session.delete(db.session.get(AuditEvent, trail[3].id))
    with pytest.raises(AuditAppendOnlyError):
        db.session.commit()
    db.session.rollback()
    assert len(audit_rows()) == len(trail)


@pytest.mark.parametrize("statement", [
    lambda: sa.update(AuditEvent).values(actor="x"),
    lambda: sa.delete(AuditEvent),
    lambda: sa.delete(AuditEvent.__table__).where(AuditEvent.__table__.c.id == 1),
    lambda: sa.text("DELETE FROM audit_event"),
])
def test_p2_4_statements_on_audit_rows_are_refused(trail, statement):
    with pytest.raises(AuditAppendOnlyError):
        db.session.execute(statement())
    db.session.rollback()
    with pytest.raises(AuditAppendOnlyError), db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_event SET actor = 'x'")
    assert len(audit_rows()) == len(trail)


@pytest.mark.parametrize("sql", ["UPDATE audit_event SET actor = 'x'",
                                 "DELETE FROM audit_event WHERE id = 2",
                                 "DELETE FROM audit_event"])
def test_p2_4_database_trigger_refuses_raw_update_and_delete(trail, sql):
    """Straight to the database, past the application: the trigger refuses."""
    with pytest.raises(Exception) as caught, raw_cursor() as cur:
        cur.execute(sql)
    assert "append-only" in str(caught.value)
    assert not isinstance(caught.value, AuditAppendOnlyError)
    assert len(audit_rows()) == len(trail)
    assert audit_rows()[1].actor != "x"


@pytest.mark.postgres
def test_p2_4_database_trigger_refuses_truncate_on_postgresql(trail):
    with pytest.raises(Exception) as caught, raw_cursor() as cur:
        cur.execute("TRUNCATE audit_event")
    assert "append-only" in str(caught.value)
    assert len(audit_rows()) == len(trail)


@pytest.mark.postgres
def test_triggers_are_ordinary_so_maintenance_in_replica_mode_cleans(trail):
    """tests/conftest.py cleans with session_replication_role = replica + DELETE."""
    with raw_cursor() as cur:
        cur.execute("SELECT tgname, tgenabled FROM pg_trigger "
                    "WHERE tgrelid = 'audit_event'::regclass AND NOT tgisinternal")
        triggers = dict(cur.fetchall())
    assert triggers == {"audit_event_append_only": "O", "audit_event_no_truncate": "O"}


def test_p2_4_trigger_holds_even_past_the_application_guard(trail):
    """With the application's guard out of the way, the database still refuses."""
    with pytest.raises(DBAPIError), db.engine.connect() as conn, chain.writing():
        conn.exec_driver_sql("DELETE FROM audit_event")  # past the app guard: the trigger


# -- concurrent writers ---------------------------------------------------------------------

def test_p2_4_chain_stays_intact_under_two_concurrent_writer_processes(
        app, runner, place, tmp_path):
    """On PostgreSQL the advisory lock serializes the appends; on SQLite the database's one
    write lock, which a flush's own first write takes (the hook then needs no statement of
    its own to take it)."""
    from tests.audit import workers

    before, facility_id = len(audit_rows()), place["s1"].id
    db.session.remove()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    procs = [spawn.Process(target=workers.write_many,
                           args=(uri, str(tmp_path / f"w{n}"), facility_id, n, start))
             for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    rows = audit_rows()
    assert len(rows) == before + 2 * workers.ROWS_PER_WORKER
    assert len({r.prev_hash for r in rows}) == len(rows)  # nobody chained onto the same row
    writers = {r.actor for r in rows[before:]}
    assert len(writers) == 1 and writers.pop().startswith("console:")
    assert {r.request_id for r in rows[before:] if r.request_id} == set()
    order = [r.changes["full_name"]["new"].split()[-1].split("-")[0] for r in rows[before:]
             if r.action == "insert"]
    switches = sum(1 for a, b in zip(order, order[1:], strict=False) if a != b)
    assert switches >= 2, f"the writers did not interleave: {''.join(order)}"
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert str(len(rows)) in result.output


# -- verify reads the stored text (issue 13) -------------------------------------------------

def test_p2_4_verify_hashes_each_stored_row_without_decoding_it(app, trail):
    """Rows are stored in the chain's canonical JSON, so verify's fast form of every row is
    exactly the form the row was hashed over (no row takes the slow way)."""
    events.record("lookup", category="access", entity="recipient", entity_id=trail[0].id,
                  details={"reason": "Khám \"lại\" — đợt 2", "n": [1, None, 2.5]})
    db.session.commit()
    rows = {row.id: row for row in audit_rows()}
    with db.engine.connect() as conn:
        raw = list(chain._raw_rows(conn, 7))
    assert [r[chain._ID] for r in raw] == sorted(rows)
    assert any(r[chain._CHANGES] for r in raw) and any(r[chain._DETAILS] for r in raw)
    for r in raw:
        assert chain._stored_form(r) == chain.canonical(rows[r[chain._ID]])


def test_p2_4_a_row_stored_in_another_json_spelling_still_verifies(runner, trail):
    """A trail written before the canonical storage (same values, other spelling) verifies;
    a changed value in that spelling does not."""
    target = next(row for row in trail if row.changes)
    spelled = json.dumps(target.changes)  # spaces, sorted as given, \\u escapes
    assert spelled != chain._ENCODER.encode(target.changes)
    with triggers_off():
        raw_execute("UPDATE audit_event SET changes = ? WHERE id = ?", (spelled, target.id))
    result = verify(runner)
    assert result.exit_code == 0, result.output
    changed = json.dumps({**target.changes, "extra": {"old": None, "new": "x"}})
    with triggers_off():
        raw_execute("UPDATE audit_event SET changes = ? WHERE id = ?", (changed, target.id))
    result = verify(runner)
    assert result.exit_code == 1 and _broken_id(result.output) == target.id


def test_p2_4_a_row_whose_json_is_no_json_is_named_not_a_crash(runner, trail):
    """SQLite stores any text in the JSON column; PostgreSQL's json type refuses it."""
    target = trail[len(trail) // 2]
    with triggers_off():
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(Exception, match="type json"):  # the driver's own error
                raw_execute("UPDATE audit_event SET details = ? WHERE id = ?",
                            ("{not json", target.id))
            raw_execute("UPDATE audit_event SET details = ? WHERE id = ?", ("[]", target.id))
        else:
            raw_execute("UPDATE audit_event SET details = ? WHERE id = ?",
                        ("{not json", target.id))
    result = verify(runner)
    assert result.exit_code == 1 and _broken_id(result.output) == target.id


# -- the chain's own statements (issue 13) ---------------------------------------------------

def test_p2_4_the_append_lock_is_taken_again_after_a_savepoint_gives_it_back(place, person):
    """A savepoint rolled back gives back PostgreSQL's locks taken inside it: the next
    append of the transaction takes the append lock again instead of chaining unlocked."""
    recipient = person("s1", occupation="Nông dân")
    db.session.commit()
    before = len(audit_rows())
    nested = db.session.begin_nested()
    recipient.occupation = "Giáo viên"
    db.session.flush()  # the lock and an audit row, inside the savepoint
    nested.rollback()
    recipient.occupation = "Bác sĩ"
    db.session.flush()
    if db.session.connection().dialect.name == "postgresql":
        held = db.session.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND granted")).scalar()
        assert held >= 1
    db.session.commit()
    rows = audit_rows()
    assert len(rows) == before + 1 and rows[-1].changes["occupation"]["new"] == "Bác sĩ"
    assert rows[-1].prev_hash == rows[-2].row_hash


def _heard_statements(action) -> list[str]:
    heard: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        heard.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return heard


def test_p2_4_the_head_is_read_once_a_transaction_and_again_in_a_savepoint(place, person):
    """Under the append lock nobody else appends: a transaction's later flushes chain onto
    the head its own last append left, without reading it again. A savepoint reads it
    anew (its rows may be rolled back), and so does the transaction after it."""
    recipient = person("s1", occupation="Nông dân")
    db.session.commit()
    before = len(audit_rows())

    def three_flushes_and_savepoints():
        for job in ("Giáo viên", "Bác sĩ", "Kỹ sư"):
            recipient.occupation = job
            db.session.flush()
        nested = db.session.begin_nested()
        recipient.occupation = "Thợ may"
        db.session.flush()
        nested.rollback()
        nested = db.session.begin_nested()
        recipient.occupation = "Nông dân"
        db.session.flush()
        nested.commit()  # released: its row stays
        recipient.occupation = "Công nhân"
        db.session.flush()
        db.session.commit()

    heard = _heard_statements(three_flushes_and_savepoints)
    reads = [s for s in heard if "FROM audit_event ORDER BY audit_event.id DESC" in s]
    # the transaction's first, each savepoint's, the transaction's after the savepoints
    assert len(reads) == 4, heard
    rows = audit_rows()
    assert [r.changes["occupation"]["new"] for r in rows[before:]] == [
        "Giáo viên", "Bác sĩ", "Kỹ sư", "Nông dân", "Công nhân"]
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    assert [r.id for r in rows] == list(range(rows[0].id, rows[0].id + len(rows)))


def test_the_chain_s_statements_are_heard_by_the_engine_s_listeners(place, person):
    """The head's read and the insert go to the driver's cursor directly, and still pass the
    engine's cursor listeners, as every statement does (the bypass guard, the counts)."""
    recipient = person("s1", occupation="Nông dân")
    db.session.commit()

    def change():
        recipient.occupation = "Giáo viên"
        db.session.commit()

    heard = _heard_statements(change)
    head = "SELECT audit_event.id, audit_event.row_hash"
    if db.engine.dialect.name == "postgresql":  # with the lock, in one round trip
        head = f"SELECT pg_advisory_xact_lock({chain.LOCK_KEY}); {head}"
    assert any(s.startswith(head) for s in heard)
    assert any(s.startswith("INSERT INTO audit_event") for s in heard)


def test_a_driver_error_in_the_chain_comes_as_sqlalchemy_s_without_the_row(place):
    """A row the database refuses (no category) fails as SQLAlchemy's error, as any
    statement would, with the row's values (personal data) left out of the parameters it
    shows. (PostgreSQL's own message may still quote the row: no log prints a message,
    ``failures.describe``.)"""
    with pytest.raises(sa.exc.IntegrityError) as caught, chain.writing():
        chain.append(db.session.connection(), [{
            "category": None, "action": "insert", "entity": "recipient", "entity_id": "1",
            "actor": "console:test", "changes": {"full_name": {"old": None,
                                                               "new": "Nguyễn Văn Ấn"}}}])
    db.session.rollback()
    assert caught.value.hide_parameters and "parameters hidden" in str(caught.value)
    assert "INSERT INTO audit_event" in str(caught.value)


def test_a_driver_error_in_a_batch_comes_as_sqlalchemy_s_and_leaves_no_row(place):
    """A batch of rows (an import's: one COPY on PostgreSQL, one executemany on SQLite) with
    one the database refuses fails as a whole, as SQLAlchemy's error with the rows' values
    left out of its parameters; nothing of the batch stays and the chain goes on whole."""
    good = {"category": "data", "action": "insert", "entity": "recipient", "entity_id": "1",
            "actor": "console:test", "changes": {"full_name": {"old": None,
                                                               "new": "Nguyễn Văn Ấn"}}}
    count = sa.select(sa.func.count()).select_from(AuditEvent)
    before = db.session.scalar(count)
    with pytest.raises(sa.exc.IntegrityError) as caught, chain.writing():
        chain.append(db.session.connection(), [good, {**good, "category": None}, good])
    db.session.rollback()
    assert "[parameters:" not in str(caught.value)  # hidden, or none (a COPY's rows)
    assert db.session.scalar(count) == before
    with chain.writing():
        written = chain.append(db.session.connection(), [good, good])
    db.session.commit()
    assert [row["id"] for row in written] == [before + 1, before + 2]
    assert db.session.scalar(count) == before + 2
    assert chain.verify(db.session.connection(), checkpoints=[]).broken_id is None
