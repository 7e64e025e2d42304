"""Search by any part of a name (issue 14): every typed word matches the start of a word of
the name, diacritics ignored; whole-name prefixes come before word matches; the search stays
on indexes (no scan of the recipient table): over a wide scope the index of the names'
words (``recipient.name_words``: GIN on PostgreSQL, the FTS5 table on SQLite) finds the
names holding every typed word; an ID not in scope offers the look-up."""

from __future__ import annotations

import importlib
import re
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY

from tests.helpers import fresh_otp, hidden_inputs, html
from vaxportal.audit import chain
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient, name_words_vector
from vaxportal.recipients.search import RegisterFilter, _words_query, classify
from vaxportal.text import name_words


def hx_search(client, q):
    return client.hx("POST", "/recipients/", data={"q": q})


@pytest.fixture
def people(person):
    return {
        "hong_dao": person(full_name="Nguyễn Thị Hồng Đào", gender="female"),
        "dao_minh": person(full_name="Đào Văn Minh"),
        "hong": person(full_name="Nguyễn Thị Hồng", gender="female"),
        "binh": person(full_name="Trần Văn Bình"),
        "far": person("s2", full_name="Lê Hồng Đào", gender="female"),
    }


@pytest.mark.parametrize("q", ["dao", "hong dao", "Đào", "nguyen dao", "ĐÀO", "  hồng   đ "])
def test_p1_any_part_of_a_name_finds_the_person_in_scope_only(nurse, people, q):
    page = html(hx_search(nurse, q))
    assert "Nguyễn Thị Hồng Đào" in page
    assert "Trần Văn Bình" not in page
    assert "Lê Hồng Đào" not in page  # another facility: out of scope (P1)


def test_every_typed_word_must_match_a_word_of_the_name(nurse, people):
    page = html(hx_search(nurse, "hong dao"))
    assert "Nguyễn Thị Hồng Đào" in page
    assert "Nguyễn Thị Hồng<" not in page  # "dao" matches no word of it
    assert "Đào Văn Minh" not in page  # "hong" matches no word of it
    assert "Nguyễn Thị Hồng Đào" in html(hx_search(nurse, "hồng"))
    assert "Nguyễn Thị Hồng Đào" not in html(hx_search(nurse, "ao"))  # starts of words only
    assert "Nguyễn Thị Hồng Đào" not in html(hx_search(nurse, "guyen"))


def test_whole_name_prefix_comes_before_word_matches(nurse, people):
    page = html(hx_search(nurse, "dao"))
    assert page.index("Đào Văn Minh") < page.index("Nguyễn Thị Hồng Đào")
    page = html(hx_search(nurse, "nguyen thi hong"))
    assert page.index("Nguyễn Thị Hồng<") < page.index("Nguyễn Thị Hồng Đào")


def test_p3_4_word_keys_follow_a_name_corrected_through_the_identity_edit(nurse, people,
                                                                        signed_in, place):
    """The new name is found and the old one not, by the station's nurse (its rows read
    through the facility index) and by the province's reviewer (through the words' index,
    which follows the update: SQLite's triggers)."""
    reviewer = signed_in("reviewer", facility=place["doh"])
    recipient = people["binh"]
    url = f"/recipients/{recipient.id}/identity"
    data = hidden_inputs(html(nurse.get(url))) | {
        "full_name": "Trần Văn Khoa", "date_of_birth": "05/09/1980", "gender": "male",
        "national_id": recipient.national_id, "insurance_number": "", "phone": "",
        "province": "", "district": "", "ward": "", "street": ""}
    prompt = html(nurse.post(url, data=data))
    fresh_otp(nurse)
    assert nurse.post(url, data=hidden_inputs(prompt)).status_code == 303
    for client in (nurse, reviewer):
        assert "Trần Văn Khoa" in html(hx_search(client, "khoa"))
        assert "Trần Văn Khoa" in html(hx_search(client, "van kh"))
        assert "Trần Văn Khoa" not in html(hx_search(client, "binh"))
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).name_words == "tran van khoa"
    assert _index_ids("khoa") == [recipient.id] and _index_ids("binh") == []


def test_export_filter_uses_the_same_word_search(nurse, people, place):
    account = nurse.account
    found = db.session.scalars(RegisterFilter(q="hong dao").statement(account)).all()
    assert [r.full_name for r in found] == ["Nguyễn Thị Hồng Đào"]


# -- index use: EXPLAIN on the real database ---------------------------------------------


def _plan(stmt) -> str:
    bind = db.session.get_bind()
    compiled = stmt.compile(bind, compile_kwargs={"literal_binds": True})
    if bind.dialect.name == "sqlite":
        rows = db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return "\n".join(str(row[-1]) for row in rows)
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    rows = db.session.execute(sa.text(f"EXPLAIN {compiled}")).all()
    return "\n".join(row[0] for row in rows)


def _assert_no_full_scan(plan: str) -> None:
    assert not re.search(r"^\s*SCAN recipient\b", plan, re.M), plan  # SQLite
    assert "Seq Scan on recipient" not in plan, plan  # PostgreSQL, with seq scans off


@pytest.mark.parametrize("role,facility", [("data_entry", "s1"), ("reviewer", "doh")])
@pytest.mark.parametrize("q", ["dao", "nguyen thi hong dao", "hong d"])
def test_word_search_is_index_backed_for_narrow_and_wide_scopes(signed_in, place, people,
                                                                role, facility, q):
    client = signed_in(role, facility=place[facility])
    register_filter = RegisterFilter(q=q)
    account = client.account
    for stmt in (register_filter.ranked_statement(account, Recipient.id).limit(20),
                 register_filter.statement(account, Recipient.id).limit(20)):
        _assert_no_full_scan(_plan(stmt))
    db.session.rollback()


def _kept_plan(register_filter: RegisterFilter, account, kind: str) -> str:
    """The plan of the statement the register runs (``RegisterFilter._kept``), with its own
    parameters: PostgreSQL plans it for these values, as the app's connections do."""
    stmt, values = register_filter._kept(account, kind)
    conn = db.session.connection()
    compiled = stmt.compile(conn)
    params = compiled.construct_params(
        {**values, "page_limit": 25, "page_offset": 0, "cap": 2001})
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string,
                                    tuple(params[name] for name in compiled.positiontup))
        return "\n".join(str(row[-1]) for row in rows)
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + compiled.string,
                                                            params))


@pytest.mark.sqlite
@pytest.mark.parametrize("kind", ["page", "count"])
@pytest.mark.parametrize("q", ["dao", "nguyen thi hong dao", "hong d"])
def test_sqlite_names_are_found_through_the_fts_table_within_a_stations_facility(
        signed_in, place, people, kind, q):
    """In every scope the names holding every typed word come from the FTS5 table (then
    each row by its key), never a walk of the register nor of a station's rows: a
    province's reviewer asks it over every facility, a station's nurse within the station
    (the table's facility column), so a station's search costs its own matches. The page's
    whole-name part (``_name_page``) reads only the typed text's range of names: of the
    name index over a province, of the station's own name index for a station."""
    reviewer = signed_in("reviewer", facility=place["doh"]).account
    nurse = signed_in("data_entry", facility=place["s1"]).account
    for account in (reviewer, nurse):
        plan = _kept_plan(RegisterFilter(q=q), account, kind)
        assert "SCAN recipient_name_fts VIRTUAL TABLE INDEX" in plan, plan
        assert not re.search(r"^\s*SCAN recipient\b", plan, re.M), plan
        for line in plan.splitlines():  # a station's rows never read whole
            assert "ix_recipient_facility" not in line or "name_key>?" in line, plan
    assert "(facility_id=? AND name_key>? AND name_key<?)" in _kept_plan(
        RegisterFilter(q=q), nurse, "page")
    _statement, values = RegisterFilter(q=q)._kept(nurse, kind)
    assert values["words_query"].startswith(f'facility_id : ("{place["s1"].id}") AND '), values
    _statement, values = RegisterFilter(q=q)._kept(reviewer, kind)
    assert values["words_query"].startswith("name_words : ("), values
    db.session.rollback()


@pytest.mark.sqlite
def test_sqlite_the_fts_table_follows_a_records_facility(signed_in, place, people):
    """The FTS5 table's facility column follows the row (its triggers): a record moved to
    another facility is found within that facility's index and no longer within its old
    one; the table stays exactly the index of its rows. The facility chosen in a
    supervisor's search box narrows the index too."""
    moved = people["binh"]
    within = _words_query(("binh",), "sqlite", [place["s1b"].id])
    assert _index_ids_within(within) == []
    moved.facility_id = place["s1b"].id
    db.session.commit()
    assert _index_ids_within(within) == [moved.id]
    assert _index_ids_within(_words_query(("binh",), "sqlite", [place["s1"].id])) == []
    _integrity_check()
    supervisor = signed_in("supervisor", facility=place["d1"]).account
    chosen = RegisterFilter(q="binh", facility_id=place["s1b"].id)
    _statement, values = chosen._kept(supervisor, "page")
    assert values["words_query"] == within
    assert db.session.scalars(chosen.statement(supervisor, Recipient.id)).all() == [moved.id]


def _index_ids_within(query: str) -> list[int]:
    stmt = sa.text("SELECT rowid FROM recipient_name_fts WHERE recipient_name_fts MATCH :query "
                   "ORDER BY rowid")
    return list(db.session.scalars(stmt, {"query": query}))


#: the PostgreSQL plan's register: family names by their share (Nguyễn about 38 %), middle
#: names (Văn and Thị most), and 144 given names, so that the words are many, as in a
#: province (PostgreSQL estimates a prefix's holders from its statistics of the commonest
#: words only when it keeps a hundred of them)
_FAMILY = (("Nguyễn", 38), ("Trần", 11), ("Lê", 10), ("Phạm", 7), ("Phan", 5), ("Huỳnh", 4),
           ("Võ", 4), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2), ("Ngô", 2), ("Dương", 2))
_MIDDLE = (("Văn", 40), ("Thị", 40), ("Hữu", 4), ("Ngọc", 4), ("Minh", 4), ("Thanh", 4),
           ("Bích", 2), ("Quốc", 2))
_GIVEN = [onset + rhyme for onset in ("", "b", "ch", "d", "h", "kh", "l", "m", "n", "ph",
                                      "t", "th")
          for rhyme in ("an", "anh", "ao", "inh", "oa", "ong", "uy", "ung", "uyen", "ai",
                        "iem", "ien")]


def _register_of(count: int, facility_ids: list[int], first_id: int) -> None:
    """``count`` people spread over ``facility_ids`` in one INSERT ... SELECT, their search
    keys by the application's rule; as the trail's own statement: test data, not an edit
    to audit."""
    import random

    from vaxportal.recipients.models import search_keys

    rng = random.Random(first_id)

    def pick(table):
        return rng.choices([name for name, _share in table],
                           weights=[share for _name, share in table])[0]

    names = [f"{pick(_FAMILY)} {pick(_MIDDLE)} {rng.choice(_GIVEN)}" for _ in range(count)]
    keys = [search_keys(name) for name in names]
    with chain.writing():
        db.session.execute(sa.text(
            "INSERT INTO recipient (id, full_name, name_key, name_words, date_of_birth, "
            "gender, facility_id, nationality, created_at, updated_at, version_id) "
            "SELECT :first + n, name, key, words, DATE '1980-01-01' + CAST(n % 9000 AS "
            "integer), 'male', (CAST(:facilities AS integer[]))[1 + n % :many], 'VN', "
            "now(), now(), 1 FROM unnest(CAST(:names AS text[]), CAST(:keys AS text[]), "
            "CAST(:words AS text[])) WITH ORDINALITY AS p(name, key, words, n)"),
            {"first": first_id, "facilities": facility_ids, "many": len(facility_ids),
             "names": names, "keys": [k for k, _w in keys], "words": [w for _k, w in keys]})


@pytest.mark.postgres
def test_postgresql_a_wide_search_uses_the_gin_index_a_station_its_facility_index(
        signed_in, place, factory, person):
    """Three thousand people at forty stations, analysed: a province's search for a rare
    combination of common words ("Bùi Bích An") intersects the words' lists in the GIN
    index; a station's search for the commonest words is bounded by the station's rows
    from its facility index (alone, or intersected with the words' list: with the GIN
    index's pending list kept short, ``ginlist01``, the planner may AND both bitmaps), never
    the words' holders of the whole province alone. The planner's own choice, from its
    statistics."""
    stations = [factory.facility(parent=place["d2"], commit=False).id for _ in range(40)]
    db.session.commit()
    _register_of(3000, stations, 10_000)
    _register_of(30, [place["s1"].id], 20_000)
    wanted = [person(key, full_name="Bùi Bích An", date_of_birth=date(1970, 1, day)).id
              for key, day in (("s2", 1), ("s2", 2), ("s1b", 3))]
    db.session.execute(sa.text("ANALYZE"))
    reviewer = signed_in("reviewer", facility=place["doh"]).account
    nurse = signed_in("data_entry", facility=place["s1"]).account
    for kind in ("page", "count"):
        plan = _kept_plan(RegisterFilter(q="Bùi Bích An"), reviewer, kind)
        assert "Bitmap Index Scan on ix_recipient_name_words" in plan, plan
        plan = _kept_plan(RegisterFilter(q="nguyen van"), nurse, kind)
        assert "ix_recipient_facility" in plan, plan
        for words_scan in re.finditer(r"\n( *)->  Bitmap Index Scan on ix_recipient_name_words",
                                      plan):  # only as a branch of an AND with the station's
            above = plan[:words_scan.start()].split("\n")[-3:]  # its sibling's two lines
            assert any("BitmapAnd" in line for line in above), plan
    found = db.session.scalars(RegisterFilter(q="an bich bui").statement(
        reviewer, Recipient.id)).all()
    names = set(db.session.scalars(sa.select(Recipient.name_key).where(
        Recipient.id.in_(found))))
    assert set(wanted) <= set(found) and names <= {"bui bich an", "bui bich anh"}
    db.session.rollback()


# -- the words' index finds the people the rule finds --------------------------------------


def _index_ids(q: str) -> list[int]:
    """What the words' index alone holds for ``q``: the ids it gives, without the rule's
    conditions nor any scope (the FTS5 table on SQLite, the GIN expression on PostgreSQL)."""
    dialect = db.session.get_bind().dialect.name
    query = _words_query(tuple(name_words(q)), dialect)
    if dialect == "sqlite":
        stmt = sa.text("SELECT rowid FROM recipient_name_fts WHERE recipient_name_fts "
                       "MATCH :query ORDER BY rowid")
        return list(db.session.scalars(stmt, {"query": query}))
    stmt = sa.select(Recipient.id).where(name_words_vector(Recipient.name_words).bool_op(
        "@@")(sa.cast(query, TSQUERY))).order_by(Recipient.id)
    return list(db.session.scalars(stmt))


def _found(q: str) -> list[int]:
    """The live records the filter finds over the whole register, through the words' index."""
    stmt = sa.select(Recipient.id).where(
        *RegisterFilter(q=q).conditions()).order_by(Recipient.id)
    return list(db.session.scalars(stmt))


def _by_the_rule(q: str) -> list[int]:
    """The live records the rule itself gives, applied here to every stored ``name_words``:
    every typed word starts a word of the name. (On PostgreSQL the filter's one condition is
    the index's, so only this reading of the rule can check it.)"""
    typed = classify(q).words
    rows = db.session.execute(sa.select(Recipient.id, Recipient.name_words)
                              .where(Recipient.merged_into_id.is_(None))
                              .order_by(Recipient.id))
    return [row_id for row_id, stored in rows
            if all(any(word.startswith(t) for word in stored.split()) for t in typed)]


def _integrity_check() -> None:
    """SQLite: the FTS5 table's index is exactly that of its rows (raises otherwise)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.text("INSERT INTO recipient_name_fts (recipient_name_fts, rank) "
                                   "VALUES ('integrity-check', 1)"))


@pytest.fixture
def bui(person):
    return person(full_name="Bùi Bích An", gender="female", date_of_birth=date(1975, 3, 4))


@pytest.mark.parametrize("q,expected", [
    ("bui bich an", ["Bùi Bích An"]), ("an bich bui", ["Bùi Bích An"]),
    ("bi an", ["Bùi Bích An"]), ("an an", ["Bùi Bích An"]), ("BÙI  bích", ["Bùi Bích An"]),
    ("bích-an", ["Bùi Bích An"]), ("an bui bich an", ["Bùi Bích An"]),
    ("hong nguyen", ["Nguyễn Thị Hồng", "Nguyễn Thị Hồng Đào"]),
    ("bich bui x", []), ("ich", []), ("buibich", []), ("uyen", []),
], ids=["in order", "any order", "prefixes", "repeated", "diacritics typed", "punctuation",
        "repeated among others", "two people", "a word nobody holds", "inside a word",
        "words run together", "inside the family name"])
def test_the_same_people_are_found_with_and_without_the_words_index(
        signed_in, place, people, bui, q, expected):
    """Every typed word starts a word of the name, in any order, diacritics typed or not:
    the province's reviewer (through the words' index) and the station's nurse (the rule
    alone) find the same people, and so does the rule alone over the whole register."""
    for role, home in (("reviewer", "doh"), ("data_entry", "s1")):
        account = signed_in(role, facility=place[home]).account
        stmt = RegisterFilter(q=q).ranked_statement(account, Recipient.full_name)
        assert sorted(db.session.scalars(stmt)) == expected, role
    assert _found(q) == _by_the_rule(q)


def test_p1_a_wide_scope_finds_through_the_words_index_only_its_own_people(
        signed_in, place, people, monkeypatch):
    """The words' index gives candidates from every facility; the scope still holds (P1):
    a district's supervisor, its scope made wide, finds its stations' "Hồng Đào" and never
    the other district's."""
    monkeypatch.setattr(importlib.import_module("vaxportal.policy.scope"), "WIDE_SCOPE", 1)
    supervisor = signed_in("supervisor", facility=place["d1"])
    if db.session.get_bind().dialect.name == "sqlite":  # PostgreSQL: always offered
        plan = _kept_plan(RegisterFilter(q="hong dao"), supervisor.account, "page")
        assert "recipient_name_fts" in plan, plan
    page = html(hx_search(supervisor, "hong dao"))
    assert "Nguyễn Thị Hồng Đào" in page
    assert "Lê Hồng Đào" not in page


def test_a_merged_person_is_not_found(signed_in, place, people, bui, person):
    """A record merged into another (``merged_into_id``) is found by nobody, through the
    words' index or not; the record it was merged into is."""
    gone = person(full_name="Bùi Bích An", gender="female", date_of_birth=date(1975, 3, 5))
    gone.merged_into_id = bui.id
    db.session.commit()
    assert _index_ids("bui bich an") == sorted([bui.id, gone.id])  # the index holds both
    for role, home in (("reviewer", "doh"), ("data_entry", "s1")):
        account = signed_in(role, facility=place[home]).account
        assert db.session.scalars(RegisterFilter(q="bich an").statement(
            account, Recipient.id)).all() == [bui.id], role


def test_an_import_batch_is_found_by_its_words(signed_in, place, people):
    """The import's batch (``services.register_batch``: rows written as statements, no
    object) stores the name's words, and the words' index has them (SQLite: the insert
    trigger)."""
    from vaxportal.recipients.services import register_batch, validate_recipient_data

    clean, errors = validate_recipient_data({
        "full_name": "Hồ Thị Mỹ Duyên", "date_of_birth": date(1991, 2, 3), "gender": "Nữ"})
    assert not errors
    new_id = db.session.scalar(sa.select(sa.func.max(Recipient.id))) + 1
    register_batch([(clean, False)], place["s1"].id, [new_id])
    db.session.commit()
    assert db.session.get(Recipient, new_id).name_words == "ho thi my duyen"
    assert _index_ids("duyen my") == [new_id]
    for role, home in (("reviewer", "doh"), ("data_entry", "s1")):
        client = signed_in(role, facility=place[home])
        assert "Hồ Thị Mỹ Duyên" in html(hx_search(client, "my duy")), role
    _integrity_check()


def test_a_deleted_person_leaves_the_words_index(people, bui):
    """A record removed from the register leaves the words' index with it (SQLite: the
    delete trigger; an external-content FTS5 table would otherwise keep its id)."""
    assert _index_ids("dao minh") == [people["dao_minh"].id]
    db.session.delete(people["dao_minh"])
    db.session.commit()
    assert _index_ids("dao minh") == []
    assert _index_ids("dao") == sorted([people["hong_dao"].id, people["far"].id])
    _integrity_check()


#: names whose words test how each database's index splits them: digits, a number's
#: notation, letters of other scripts, a superscript digit, a final sigma, a word cut at 40
AWKWARD = ("Nguyễn 12e3x Σας", "Lê 1e5 Ж中文", "Trần A²b 7", "Phạm " + "Quá" * 15,
           "Ǆurić Đỗ ǅ", "Võ 0x1f Ⅻ")


def test_the_words_index_splits_awkward_words_as_the_rule_does(person):
    """Each word of each name, typed whole or as its first letters, finds the person through
    the words' index exactly as through the rule alone: the index must hold the stored
    words as they are (PostgreSQL's text search parser would split "12e3x" and drop "²").
    (Typed text with a digit is read as an identifier, never as a name: ``classify``.)"""
    people = {name: person(full_name=name) for name in AWKWARD}
    db.session.commit()
    tried = 0
    for name, recipient in people.items():
        stored = db.session.get(Recipient, recipient.id).name_words
        for word in stored.split():
            for typed in {word[:1], word[:2], word[:-1] or word, word}:
                if classify(typed).kind != "name":
                    continue
                tried += 1
                with_index = _found(typed)
                assert recipient.id in with_index, (name, typed)
                assert with_index == _by_the_rule(typed), (name, typed)
    assert db.session.get(Recipient, people[AWKWARD[3]].id).name_words == "pham " + (
        "qua" * 15)[:40]
    assert tried > 20
    _integrity_check()


# -- an ID that is not in the account's scope ----------------------------------------------


def _lookup_form(page: str) -> str:
    match = re.search(r'<form[^>]*action="/recipients/lookup"[^>]*>.*?</form>', page, re.S)
    assert match, page
    return match.group(0)


@pytest.mark.parametrize("digits", [12, 9])
def test_p1_an_id_not_in_scope_says_so_and_offers_the_lookup_by_post(nurse, people, digits):
    nid = people["far"].national_id if digits == 12 else "089080123"
    response = hx_search(nurse, nid)
    page = html(response)
    assert "Lê Hồng Đào" not in page
    assert "không có trong phạm vi" in page
    form = _lookup_form(page)
    assert 'method="post"' in form
    assert f'value="{nid}"' in form and 'name="id_number"' in form
    assert 'name="csrf_token"' in form
    for url in re.findall(r'(?:href|action|hx-get|hx-post|hx-push-url)="([^"]*)"', page):
        assert nid not in url
    assert nid not in response.headers.get("HX-Push-Url", "")
    page = html(hx_search(nurse, people["hong_dao"].national_id))  # in scope: no offer
    assert "Nguyễn Thị Hồng Đào" in page and 'action="/recipients/lookup"' not in page


def test_p1_the_offer_does_not_tell_whether_the_id_exists_elsewhere(nurse, people):
    elsewhere = html(hx_search(nurse, people["far"].national_id))
    nowhere = html(hx_search(nurse, "089080999999"))
    strip = re.compile(r'value="[^"]*"|s=[\w-]+')
    assert strip.sub("", elsewhere) == strip.sub("", nowhere)
    assert "Vĩnh Mỹ" not in elsewhere  # the other facility is not named


def test_an_id_search_without_javascript_offers_the_lookup_too(nurse, people):
    response = nurse.post("/recipients/", data={"q": people["far"].national_id})
    assert response.status_code == 303
    page = html(nurse.get(response.headers["Location"]))
    assert people["far"].national_id in _lookup_form(page)


def test_p1_a_role_without_the_lookup_is_told_but_offered_nothing(signed_in, place, people):
    reviewer = signed_in("reviewer", facility=place["d1"])
    page = html(hx_search(reviewer, people["far"].national_id))
    assert "Lê Hồng Đào" not in page
    assert "không có trong phạm vi" in page
    assert 'action="/recipients/lookup"' not in page


def test_the_offered_lookup_posts_and_finds_the_person(nurse, people):
    nid = people["far"].national_id
    assert nid in _lookup_form(html(hx_search(nurse, nid)))
    response = nurse.post("/recipients/lookup", data={
        "id_number": nid, "reason": "Người dân chuyển đến tiêm mũi 2"})
    assert response.status_code == 200
    assert "Lê Hồng Đào" in html(response)


@pytest.mark.parametrize("filters", ["name only", "facility and vaccine chosen", "overdue"])
@pytest.mark.parametrize("q", ["nguyen", "nguyen thi", "hong", "thi hong", "dao", "an"])
def test_pages_of_a_name_follow_the_register_order_across_whole_name_and_other_matches(
        signed_in, place, person, q, filters):
    """The register's pages of a typed name (``search._page_rows``: the whole-name part,
    then the other matches only when it runs short, ``RegisterFilter._name_page``) give,
    page after page, exactly the order of the one ranked statement: whole-name prefixes
    first, then the other matches, each by name and id, a page boundary falling inside
    either part or between them; with the search box's facility and vaccine chosen too,
    and in a due list."""
    from tests.helpers import add_dose, vaccine
    from vaxportal.recipients.search import _page_rows

    names = ["Nguyễn Thị Hồng", "Nguyễn Thị An", "Nguyễn Văn Đào", "Đào Thị Hồng",
             "Lê Nguyễn Thị Hồng", "Trần Thị Nguyệt", "Hồng Thị Đào", "An Thị Nguyễn",
             "Nguyễn An", "Phạm Thị Hồng Đào", "Thị Hồng Nguyễn"]
    for n, name in enumerate(names):
        someone = person("s1" if n % 3 else "s1b", full_name=name,
                         date_of_birth=date(1980, 1, 1 + n))
        if n % 2:
            add_dose(someone)
    chosen = {"name only": {},
              "facility and vaccine chosen": {"facility_id": place["s1"].id,
                                              "vaccine_id": vaccine("AZ").id},
              # a due list (its statement never kept): the doses of 2021 are long overdue
              "overdue": {"due": "overdue", "due_on": "2026-01-01"}}[filters]
    for role, home in (("data_entry", "s1"), ("supervisor", "d1"), ("reviewer", "doh")):
        account = signed_in(role, facility=place[home]).account
        register_filter = RegisterFilter(q=q, **chosen)
        expected = list(db.session.scalars(register_filter.ranked_statement(account,
                                                                             Recipient.id)))
        for per_page in (1, 2, 3, 25):
            paged = []
            for page in range(1, len(expected) // per_page + 3):
                paged += [row["id"] for row in _page_rows(register_filter, account, page,
                                                          per_page)]
            assert paged == expected, (role, per_page)
        # every filter keeps someone found by "nguyen" and "an" (Nguyễn Thị An, dosed at S1)
        assert expected or (chosen and q not in ("nguyen", "an")), role
