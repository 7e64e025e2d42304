"""Statements that skip the per-object events (P2.4): audited row by row when they go through
the session as UPDATE/DELETE ... WHERE, or as a batch of new rows through
``hook.insert_rows`` (with their audit rows); refused on every other path."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.helpers import audit_rows, new_dose
from vaxportal.audit import chain, hook
from vaxportal.audit.hook import AuditBypassError
from vaxportal.auth import sessions
from vaxportal.auth.models import UserSession
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient


@pytest.fixture
def three(person):
    """Two recipients at S1, one at S2."""
    return [person("s1", occupation="Nông dân"), person("s1", occupation="Giáo viên"),
            person("s2", occupation="Nông dân")]


def _occupations() -> dict[int, str | None]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(Recipient.id, Recipient.occupation)).all())


def _verified() -> bool:
    with db.engine.connect() as conn:
        return chain.verify(conn).ok


def test_p2_4_orm_bulk_update_leaves_one_row_per_record(place, three):
    s1 = place["s1"].id
    result = db.session.execute(
        sa.update(Recipient).where(Recipient.facility_id == s1).values(occupation="Bác sĩ")
    )
    db.session.commit()
    assert result.rowcount == 2
    rows = audit_rows(action="update", entity="recipient")
    assert sorted(int(r.entity_id) for r in rows) == sorted(r.id for r in three[:2])
    changes = {int(r.entity_id): r.changes["occupation"] for r in rows}
    assert changes == {three[0].id: {"old": "Nông dân", "new": "Bác sĩ"},
                       three[1].id: {"old": "Giáo viên", "new": "Bác sĩ"}}
    assert {r.facility_id for r in rows} == {s1}
    assert _occupations()[three[2].id] == "Nông dân"
    assert _verified()


def test_p2_4_core_update_of_the_table_through_the_session_is_audited(place, three):
    table = Recipient.__table__
    db.session.execute(sa.update(table).where(table.c.id == three[2].id)
                       .values(occupation="Công nhân"))
    db.session.commit()
    (row,) = audit_rows(action="update", entity="recipient")
    assert row.entity_id == str(three[2].id)
    assert row.changes == {"occupation": {"old": "Nông dân", "new": "Công nhân"}}
    assert row.facility_id == place["s2"].id
    assert _verified()


def test_p2_4_orm_bulk_delete_leaves_one_row_per_record(place, person):
    recipient = person("s1")
    doses = [new_dose(recipient, n) for n in (1, 2)]
    db.session.commit()
    ids = sorted(d.id for d in doses)
    db.session.execute(sa.delete(Dose).where(Dose.recipient_id == recipient.id))
    db.session.commit()
    rows = audit_rows(action="delete", entity="dose")
    assert sorted(int(r.entity_id) for r in rows) == ids
    assert rows[0].changes["lot_number"]["new"] is None
    assert {r.changes["lot_number"]["old"] for r in rows} == {"LOT-1", "LOT-2"}
    assert not db.session.scalars(sa.select(Dose)).all()


def test_p2_4_bulk_update_that_changes_nothing_writes_no_row(three):
    before = len(audit_rows())
    db.session.execute(sa.update(Recipient).where(Recipient.id == -1).values(occupation="x"))
    db.session.commit()
    assert len(audit_rows()) == before


@pytest.mark.parametrize("path", [
    "orm_update_by_primary_key", "orm_bulk_insert", "bulk_update_mappings",
    "bulk_save_objects", "core_on_the_connection", "text_sql", "engine_connection",
    "insert_values_outside_insert_rows",
    # PostgreSQL's own ways to fill or empty a table without a row's event
    pytest.param("truncate", marks=pytest.mark.postgres),
    pytest.param("copy_from_a_file", marks=pytest.mark.postgres),
])
def test_p2_4_bulk_paths_that_skip_the_hook_are_refused(app, place, three, path):
    target = three[0]
    s1 = place["s1"].id

    def run():
        if path == "orm_update_by_primary_key":
            db.session.execute(sa.update(Recipient), [{"id": target.id, "occupation": "X"}])
        elif path == "orm_bulk_insert":
            db.session.execute(sa.insert(Recipient), [{
                "full_name": "Ai Đó", "name_key": "ai do", "date_of_birth": "1990-01-01",
                "gender": "male", "facility_id": s1}])
        elif path == "bulk_update_mappings":
            db.session.bulk_update_mappings(Recipient, [{"id": target.id, "occupation": "X",
                                                         "version_id": 1}])
        elif path == "bulk_save_objects":
            target.occupation = "X"
            db.session.bulk_save_objects([target])
        elif path == "core_on_the_connection":
            db.session.connection().execute(sa.update(Recipient.__table__).values(
                occupation="X"))
        elif path == "text_sql":
            db.session.execute(sa.text("UPDATE recipient SET occupation = 'X'"))
        elif path == "engine_connection":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM recipient")
        elif path == "truncate":
            db.session.execute(sa.text("TRUNCATE TABLE dose, recipient CASCADE"))
        elif path == "copy_from_a_file":  # the server's superuser may read its files
            db.session.execute(sa.text("COPY recipient (occupation) FROM '/dev/null'"))
        elif path == "insert_values_outside_insert_rows":
            hook.insert_values(db.session.connection(), Recipient.__table__, [{
                "full_name": "Ai Đó", "name_key": "ai do", "date_of_birth": date(1990, 1, 1),
                "gender": "male", "facility_id": s1}])

    before = len(audit_rows())
    with pytest.raises(AuditBypassError):
        run()
    db.session.rollback()
    assert set(_occupations().values()) == {"Nông dân", "Giáo viên"}
    assert len(audit_rows()) == before


def test_unaudited_tables_keep_their_bulk_statements(factory, place):
    """Sessions are not audited data: ending them all is one statement, as before."""
    account = factory.account("data_entry", place["s1"])
    for token in ("a", "b"):
        db.session.add(UserSession(token_hash=token * 64, account_id=account.id,
                                   stage="full"))
    db.session.commit()
    assert sessions.end_all(account.id, "test") == 2
    db.session.commit()


def test_p2_4_a_batch_of_new_rows_without_objects_gets_its_audit_rows_or_is_refused(place):
    """``hook.insert_rows``: new rows in one statement, each with its insert row in the chain
    (one append for the batch); a model the trail does not follow is refused, and so is a
    None for a column that would store it as JSON ``null``."""
    from vaxportal.audit.hook import insert_rows
    from vaxportal.recipients.models import RecipientSearch

    s1 = place["s1"].id
    rows = [{"id": 900 + i, "full_name": f"Người {i}", "name_key": f"nguoi {i}",
             "date_of_birth": date(1990, 1, 1 + i), "gender": "male",
             "facility_id": s1} for i in range(3)]
    insert_rows(db.session, Recipient, rows)
    db.session.commit()
    written = audit_rows(entity="recipient", action="insert")
    assert [r.entity_id for r in written] == ["900", "901", "902"]
    assert {r.facility_id for r in written} == {s1}
    assert written[0].changes["full_name"] == {"old": None, "new": "Người 0"}
    assert written[0].changes["nationality"] == {"old": None, "new": "VN"}  # its default
    assert db.session.get(Recipient, 901).version_id == 1
    assert _verified()
    with pytest.raises(ValueError):
        insert_rows(db.session, RecipientSearch, [{"id": "x", "account_id": 1, "query": {}}])
    with pytest.raises(ValueError):
        insert_rows(db.session, Recipient, [{**rows[0], "id": 950, "uncoded": None}])
    db.session.rollback()


def test_a_batch_keeps_every_character_of_its_text_and_json(place):
    """A batch's rows and their audit rows go in by one COPY on PostgreSQL (``executemany``
    on SQLite): text with a backslash, a tab, a line break, quotes, a ``\\N`` or a lone
    ``\\.`` (COPY's own markers), and a JSON value holding them, come back as they went in,
    and the chain, hashed over what was meant, still verifies."""
    from vaxportal.audit.hook import insert_rows

    awkward = ["a\\b", "tab\there", "line\nbreak", "\\N", "\\.", "quote ' \" ; --", "đ,Đ\r\n"]
    rows = [{"id": 700 + i, "full_name": f"Người {i}", "name_key": f"nguoi {i}",
             "date_of_birth": date(1990, 1, 1 + i), "gender": "male",
             "facility_id": place["s1"].id, "street": text,
             "uncoded": {"ward": text, "list": [text, None, 1.5]}}
            for i, text in enumerate(awkward)]
    insert_rows(db.session, Recipient, rows)
    db.session.commit()
    db.session.expire_all()
    for i, text in enumerate(awkward):
        stored = db.session.get(Recipient, 700 + i)
        assert (stored.street, stored.uncoded) == (text, {"ward": text,
                                                          "list": [text, None, 1.5]})
    changes = {row.entity_id: row.changes for row in audit_rows(entity="recipient")}
    assert [changes[str(700 + i)]["street"]["new"] for i in range(len(awkward))] == awkward
    assert _verified()
