"""The routing check (issue 13): every statement of the main pages that reads recipient or
dose rows carries the facility condition that a database partitioned by province (or Citus
with the province as distribution column, ``docs/deploy.md``) needs to send it to one
province: the facility's id (``= ?`` or ``IN (...)``, the scope's own facilities or its
sub-select through the facility path range). Doses live with their recipient (same
distribution key), so a statement whose recipient rows carry the condition routes its doses
too.

The exceptions are reads by primary key (or by a recipient already checked in scope), each
listed in ``BY_KEY`` with its reason: the id itself routes them (ids are allocated per
province, see the deploy guide). Each page runs as in production, on a database session of
its own, as a nurse and as a supervisor; every statement sent is captured.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from tests.helpers import MAIN_PAGES, SUPERVISOR_PAGES, add_dose
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate
from vaxportal.recipients.services import create_recipient

#: the tables a province's partition holds (their rows are personal data of one province)
PARTITIONED = ("recipient", "dose")
READS = re.compile(r"\b(?:FROM|JOIN)\s+(recipient|dose)\b(?!_)(?:\s+AS\s+(\w+))?")
#: a parameter, as SQLite (``?``) or psycopg (``%(name)s::TYPE``) spells it
PARAM = re.compile(r"%\(\w+\)s(?:::(?:TIMESTAMP WITH(?:OUT)? TIME ZONE|DOUBLE PRECISION|"
                   r"CHARACTER VARYING|[A-Z]+)(?:\[\])?)?|%s")

#: statements without a facility condition, allowed because they follow a scope check and
#: read by key; each (pattern of the whole statement, reason)
BY_KEY = [
    (r"SELECT recipient\.id, .* FROM recipient LEFT OUTER JOIN facility AS facility_1 ON "
     r"facility_1\.id = recipient\.facility_id WHERE recipient\.id = \?",
     "policy.get_in_scope_or_404(Recipient, id): one row by primary key, whose facility is "
     "then checked against the scope (404 outside it)"),
    (r"SELECT dose\.id, .* FROM dose LEFT OUTER JOIN recipient AS recipient_1 ON "
     r"recipient_1\.id = dose\.recipient_id .* WHERE dose\.id = \?",
     "policy.get_in_scope_or_404(Dose, id): one dose by primary key with its recipient, "
     "checked against the scope before anything is shown"),
    (r"SELECT dose\.recipient_id, dose\.id, .* FROM dose(?: .*)? WHERE dose\.recipient_id IN "
     r"\(\?(?:, \?)*\) ORDER BY dose\.given_on",
     "selectinload of the doses of recipients just loaded in scope (the recipient page, its "
     "forms, the dose form, the two records of a duplicate pair): co-located with their "
     "recipient"),
    (r"SELECT dose\.id, .* FROM dose WHERE dose\.recipient_id = \? ORDER BY dose\.given_on "
     r"DESC, dose\.dose_number DESC, dose\.id DESC LIMIT \?(?: OFFSET \?)?",
     "the last dose of a recipient checked in scope (lots.py suggestions): co-located"),
    (r"SELECT max\(dose\.dose_number\) AS max_1 FROM dose WHERE dose\.recipient_id = \? AND "
     r"dose\.vaccine_id = \?",
     "the next dose number of a recipient checked in scope (dosing.py): co-located"),
    (r"SELECT duplicate_candidate\.id, .* FROM duplicate_candidate LEFT OUTER JOIN recipient "
     r"AS recipient_1 ON recipient_1\.id = duplicate_candidate\.recipient_id .* WHERE "
     r"duplicate_candidate\.status = \? AND duplicate_candidate\.facility_id IN \(SELECT "
     r"facility\.id FROM facility WHERE facility\.path >= \? AND facility\.path < \?\) .*",
     "the supervisor's queue of possible duplicates, routed by the candidate's facility (the "
     "scope's path range); its two recipients joined by primary key. The other record may "
     "live in another province (duplicates are looked for platform-wide): the one read of "
     "these pages that may leave the partition, by key"),
]

#: pages beyond the budgeted ones: the register's search fragment, the recipient's other
#: forms, a dose's forms, the reports of one's own facility
EXTRA = {
    "search fragment (htmx POST)": ("POST", "/recipients/", True),
    "edit form": ("GET", "/recipients/{person}/edit", False),
    "identity form": ("GET", "/recipients/{person}/identity", False),
    "dose correction form": ("GET", "/recipients/doses/{dose}/edit", False),
    "dose deletion form": ("GET", "/recipients/doses/{dose}/delete", False),
    "reports": ("GET", "/reports/", False),
    "coverage of one's facility": ("GET", "/reports/f/{home}", False),
    "due list": ("GET", "/reports/f/{home}/due", False),
    "data quality": ("GET", "/reports/f/{home}/quality", False),
}
#: a supervisor's own: a pair of possible duplicates, side by side
SUPERVISOR_EXTRA = {"a pair of possible duplicates": ("GET", "/recipients/duplicates/{pair}",
                                                      False)}
ROLES = {"nurse": ("data_entry", "s1"), "supervisor": ("supervisor", "d1")}


def _pages(role: str) -> dict[str, tuple[str, str, bool]]:
    pages = {name: ("GET", url, htmx) for name, (url, htmx, _budget) in MAIN_PAGES.items()}
    if role == "supervisor":
        pages.update({name: ("GET", url, False) for name, (url, _b) in SUPERVISOR_PAGES.items()})
        pages.update(SUPERVISOR_EXTRA)
    return {**pages, **EXTRA}


@contextmanager
def captured():
    """The statements sent inside the block, each request on a fresh database session."""
    db.session.remove()
    sent: list[str] = []

    def listen(_conn, _cursor, statement, _params, _context, _many):
        sent.append(PARAM.sub("?", " ".join(statement.split())))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)


def reads_partitioned(statement: str) -> list[str]:
    """The names (table or alias) under which ``statement`` reads recipient or dose rows."""
    return [alias or table for table, alias in READS.findall(statement)]


def has_facility_condition(statement: str, names: list[str]) -> bool:
    """One of ``names`` is restricted by its facility id: ``= ?`` or ``IN (``; on SQLite
    also through its unary ``+`` (``(+ recipient.facility_id) = ?``, ``search._off_index``:
    the planner kept off the facility index, the condition the same)."""
    return any(re.search(rf"(?:\b{name}\.facility_id|\(\+ {name}\.facility_id\)) "
                         rf"(?:= \?|IN \()", statement)
               for name in names)


def by_key(statement: str) -> str | None:
    return next((reason for pattern, reason in BY_KEY if re.fullmatch(pattern, statement)),
                None)


def unroutable(statements: list[str]) -> list[str]:
    """The statements that read recipient or dose rows with no facility condition and are
    not a listed read by key."""
    return [s for s in statements
            if (names := reads_partitioned(s)) and not has_facility_condition(s, names)
            and by_key(s) is None]


@pytest.fixture
def world(place):
    """People at S1 and at S1B, a dose of each, the two a pair of possible duplicates."""
    people = [create_recipient({"full_name": name, "gender": "female", "national_id": nid,
                                "date_of_birth": date(1990, 5, 6)}, place[key].id)
              for name, nid, key in (("Trần Thị Bình", "089090123456", "s1"),
                                     ("Lê Thị Bình", "089090123457", "s1b"))]
    db.session.commit()
    doses = [add_dose(person) for person in people]
    pair = DuplicateCandidate(recipient_id=people[1].id, other_id=people[0].id,
                              facility_id=place["s1b"].id)
    db.session.add(pair)
    db.session.commit()
    return {"person": people[0].id, "dose": doses[0].id, "pair": pair.id,
            "homes": {key: place[key].id for key in ("s1", "d1")}}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_read_of_recipients_and_doses_carries_the_facility_condition(
        signed_in, place, world, role):
    kind, home = ROLES[role]
    client = signed_in(kind, facility=place[home])
    ids = {"person": world["person"], "dose": world["dose"], "pair": world["pair"],
           "home": world["homes"][home]}
    seen, found, used = set(), {}, set()
    for name, (method, url, htmx) in _pages(role).items():
        url = url.format(**ids)
        data = {"q": "binh"} if method == "POST" else None
        with captured() as sent:
            response = client.hx(method, url, data=data) if htmx \
                else client.open(url, method=method, data=data)
        assert response.status_code == 200, (name, response.status_code)
        seen.update(s for s in sent if reads_partitioned(s))
        used.update(reason for s in sent if (reason := by_key(s)))
        if bad := unroutable(sent):
            found[name] = bad
    assert found == {}, "statements a province's partition could not route:\n" + "\n".join(
        f"  {name}: {s}" for name, bad in found.items() for s in bad)
    assert len(seen) >= 10  # the pages did read recipients and doses
    if role == "supervisor":  # who sees every page: no exception is listed for nothing
        assert used == {reason for _pattern, reason in BY_KEY}


@pytest.mark.parametrize("statement", [
    "SELECT recipient.id FROM recipient WHERE recipient.merged_into_id IS NULL",
    "SELECT count(*) FROM dose JOIN vaccine ON vaccine.id = dose.vaccine_id",
    "SELECT r.id FROM recipient AS r WHERE r.facility_id IS NOT NULL",
    "SELECT recipient.id FROM recipient WHERE recipient.id = ?",
], ids=["no condition", "dose without one", "alias, no parameter", "by key, not listed"])
def test_the_check_refuses_a_statement_without_the_condition(statement):
    assert unroutable([statement]) == [statement]


@pytest.mark.parametrize("statement", [
    "SELECT recipient.id FROM recipient WHERE recipient.facility_id = ?",
    "SELECT d.id FROM dose AS d WHERE d.facility_id IN (SELECT facility.id FROM facility "
    "WHERE facility.path >= ? AND facility.path < ?)",
    # the words' index of SQLite (an FTS5 table; a single database, never partitioned),
    # asked inside the register's statement, whose recipient rows carry the condition
    "SELECT rowid FROM recipient_name_fts WHERE recipient_name_fts MATCH ?",
    # SQLite's planner kept off the facility index by its unary + (search._off_index)
    "SELECT recipient.id FROM recipient WHERE (+ recipient.facility_id) = ?",
], ids=["equality", "path range through an alias", "another table", "off SQLite's index"])
def test_the_check_lets_a_routed_statement_through(statement):
    assert unroutable([statement]) == []
