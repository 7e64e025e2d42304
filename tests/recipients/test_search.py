"""Finding a person: folded name prefix, exact identifiers, scope, paging, no terms in URLs."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from tests.helpers import add_dose, assert_no_personal_data_in_urls, html, vaccine
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient, RecipientSearch
from vaxportal.recipients.search import RegisterFilter


def search(client, q="", **fields):
    return client.post("/recipients/", data={"q": q, **fields})


def hx_search(client, q="", **fields):
    return client.hx("POST", "/recipients/", data={"q": q, **fields})


@pytest.fixture
def people(person):
    return {
        "an": person(full_name="Nguyễn Văn An", phone="+84912345678",
                     insurance_number="GD4890123456789"),
        "anh": person(full_name="Nguyễn Văn Anh"),
        "dang": person(full_name="Đặng Thị Lan", gender="female"),
        "binh": person(full_name="Trần Văn Bình"),
        "far": person("s2", full_name="Nguyễn Văn An Xa"),
    }


@pytest.mark.parametrize("q", ["nguyen van an", "Nguyễn Văn An", "NGUYEN VAN AN",
                               "  nguyễn   VĂN an "])
def test_folded_name_prefix_finds_the_same_people(nurse, people, q):
    page = html(hx_search(nurse, q))
    assert "Nguyễn Văn An" in page and "Nguyễn Văn Anh" in page
    assert "Trần Văn Bình" not in page and "Đặng Thị Lan" not in page
    assert "Nguyễn Văn An Xa" not in page  # another facility: out of scope (P1)


def test_dang_finds_dang_with_stroke_d(nurse, people):
    page = html(hx_search(nurse, "dang"))
    assert "Đặng Thị Lan" in page
    assert "Nguyễn" not in page


def test_exact_identifiers(nurse, people):
    an = people["an"]
    for q in (an.national_id, "0912 345 678", "+84912345678", "gd4890123456789"):
        page = html(hx_search(nurse, q))
        assert "Nguyễn Văn An<" in page, q
        assert "Nguyễn Văn Anh" not in page, q


def test_incomplete_number_finds_nobody_and_says_why(nurse, people):
    page = html(hx_search(nurse, people["an"].national_id[:6]))
    assert "Nguyễn" not in page
    assert "cần nhập đủ" in page


def test_plain_post_redirects_to_opaque_search_id_and_returns_the_page(nurse, people):
    response = search(nurse, "nguyen van an")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.search(r"/recipients/\?s=[\w-]+$", location)
    assert "nguyen" not in location.lower()
    page = nurse.get(location)
    body = html(page)
    assert page.status_code == 200 and "<html" in body
    assert "Nguyễn Văn Anh" in body and "Trần Văn Bình" not in body
    assert 'value="nguyen van an"' in body  # the typed text stays in the box


def test_htmx_search_returns_the_fragment_with_the_id_in_the_address_bar(nurse, people):
    response = hx_search(nurse, "nguyen van an")
    body = html(response)
    assert response.status_code == 200
    assert "<html" not in body and 'id="results"' in body
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    assert response.headers["HX-Replace-Url"].endswith(f"/recipients/?s={sid}")
    assert f'id="s" name="s" value="{sid}" hx-swap-oob="true"' in body
    assert_no_personal_data_in_urls(response, "nguyen van an")


def test_same_search_again_reuses_its_id(nurse, people):
    hx_search(nurse, "dang")
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    hx_search(nurse, "dang", s=sid)
    assert db.session.scalar(sa.select(sa.func.count(RecipientSearch.id))) == 1


def test_a_search_typed_back_to_an_earlier_one_reuses_its_id_without_the_form_carrying_it(
        nurse, people):
    """As one types and corrects (dan, dang, dan): the search of "dan" is stored once, and
    typed again it answers with the same id, whatever id the form carried."""
    first = hx_search(nurse, "dan").headers["HX-Replace-Url"]
    hx_search(nurse, "dang")
    again = hx_search(nurse, "dan").headers["HX-Replace-Url"]
    assert again == first
    assert db.session.scalar(sa.select(sa.func.count(RecipientSearch.id))) == 2


def test_p1_a_search_id_is_not_the_same_for_the_same_terms_in_another_session(
        signed_in, place, people):
    """The id of a search is not computable from its terms (personal data): the same
    account's same search in two browser sessions has two unrelated ids."""
    nurse = signed_in("data_entry", facility=place["s1"])
    other_browser = signed_in("data_entry", facility=place["s2"])
    ours = hx_search(nurse, "nguyen van an").headers["HX-Replace-Url"]
    theirs = hx_search(other_browser, "nguyen van an").headers["HX-Replace-Url"]
    assert ours != theirs
    assert_no_personal_data_in_urls(hx_search(nurse, "nguyen van an"), "nguyen van an")


def test_register_page_lists_scope_and_is_linked_from_the_nav(nurse, people):
    response = nurse.get("/recipients/")
    body = html(response)
    assert response.status_code == 200
    assert 'href="/recipients/"' in body
    assert "Trần Văn Bình" in body and "Nguyễn Văn An Xa" not in body
    assert 'hx-trigger="keyup changed delay:400ms, search"' in body
    assert 'method="post"' in body


def test_paging_by_real_links_carrying_only_id_and_page(app, nurse, person):
    app.config["PAGE_SIZE"] = 2
    for given in ("Ba", "Bảy", "Bé", "Bích", "Bình"):
        person(full_name=f"Phạm Thị {given}", gender="female")
    response = search(nurse, "pham thi b")
    first = nurse.get(response.headers["Location"])
    body = html(first)
    links = re.findall(r'href="(/recipients/\?[^"]*page=2[^"]*)"', body)
    assert links and "Trang 1 / 3" in body
    assert re.fullmatch(r"/recipients/\?s=[\w-]+&amp;page=2", links[0])
    second = nurse.hx("GET", links[0].replace("&amp;", "&"))
    assert "Trang 2 / 3" in html(second) and "<html" not in html(second)
    assert_no_personal_data_in_urls(first, "pham thi", "Phạm Thị")


def test_someone_elses_search_id_shows_nothing_of_it(signed_in, nurse, people, place):
    search(nurse, "dang")
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    colleague = signed_in("data_entry", facility=place["s1"])
    body = html(colleague.get(f"/recipients/?s={sid}"))
    assert 'value="dang"' not in body
    assert RegisterFilter.load(sid, colleague.account).is_empty
    assert RegisterFilter.load(sid, nurse.account).q == "dang"
    assert RegisterFilter.load("no-such-id", nurse.account).is_empty
    assert RegisterFilter.load(None, nurse.account).is_empty


def test_search_requires_csrf(nurse, people):
    assert nurse.post("/recipients/", data={"q": "an"}, csrf=False).status_code == 400


# -- the contract for exports -------------------------------------------------------------


def test_register_filter_contract(nurse, people, place):
    add_dose(people["an"], "PFIZER", date(2021, 8, 1))
    account = nurse.account
    f = RegisterFilter(q="Nguyễn Văn")
    rows = db.session.scalars(f.statement(account)).all()
    assert [r.full_name for r in rows] == ["Nguyễn Văn An", "Nguyễn Văn Anh"]
    assert all(isinstance(r, Recipient) for r in rows)
    assert f.count(account) == 2
    by_vaccine = RegisterFilter(vaccine_id=vaccine("PFIZER").id)
    assert [r.id for r in db.session.scalars(by_vaccine.statement(account))] == [people["an"].id]
    assert RegisterFilter().count(account) == 4  # whole scope, never the other facility
    again = RegisterFilter.from_dict(f.to_dict())
    assert again == f
    text = RegisterFilter(q="Nguyễn Văn", facility_id=place["s1"].id).describe()
    assert "Nguyễn" not in text and "nguyen" not in text.lower()
    assert "lọc theo tên/số giấy tờ" in text and "Trạm Y tế Mỹ Bình" in text
    assert RegisterFilter().describe().startswith("Tất cả")


def test_search_id_maps_to_the_same_filter_for_exports(nurse, people):
    search(nurse, "dang")
    sid = db.session.scalar(sa.select(RecipientSearch.id))
    f = RegisterFilter.load(sid, nurse.account)
    assert [r.full_name for r in db.session.scalars(f.statement(nurse.account))] == [
        "Đặng Thị Lan"]


def test_register_page_stops_counting_a_whole_province(nurse, people, monkeypatch):
    from vaxportal.recipients import search as search_module

    monkeypatch.setattr(search_module, "COUNT_CAP", 2)
    body = html(nurse.hx("GET", "/recipients/"))
    assert "Hơn 2 đối tượng" in body
    assert RegisterFilter().count(nurse.account) == 4  # the contract still counts exactly


def test_the_cleanup_removes_the_expired_searches_of_every_account(signed_in, place, runner):
    """Search terms are personal data at rest: an account that never searches again keeps
    none past ``SEARCH_TTL`` either (the scheduled cleanup and ``vaxportal cleanup``)."""
    from datetime import timedelta

    from vaxportal.recipients.search import SEARCH_TTL
    from vaxportal.timeutil import utcnow

    nurse = signed_in("data_entry", facility=place["s1"]).account
    other = signed_in("data_entry", facility=place["s2"]).account
    for sid, account, age in (("old-1", nurse, SEARCH_TTL + timedelta(minutes=1)),
                              ("old-2", other, timedelta(days=3)),
                              ("fresh", other, SEARCH_TTL - timedelta(minutes=5))):
        db.session.add(RecipientSearch(id=sid, account_id=account.id, query={"q": "an"},
                                       created_at=utcnow() - age))
    db.session.commit()
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "searches_expired: 2" in result.output
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(RecipientSearch.id))) == {"fresh"}


def test_an_account_s_sweep_reads_only_its_expired_searches(signed_in, place):
    """The sweep at an account's first search of a session is a range of the index on
    (account, time), not every search the account stored in the last hours."""
    account = signed_in("data_entry", facility=place["s1"]).account
    columns = {index["name"]: index["column_names"] for index in
               sa.inspect(db.session.connection()).get_indexes("recipient_search")}
    assert columns["ix_recipient_search_account_id_created_at"] == ["account_id",
                                                                   "created_at"]
    if db.session.get_bind().dialect.name == "sqlite":
        plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(
            "EXPLAIN QUERY PLAN DELETE FROM recipient_search "
            "WHERE account_id = :a AND created_at < :t"), {"a": account.id, "t": "2026-01-01"}))
        assert "ix_recipient_search_account_id_created_at (account_id=? AND created_at<?)" \
            in plan, plan
    db.session.rollback()
