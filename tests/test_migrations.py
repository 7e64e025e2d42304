"""The migrations are the schema: `vaxportal db upgrade` on an empty database yields exactly
the models' tables, and no model changes without its migration."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from tests.engines import scratch_postgres
from tests.settings import PG_URI, base_config
from vaxportal import create_app
from vaxportal.dbsetup import include_name
from vaxportal.extensions import db, init_migrations


def migrating_app(config: dict):
    """An app as the console script makes it: with the migrations' ``db`` commands."""
    app = create_app(config)
    init_migrations(app)
    return app


@pytest.fixture
def empty_uri(tmp_path):
    if not PG_URI:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with scratch_postgres(PG_URI, "migrations") as uri:
        yield uri


def test_upgrade_on_empty_database_matches_models(empty_uri, tmp_path):
    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": include_name})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_runner_db_upgrade_command(empty_uri, tmp_path):
    app = migrating_app(base_config(empty_uri, tmp_path))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"facility", "account", "custodian", "recipient", "dose", "audit_event"} <= tables


def test_p2_4_upgrade_installs_the_append_only_audit_triggers(empty_uri, tmp_path):
    """compare_metadata does not see triggers: prove the migration creates them. A bare
    engine, without the app's guard, so that only the database itself can refuse."""
    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_event (at, category, action, actor) "
            "VALUES (CURRENT_TIMESTAMP, 'data', 'probe', 'test')"))
    for statement in ("UPDATE audit_event SET action = 'changed'", "DELETE FROM audit_event"):
        with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT action FROM audit_event")).scalars().all() \
            == ["probe"]
    engine.dispose()


def _name_words_gin(engine) -> tuple[list | None, int]:
    """The names' GIN index's options and the pages waiting in its pending list."""
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'ix_recipient_name_words'"
        ).scalar()
        pending = conn.exec_driver_sql(
            "SELECT pending_pages FROM pgstatginindex('ix_recipient_name_words')").scalar()
        conn.commit()
    return options, pending


@pytest.mark.postgres
def test_the_names_gin_index_keeps_a_short_pending_list_after_the_upgrade_and_in_the_models(
        empty_uri, tmp_path, app):
    """compare_metadata does not see an index's options: with a short pending list, a name
    search reads few rows waiting to be merged into the index (``ginlist01``). The
    revision before it, with rows waiting in the list, is upgraded: the list is merged."""
    migrating = migrating_app(base_config(empty_uri, tmp_path))
    with migrating.app_context():
        upgrade(revision="namefts02")
        db.engine.dispose()
    _older_register(empty_uri, [(n, f"Người Số {n}", f"nguoi so {n}") for n in range(1, 400)])
    bare = sa.create_engine(empty_uri)
    with bare.begin() as conn:  # the words as the app keeps them, so the list fills
        conn.exec_driver_sql("UPDATE recipient SET name_words = name_key")
    options, pending = _name_words_gin(bare)
    assert options is None and pending > 0
    with migrating.app_context():
        upgrade()
        db.engine.dispose()
    assert _name_words_gin(bare) == (["gin_pending_list_limit=64"], 0)
    bare.dispose()
    with app.app_context():  # the suite's schema, made from the models
        assert _name_words_gin(db.engine)[0] == ["gin_pending_list_limit=64"]


#: names registered before the word table and before ``namewords01``: (id, full name,
#: folded name)
OLDER_NAMES = [(7, "Nguyễn Thị Hồng Đào", "nguyen thi hong dao"),
               (8, "Bùi Bích An", "bui bich an"),
               (9, "Đào Văn Hồng", "dao van hong")]


def _older_register(uri: str, names: list[tuple[int, str, str]]) -> None:
    """A station and ``names`` written as an older release wrote them, past the app's audit
    guard (the schema is that of an earlier revision)."""
    bare = sa.create_engine(uri)
    with bare.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO facility (id, code, name, name_key, kind, path, created_at) "
            "VALUES (1, 'S1', 'Trạm', 'tram', 'commune_station', '/1/', '2026-01-01')"))
        for rid, name, key in names:
            conn.execute(sa.text(
                "INSERT INTO recipient (id, full_name, name_key, date_of_birth, gender, "
                "facility_id, created_at, updated_at, version_id) VALUES (:id, :name, "
                ":key, '1990-01-02', 'female', 1, '2026-01-01', '2026-01-01', 1)"),
                {"id": rid, "name": name, "key": key})
    bare.dispose()


def test_words_migration_fills_the_name_words_of_existing_recipients(empty_uri, tmp_path):
    """Search by any part of a name (issue 14): recipients registered before the word table
    existed had their words after that upgrade (the table ``namewords01`` replaced)."""
    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade(revision="lockout01")
        _older_register(empty_uri, OLDER_NAMES[:1])
        upgrade(revision="coverage01")
        with db.engine.connect() as conn:
            words = conn.execute(sa.text(
                "SELECT word_key FROM recipient_word WHERE recipient_id = 7")).scalars().all()
        db.engine.dispose()
    assert sorted(words) == ["dao", "hong", "nguyen", "thi"]


def _found(q: str) -> list[int]:
    """The ids the register's own name conditions find (the words' index included)."""
    from vaxportal.recipients.models import Recipient
    from vaxportal.recipients.search import RegisterFilter

    stmt = sa.select(Recipient.id).where(*RegisterFilter(q=q).conditions()).order_by(
        Recipient.id)
    return list(db.session.scalars(stmt))


def test_name_words_migration_fills_the_column_and_its_index_and_goes_back(empty_uri,
                                                                          tmp_path):
    """``namewords01`` on a register of the revision before: every name's words in
    ``name_words``, found through the words' index (GIN on PostgreSQL, FTS5 on SQLite,
    whose triggers then follow new names); ``recipient_word`` gone. Its downgrade gives the
    word table back, filled, and takes the column away."""
    from vaxportal.recipients.models import Recipient

    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade(revision="coverage01")
        _older_register(empty_uri, OLDER_NAMES)
        upgrade()
        stored = dict(db.session.execute(sa.select(Recipient.id, Recipient.name_words)).all())
        found = {q: _found(q) for q in ("hong dao", "bich", "dao van", "an bui", "hong")}
        inspector = sa.inspect(db.engine)
        tables = set(inspector.get_table_names())
        indexes = {index["name"] for index in inspector.get_indexes("recipient")}
        renamed = db.session.get(Recipient, 8)
        renamed.full_name = "Bùi Thị Lan"
        db.session.commit()
        after_rename = (_found("bich"), _found("lan bui"))
        db.session.remove()
        db.engine.dispose()
        downgrade_to("coverage01")
        with db.engine.connect() as conn:
            words = conn.execute(sa.text(
                "SELECT recipient_id, word_key FROM recipient_word ORDER BY recipient_id, "
                "word_key")).all()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("recipient")}
        db.engine.dispose()
    assert stored == {7: "nguyen thi hong dao", 8: "bui bich an", 9: "dao van hong"}
    assert found == {"hong dao": [7, 9], "bich": [8], "dao van": [9], "an bui": [8],
                     "hong": [7, 9]}
    assert "recipient_word" not in tables
    if PG_URI:
        assert "ix_recipient_name_words" in indexes
    else:
        assert "recipient_name_fts" in tables
    assert after_rename == ([], [8])
    assert [tuple(w) for w in words][:4] == [(7, "dao"), (7, "hong"), (7, "nguyen"),
                                             (7, "thi")]
    assert (8, "lan") in [tuple(w) for w in words] and len(words) == 4 + 3 + 3
    assert "name_words" not in columns


def downgrade_to(revision: str) -> None:
    from flask_migrate import downgrade

    downgrade(revision=revision)


def _one_station(conn) -> None:
    """Old data: the commune station (id 1) its people are registered at."""
    conn.execute(sa.text(
        "INSERT INTO facility (id, code, name, name_key, kind, path, created_at) "
        "VALUES (1, 'S1', 'Trạm', 'tram', 'commune_station', '/1/', '2026-01-01')"))


def test_codes_migration_turns_older_text_into_codes_and_keeps_the_rest_for_review(
        empty_uri, tmp_path):
    """Issue 14: a database of the revision before, with free text in the coded fields, has
    codes where the text matches after the upgrade, the rest listed for review, and every
    change in the audit trail (P2.4)."""
    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade(revision="entry01")
        bare = sa.create_engine(empty_uri)  # without the app's audit guard: old data
        with bare.begin() as conn:
            _one_station(conn)
            for rid, ethnicity, group, province, ward in (
                    (7, "Tày", "Nhóm 8", "Tỉnh An Giang", "phuong long xuyen"),
                    (8, "Kinh Bắc", "người mắc các bệnh mạn tính, người trên 65 tuổi",
                     "An Giang", "Mỹ Bình")):
                conn.execute(sa.text(
                    "INSERT INTO recipient (id, full_name, name_key, date_of_birth, gender, "
                    "facility_id, created_at, updated_at, version_id, ethnicity, "
                    "priority_group, province, ward) VALUES (:id, 'Nguyễn Văn An', "
                    "'nguyen van an', '1990-01-02', 'male', 1, '2026-01-01', '2026-01-01', 1, "
                    ":ethnicity, :group, :province, :ward)"),
                    {"id": rid, "ethnicity": ethnicity, "group": group, "province": province,
                     "ward": ward})
        bare.dispose()
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, ethnicity, priority_group, province, ward FROM recipient "
                "ORDER BY id")).all()
            audited = conn.execute(sa.text(
                "SELECT count(*) FROM audit_event WHERE entity = 'recipient'")).scalar()
        listed = app.test_cli_runner().invoke(args=["codes", "unmatched"]).output
        db.engine.dispose()
    assert [tuple(row) for row in rows] == [(7, "02", "N08", "91", "30307"),
                                            (8, None, "N08", "91", None)]
    assert "ethnicity\tKinh Bắc\t1\t8" in listed and "ward\tMỹ Bình\t1\t8" in listed
    assert audited == 2


def test_coverage_migration_fills_the_summary_from_the_doses_recorded(empty_uri, tmp_path):
    """Issue 15: people vaccinated before the summary existed are counted after the upgrade,
    and the summary equals one computed again from the doses."""
    from vaxportal.reports import summary

    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade(revision="aefi01")
        bare = sa.create_engine(empty_uri)  # without the app's audit guard: old data
        with bare.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO facility (id, code, name, name_key, kind, path, created_at) "
                "VALUES (1, 'D', 'TTYT', 'ttyt', 'district_health_centre', '/1/', "
                "'2026-01-01'), (2, 'S', 'Trạm', 'tram', 'commune_station', '/1/2/', "
                "'2026-01-01')"))
            conn.execute(sa.text(
                "INSERT INTO vaccine (id, code, name, manufacturer, doses_in_series, "
                "min_interval_days, active) VALUES (1, 'AZ', 'AZ', 'AZ', 2, 28, true)"))
            conn.execute(sa.text(
                "INSERT INTO recipient (id, full_name, name_key, date_of_birth, gender, "
                "facility_id, created_at, updated_at, version_id) VALUES (7, "
                "'Nguyễn Thị Hồng Đào', 'nguyen thi hong dao', '1990-01-02', 'female', 2, "
                "'2026-01-01', '2026-01-01', 1)"))
            for did, number, day in ((1, 1, "2021-07-01"), (2, 2, "2021-08-15")):
                conn.execute(sa.text(
                    "INSERT INTO dose (id, recipient_id, facility_id, vaccine_id, lot_number, "
                    "dose_number, given_on, vaccinator, aefi, created_at, version_id) VALUES "
                    "(:id, 7, 2, 1, 'L1', :n, :day, 'V', 'none', '2026-01-01', 1)"),
                    {"id": did, "n": number, "day": day})
        bare.dispose()
        upgrade()
        with db.engine.connect() as conn:
            person = conn.execute(sa.text(
                "SELECT first_on, complete_on, booster_on FROM coverage_person "
                "WHERE recipient_id = 7")).one()
            district = conn.execute(sa.text(
                "SELECT sum(complete) FROM coverage_tally WHERE node_id = 1 AND grain = 'd' "
                "AND priority_group = '*' AND band = '*'")).scalar()
            differences = summary.differences(conn)
        db.engine.dispose()
    assert [str(day) for day in person] == ["2021-07-01", "2021-08-15", "None"]
    assert district == 1 and differences == []


def test_pairs_migration_removes_a_pair_queued_twice_and_keeps_it_once(empty_uri, tmp_path):
    """A queue where two scans at once queued each pair twice (the revision before): after
    the upgrade each pair is queued once, its removed rows are in the audit trail (P2.4),
    and a third row of the pair is refused by the database."""
    app = migrating_app(base_config(empty_uri, tmp_path))
    with app.app_context():
        upgrade(revision="search02")
        bare = sa.create_engine(empty_uri)  # without the app's audit guard: old data
        with bare.begin() as conn:
            _one_station(conn)
            for rid in (7, 8):
                conn.execute(sa.text(
                    "INSERT INTO recipient (id, full_name, name_key, name_words, "
                    "date_of_birth, gender, facility_id, created_at, updated_at, version_id) "
                    "VALUES (:id, 'Nguyễn Văn An', 'nguyen van an', 'nguyen van an', "
                    "'1990-01-02', 'male', 1, '2026-01-01', '2026-01-01', 1)"), {"id": rid})
            for cid in (1, 2):
                conn.execute(sa.text(
                    "INSERT INTO duplicate_candidate (id, recipient_id, other_id, facility_id, "
                    "status, created_at) VALUES (:id, 8, 7, 1, 'open', '2026-01-01')"),
                    {"id": cid})
        bare.dispose()
        upgrade()
        with db.engine.connect() as conn:
            queued = conn.execute(sa.text(
                "SELECT id, recipient_id, other_id FROM duplicate_candidate")).all()
            removed = conn.execute(sa.text(
                "SELECT entity_id FROM audit_event WHERE entity = 'duplicate_candidate' "
                "AND action = 'delete'")).scalars().all()
        bare = sa.create_engine(empty_uri)
        with pytest.raises(sa.exc.IntegrityError), bare.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO duplicate_candidate (recipient_id, other_id, facility_id, "
                "status, created_at) VALUES (8, 7, 1, 'open', '2026-01-01')"))
        bare.dispose()
        db.engine.dispose()
    assert [tuple(row) for row in queued] == [(1, 8, 7)]
    assert removed == ["2"]
