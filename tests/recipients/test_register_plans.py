"""The register's hot queries as the database plans them (issue 13): the first page read in
order from an index (no sort), the export's keyset seeking its index, and the scope's
subtree bounded by literal paths the planner can see. EXPLAIN on the real database."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from vaxportal.exports.columns import chunk_statement, export_statement, iter_rows, plan_for
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.facilities.tree import subtree_ids
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.search import RegisterFilter, _page_columns


def _plan(stmt) -> str:
    bind = db.session.get_bind()
    compiled = stmt.compile(bind, compile_kwargs={"literal_binds": True})
    if bind.dialect.name == "sqlite":
        rows = db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return "\n".join(str(row[-1]) for row in rows)
    # PostgreSQL on a few rows would rather sort than read an index: make it say whether it
    # can do without
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL enable_sort = off"))
    db.session.execute(sa.text("SET LOCAL enable_incremental_sort = off"))
    rows = db.session.execute(sa.text(f"EXPLAIN {compiled}")).all()
    return "\n".join(row[0] for row in rows)


def _assert_no_sort(plan: str) -> None:
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # SQLite
    assert not re.search(r"\bSort\b", plan), plan  # PostgreSQL (sorts off: only if forced)


@pytest.fixture
def many(person):
    return [person(full_name=name) for name in
            ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Võ Văn Em")]


@pytest.mark.parametrize("role,facility", [("data_entry", "s1"), ("reviewer", "doh")],
                         ids=["commune station", "province"])
def test_first_page_is_read_in_order_from_an_index(signed_in, place, many, role, facility):
    """The register's first page (no filter) in name order without sorting the scope: a
    commune station's rows from (facility_id, name_key, id), a province's by walking
    (name_key, id)."""
    account = signed_in(role, facility=place[facility]).account
    stmt = RegisterFilter().ranked_statement(account, *_page_columns()).limit(25)
    _assert_no_sort(_plan(stmt))
    db.session.rollback()


@pytest.mark.parametrize("page", [1, 80])
def test_a_station_s_page_seeks_its_facility_in_name_order(signed_in, place, many, page):
    """A commune station's nurse (an account no delegation is given to) has one facility in
    scope: the page names it (an equality, not a sub-select the planner cannot see into), so
    both databases seek that facility's rows in name order, and a deep page skips the
    station's rows, not the province's. At 2,000,000 people PostgreSQL walked the province's
    names for the station's page 80: 145 ms, 65 ms seeking the facility."""
    account = signed_in("data_entry", facility=place["s1"]).account
    stmt = RegisterFilter().ranked_statement(account, *_page_columns()).limit(25).offset(
        (page - 1) * 25)
    plan = _plan(stmt)
    _assert_no_sort(plan)
    assert "ix_recipient_facility_name_key_id" in plan, plan
    db.session.rollback()


def test_export_keyset_seeks_the_name_index(signed_in, place, many):
    """A later chunk of a province's export starts at the last row read, through the
    index: the row value is an index condition, not a filter over the range before it."""
    account = signed_in("reviewer", facility=place["doh"]).account
    base = export_statement(RegisterFilter(), account)
    plan = _plan(chunk_statement(base, after=("nguyen van an", 1)).limit(2000))
    if db.session.get_bind().dialect.name == "sqlite":
        assert re.search(r"SEARCH recipient USING INDEX ix_recipient_name_key_id "
                         r"\(name_key>\?\)", plan), plan
    else:
        assert re.search(r"Index Cond: \(+ROW\(\(?name_key\)?(::text)?, id\) >", plan), plan
    _assert_no_sort(plan)
    db.session.rollback()


def test_export_keyset_crosses_chunks_of_equal_names(signed_in, place, person):
    """Equal folded names on both sides of a chunk's edge: every row once, in order."""
    for day in range(1, 8):
        person(full_name="Nguyễn Văn An", date_of_birth=date(1990, 1, day))
    person(full_name="Nguyễn Văn Ân", date_of_birth=date(1991, 1, 1))
    account = signed_in("data_entry", facility=place["s1"]).account
    keys, masked = plan_for(account)
    read = [row["date_of_birth"] for row in iter_rows(RegisterFilter(), account, keys, masked,
                                                      chunk=3)]
    expected = list(db.session.scalars(
        sa.select(Recipient.date_of_birth).where(Recipient.facility_id == place["s1"].id)
        .order_by(Recipient.name_key, Recipient.id)))
    assert read == expected and len(read) == 8


def test_subtree_bounds_are_literal_paths(place):
    """The planner sees the subtree's bounds: two literal paths, no sub-select of the
    facility's own path (PostgreSQL estimated a province's subtree at one row)."""
    district = place["d1"]
    stmt = subtree_ids(district.id)
    compiled = stmt.compile(db.session.get_bind())
    assert str(compiled).count("SELECT") == 1, str(compiled)
    assert sorted(compiled.params.values()) == [district.path, district.path + "\uffff"]
    ids = set(db.session.scalars(stmt))
    assert ids == {district.id, place["s1"].id, place["s1b"].id}
    assert set(db.session.scalars(subtree_ids(10**9))) == set()


def test_subtree_bounds_give_postgresql_a_fair_estimate(place, factory):
    """A province's subtree is estimated from the path's statistics, not as one row."""
    if db.session.get_bind().dialect.name != "postgresql":
        plan = _plan(subtree_ids(place["doh"].id))
        assert "SEARCH facility USING COVERING INDEX ix_facility_path (path>? AND path<?)" \
            in plan, plan
        return
    for n in range(200):
        factory.facility(f"X{n:04d}", parent=place["d2"])
    db.session.execute(sa.text("ANALYZE facility"))
    compiled = subtree_ids(place["doh"].id).compile(
        db.session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = db.session.execute(sa.text(f"EXPLAIN {compiled}")).scalars().all()
    estimate = int(re.search(r"rows=(\d+)", plan[0]).group(1))
    assert estimate > 50, plan
    assert db.session.scalar(sa.select(sa.func.count(Facility.id))) > 200


def test_a_walk_in_name_order_tests_its_scope_in_the_name_index(signed_in, place, many):
    """A wide scope's rows in name order (a deep page, the export): whether each row passed
    is in scope and not merged is read from the name index itself, so the rows of other
    facilities passed on the way cost no read of the table (issue 13: a district of eleven
    facilities, its page 80, read every passed person's row). (A scope of a few facilities
    reads them from the facility's own index instead: ``RegisterFilter._scoped``.)"""
    account = signed_in("reviewer", facility=place["doh"]).account
    stmt = RegisterFilter().ranked_statement(account, Recipient.id).limit(25).offset(1975)
    plan = _plan(stmt)
    _assert_no_sort(plan)
    if db.session.get_bind().dialect.name == "sqlite":
        assert "USING COVERING INDEX ix_recipient_name_key_id" in plan, plan
    else:
        assert "ix_recipient_name_key_id" in plan, plan
    columns = {index["name"]: index["column_names"]
               for index in sa.inspect(db.session.connection()).get_indexes("recipient")}
    assert columns["ix_recipient_name_key_id"] == ["name_key", "id", "facility_id",
                                                   "merged_into_id"]
    db.session.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("role,facility", [("data_entry", "s1"), ("reviewer", "doh")],
                         ids=["commune station", "province"])
def test_postgresql_a_later_page_reads_its_columns_for_its_own_rows(
        signed_in, place, person, role, facility):
    """A later page finds its rows' ids first, then their dose counts and facility names:
    PostgreSQL computed a row's sub-selects for every row it skipped before the page
    (1,975 of each for page 80 at 2,000,000 people: the district's page 80 took 77 ms,
    19 ms now). Page 3 of ten rows: each sub-select runs ten times, not thirty."""
    for n in range(30):
        person("s1", full_name=f"Nguyễn Văn Số {n:02d}")
    account = signed_in(role, facility=place[facility]).account
    stmt, values = RegisterFilter()._kept(account, "page")
    conn = db.session.connection()
    compiled = stmt.compile(conn)
    params = compiled.construct_params({**values, "page_limit": 10, "page_offset": 20})
    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string,
                                params).scalar()
    subplans = []

    def walk(node):
        if node.get("Subplan Name", "").startswith("SubPlan"):
            subplans.append(node)
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    assert len(subplans) == 2, plan
    assert {node["Actual Loops"] for node in subplans} == {10}, plan
    rows = conn.execute(stmt, {**values, "page_limit": 10, "page_offset": 20}).all()
    assert [row.full_name for row in rows] == [f"Nguyễn Văn Số {n:02d}" for n in range(20, 30)]
    db.session.rollback()
