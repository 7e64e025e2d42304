"""The register's statements kept per shape (issue 13): built once per process for each shape
of filter and scope, run with the filter's and the scope's values as parameters. Whatever
account ran a kept statement before, each search finds exactly what the statement built for
it alone finds, in the same order, and nothing of another scope (P1)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import html
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.search import RegisterFilter
from vaxportal.timeutil import utcnow
from vaxportal.validators import local_today

NAMES = {"s1": ("Nguyễn Văn An", "Nguyễn Thị Bình", "Trần Văn An", "An Văn Nguyễn"),
         "s1b": ("Nguyễn Văn Anh", "Lê Thị An"),
         "s2": ("Nguyễn Văn An Xa", "Phạm Văn Nguyên")}
QUERIES = ("nguyen", "nguyen van", "an nguyen", "van an", "xa", "")


@pytest.fixture
def people(person):
    return {name: person(key, full_name=name) for key, names in NAMES.items()
            for name in names}


@pytest.fixture
def support(place, factory):
    return factory.facility("VT", "support_unit", parent=place["doh"], name="Hỗ trợ")


def delegate(account, facility) -> Delegation:
    delegation = Delegation(account_id=account.id, facility_id=facility.id,
                            starts_on=local_today() - timedelta(days=1),
                            ends_on=local_today() + timedelta(days=1),
                            request_ref="9/CV", request_date=local_today(), reason="hỗ trợ")
    db.session.add(delegation)
    db.session.commit()
    return delegation


def found(client, q: str, **fields) -> list[int]:
    """The ids the search fragment lists, in its order."""
    page = html(client.hx("POST", "/recipients/", data={"q": q, **fields}))
    return [int(n) for n in re.findall(r'<td><a href="/recipients/(\d+)">', page)]


def built(account, q: str, **fields) -> list[int]:
    """What the statement built for this filter and account alone finds (a page)."""
    stmt = RegisterFilter(q=q, **fields).ranked_statement(account, Recipient.id).limit(25)
    ids = list(db.session.scalars(stmt))
    db.session.rollback()
    return ids


@pytest.fixture
def readers(signed_in, place, support):
    """A station's nurse, another station's, a district's supervisor, the province's
    reviewer, and a support unit's account delegated to a station: one facility, a
    subtree, its own facility and its delegations."""
    helper = signed_in("data_entry", facility=support)
    delegate(helper.account, place["s2"])
    return {"nurse": signed_in("data_entry", facility=place["s1"]),
            "nurse of S2": signed_in("data_entry", facility=place["s2"]),
            "supervisor": signed_in("supervisor", facility=place["d1"]),
            "reviewer": signed_in("reviewer", facility=place["doh"]),
            "delegated": helper}


def test_p1_each_search_finds_what_its_own_statement_finds(readers, people):
    """Every account searches every text in turn, so each kept statement serves several
    accounts and scopes: each answer is its own filter's and scope's, in its order."""
    for q in QUERIES:
        for name, client in readers.items():
            assert found(client, q) == built(client.account, q), (name, q)


def test_p1_a_statement_kept_for_one_station_shows_another_only_its_own(readers, people,
                                                                        place):
    first = found(readers["nurse"], "nguyen van")
    second = found(readers["nurse of S2"], "nguyen van")
    assert first and second
    facility_of = dict(db.session.execute(sa.select(Recipient.id, Recipient.facility_id)).all())
    assert {facility_of[n] for n in first} == {place["s1"].id}
    assert {facility_of[n] for n in second} == {place["s2"].id}


def test_p1_a_delegation_ended_ends_its_rows_in_the_kept_statement(readers, people, place):
    helper = readers["delegated"]
    assert found(helper, "xa") == [people["Nguyễn Văn An Xa"].id]
    delegation = db.session.scalar(sa.select(Delegation).where(
        Delegation.account_id == helper.account.id))
    delegation.ended_at = utcnow()
    db.session.commit()
    assert found(helper, "xa") == []
    assert found(helper, "nguyen") == []


def test_filters_by_facility_and_vaccine_find_what_their_statement_finds(readers, people,
                                                                         place):
    supervisor = readers["supervisor"]
    for q in ("nguyen", ""):
        fields = {"facility_id": place["s1b"].id}
        assert found(supervisor, q, **fields) == built(supervisor.account, q, **fields)
        assert found(supervisor, q, vaccine_id=1) == built(supervisor.account, q,
                                                           vaccine_id=1)


def test_several_words_cost_no_round_trip_and_share_one_statement(readers, people):
    """Several typed words are looked up together in the words' index by the page's own
    statement: no round trip of their own (the holders of each word were counted first),
    and their values are parameters, so that other words of the same number run the very
    same SQL."""
    sent: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(statement)

    reviewer = readers["reviewer"]
    found(reviewer, "warm-up")
    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        one = found(reviewer, "nguyen")
        one_sent, sent[:] = list(sent), []
        two = found(reviewer, "nguyen van")
        two_sent, sent[:] = list(sent), []
        other = found(reviewer, "an tran")
        other_sent = list(sent)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert one and two and other == built(reviewer.account, "an tran")
    assert len(two_sent) == len(one_sent)
    pages = [s for s in two_sent + other_sent if "dose_count" in s]
    assert len(pages) == 2 and pages[0] == pages[1]
