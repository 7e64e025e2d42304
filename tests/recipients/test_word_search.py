"""Search by any part of a name (issue 14): every typed word matches the start of a word of
the name, diacritics ignored; whole-name prefixes come before word matches; the search stays
on indexes (no scan of the recipient table); an ID not in scope offers the look-up."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.helpers import fresh_otp, hidden_inputs, html
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient, RecipientWord
from vaxportal.recipients.search import RegisterFilter


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


def test_p3_4_word_keys_follow_a_name_corrected_through_the_identity_edit(nurse, people):
    recipient = people["binh"]
    url = f"/recipients/{recipient.id}/identity"
    data = hidden_inputs(html(nurse.get(url))) | {
        "full_name": "Trần Văn Khoa", "date_of_birth": "05/09/1980", "gender": "male",
        "national_id": recipient.national_id, "insurance_number": "", "phone": "",
        "province": "", "district": "", "ward": "", "street": ""}
    prompt = html(nurse.post(url, data=data))
    fresh_otp(nurse)
    assert nurse.post(url, data=hidden_inputs(prompt)).status_code == 303
    assert "Trần Văn Khoa" in html(hx_search(nurse, "khoa"))
    assert "Trần Văn Khoa" not in html(hx_search(nurse, "binh"))
    db.session.expire_all()
    words = db.session.scalars(sa.select(RecipientWord.word_key)
                               .where(RecipientWord.recipient_id == recipient.id))
    assert sorted(words) == ["khoa", "tran", "van"]


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
    assert not re.search(r"\bSCAN recipient_word\b", plan), plan
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
