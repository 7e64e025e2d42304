"""The register's search: one filter shared by the register page and the Excel export.

Search terms are personal data: they are POSTed, kept server-side in a ``RecipientSearch``
row under a random id, and URLs carry only that id and a page number.

The contract other domains use (exports)::

    f = RegisterFilter.load(search_id, account)   # empty filter if none/unknown/not yours
    stmt = f.statement(account)                   # scoped SELECT of Recipient, fixed order
    f.ranked_statement(account)                   # the register's order (whole-name first)
    n = f.count(account)
    f.describe()                                  # Vietnamese, without personal data
    RegisterFilter.from_dict(f.to_dict())         # JSON-safe, for background jobs
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context, has_request_context, session
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from vaxportal import policy
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients import due
from vaxportal.recipients.models import (
    Dose,
    Recipient,
    RecipientSearch,
    Vaccine,
    name_words_vector,
)
from vaxportal.text import clean, fold, name_words, prefix_range
from vaxportal.timeutil import utcnow
from vaxportal.validators import normalize_insurance_number, normalize_national_id, normalize_phone

#: searches older than this are removed when the same account searches again
SEARCH_TTL = timedelta(hours=12)

_SEPARATORS = re.compile(r"[\s.\-]+")


@dataclass(frozen=True)
class Term:
    """What the typed text means: name words, an exact identifier, or nothing usable."""

    kind: str  # "" (no text) | name | national_id | insurance | phone_or_social | partial
    value: str = ""
    phone: str | None = None
    words: tuple[str, ...] = ()  # name: the folded words typed, each a word prefix


def classify(q: str) -> Term:
    """Read the search box: exact national ID, insurance number or phone; else words, each
    the start of a word of the name (search by any part of a name)."""
    text = clean(q or "")  # as names are stored: NFC, no invisible characters
    if not text:
        return Term("")
    compact = _SEPARATORS.sub("", text)
    if compact.lstrip("+").isdigit():
        if len(compact) in (9, 12) and (nid := _normalized(normalize_national_id, compact)):
            return Term("national_id", nid)
        phone = _normalized(normalize_phone, compact)
        social = compact if len(compact) == 10 else None
        if phone or social:
            return Term("phone_or_social", social or "", phone)
        return Term("partial", compact)
    if any(ch.isdigit() for ch in compact):
        insurance = _normalized(normalize_insurance_number, compact)
        return Term("insurance", insurance) if insurance else Term("partial", compact)
    words = name_words(text)
    return Term("name", fold(text), words=tuple(words)) if words else Term("")


def _normalized(normalize, value: str) -> str | None:
    """The validators' normal form, or None when the value is not valid."""
    try:
        return normalize(value) or None
    except (ValueError, TypeError):
        return None


@dataclass
class RegisterFilter:
    """The register's current filter. ``q`` is the typed text (personal data)."""

    q: str = ""
    facility_id: int | None = None
    vaccine_id: int | None = None
    #: the people of the facility (and of the facilities below it) due (or overdue) for
    #: their next dose on ``due_on`` (ISO date): the reports' due list, exported like any
    #: register filter
    due: str = ""
    due_on: str = ""

    # -- persistence --------------------------------------------------------------------

    @classmethod
    def load(cls, search_id: str | None, account) -> RegisterFilter:
        """The filter stored under ``search_id`` for ``account``; empty if none/unknown."""
        row = get_search(search_id, account)
        return cls.from_dict(row.query) if row else cls()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.due:  # a register search stores what it always stored
            del data["due"], data["due_on"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RegisterFilter:
        data = data or {}
        return cls(
            q=str(data.get("q") or "")[:200],
            facility_id=_int_or_none(data.get("facility_id")),
            vaccine_id=_int_or_none(data.get("vaccine_id")),
            **_due_fields(data),
        )

    @property
    def is_empty(self) -> bool:
        return not (self.q.strip() or self.facility_id or self.vaccine_id or self.due)

    @property
    def term(self) -> Term:
        """``classify(q)``, read once for a given ``q`` (the page asks it several times)."""
        known = self.__dict__.get("_term")
        if known is None or known[0] != self.q:
            known = self.__dict__["_term"] = (self.q, classify(self.q))
        return known[1]

    # -- queries --------------------------------------------------------------------------

    def conditions(self, account=None) -> list:
        """WHERE clauses of the filter (the scope is added by ``statement``); a name's words
        found through their index (``_word_conditions``), asked within ``account``'s
        facilities where they are few."""
        return self._conditions(self._values(account).__getitem__)

    def statement(self, account, *columns) -> sa.Select:
        """Scoped SELECT of Recipient (or of ``columns``), ordered by folded name then id."""
        stmt = self._scoped(sa.select(*(columns or (Recipient,))), account)
        return stmt.order_by(Recipient.name_key, Recipient.id)

    def ranked_statement(self, account, *columns) -> sa.Select:
        """``statement`` in the order a person searching expects: for a name, those whose
        whole name starts with the text typed come first, then the other word matches (an
        exact ID, phone or insurance number matches only itself)."""
        stmt = self._scoped(sa.select(*(columns or (Recipient,))), account)
        return self._ranked(stmt, self._values(account).__getitem__)

    def count(self, account, cap: int | None = None) -> int:
        """Rows of the filter in the account's scope; with ``cap``, counting stops after
        ``cap + 1`` rows (the register page need not count a whole province)."""
        if cap is not None:
            stmt, values = self._kept(account, "count")
            return int(db.session.connection().execute(stmt, {**values, "cap": cap + 1})
                       .scalar() or 0)
        ids = self._scoped(sa.select(Recipient.id), account)
        stmt = sa.select(sa.func.count()).select_from(ids.subquery())
        return int(db.session.scalar(stmt) or 0)

    def describe(self) -> str:
        """Vietnamese text of the filter WITHOUT personal data (for export pages and files)."""
        parts = []
        if self.q.strip():
            parts.append(_("lọc theo tên/số giấy tờ"))
        if self.facility_id and (facility := db.session.get(Facility, self.facility_id)):
            parts.append(_("cơ sở: %(name)s", name=facility.name))
        if self.vaccine_id and (vaccine := db.session.get(Vaccine, self.vaccine_id)):
            parts.append(_("đã tiêm vắc xin: %(name)s", name=vaccine.name))
        if self.due and self.due_on:
            parts.append(_("quá hạn mũi tiếp theo ngày %(date)s", date=_vn(self.due_on))
                         if self.due == "overdue" else
                         _("đến hạn mũi tiếp theo ngày %(date)s", date=_vn(self.due_on)))
        if not parts:
            return _("Tất cả đối tượng trong phạm vi của tài khoản")
        return "; ".join(parts)


    def _scoped(self, stmt: sa.Select, account, *, named: bool = False,
                words: bool = True, only_if=None) -> sa.Select:
        """The filter and the account's scope, shaped so that SQLite reads rows in the
        register's order from an index, with no sort. A scope of one facility (a commune
        station) also names that facility: the ``(facility_id, name_key, id)`` index then
        yields its rows in name order. Over a wide scope (a district, a province) SQLite
        walks the ``(name_key, id)`` index in order and tests the facility of each row,
        stopping after one page, rather than gather the whole scope through the facility
        index and sort it (300k rows: 750 ms → a few ms); SQLite's unary ``+``
        (``_off_index``) keeps it off the facility index. A typed name finds its
        candidates through the words' index in every scope (the FTS5 table; over a few
        facilities asked within them: ``_index_facilities``), never by testing each of a
        station's rows (100,000 rows: 200 ms → a few ms), so off the facility index there
        too. PostgreSQL's planner chooses well from its statistics, between the facility
        index and the words' (which it is always offered). ``named``: the filter's and the
        scope's values as named parameters (``_kept``)."""
        scope = policy.scope(account)
        column = Recipient.facility_id
        walks = self._walks_name_index(account)
        if walks or (walks is not None and self.term.kind == "name" and words):
            # (a name's whole-name part, ``words=False``, over a few facilities reads the
            # ``(facility_id, name_key, id)`` index over the typed text's range)
            column = _off_index(Recipient.facility_id)
        if named:
            return scope.bound_filter(stmt.where(*self._conditions(
                sa.bindparam, column, words=words, only_if=only_if)), column)
        return scope.filter(stmt.where(*self._conditions(
            self._values(account).__getitem__, column, words=words, only_if=only_if)), column)

    def _walks_name_index(self, account) -> bool | None:
        """SQLite's plan (``_scoped``): True over a wide scope, False over a few facilities;
        None on PostgreSQL. On SQLite the scope learns its facilities first."""
        if db.session.get_bind().dialect.name != "sqlite":
            return None
        search_choices(account)  # the scope learns its facilities in that round trip
        return policy.scope(account).is_wide

    def _index_facilities(self, account) -> list[int]:
        """SQLite: the facilities within which the words' index is asked (its
        ``facility_id`` column), so that a station's name search costs its own matches,
        not the province's: the facility chosen in the search box, else a narrow scope's
        facilities; none over a wide scope (the index asked over every facility, the
        scope's condition then tests each match's row)."""
        if self.facility_id and not self.due:
            return [self.facility_id]
        if account is None or self._walks_name_index(account) is not False:
            return []
        return policy.scope(account).known_facility_ids()

    def _conditions(self, value, facility=Recipient.facility_id, *, words: bool = True,
                    only_if=None) -> list:
        """The filter's WHERE clauses, each value given by ``value(name)``: the value itself
        (``conditions``), or a named parameter of a statement kept for reuse (``_kept``);
        ``facility``: the column the facility chosen in the search box is compared with
        (``_scoped``'s, off SQLite's facility index or not); ``words=False``: a name's
        words left to a whole-name range that implies them (``_name_page``); ``only_if``:
        see ``_word_conditions``."""
        clauses = [Recipient.merged_into_id.is_(None)]
        if words or self.term.kind != "name":
            clauses.extend(_term_conditions(self.term, value, only_if))
        if self.facility_id and self.due:  # a due list covers the branch of the tree
            clauses.append(policy.at_or_below(Recipient.facility_id, self.facility_id))
        elif self.facility_id:
            clauses.append(facility == value("facility_id"))
        if self.vaccine_id:
            given = sa.select(Dose.id).where(
                Dose.recipient_id == Recipient.id, Dose.vaccine_id == value("vaccine_id")
            )
            clauses.append(given.exists())
        if self.due:
            clauses.append(due.recipient_condition(self.due, date.fromisoformat(self.due_on)))
        return clauses

    def _values(self, account=None) -> dict[str, Any]:
        """The values of the filter's conditions and of the ranked order, by name: each
        typed word, the words as a query of their index (within ``account``'s facilities
        where they are few: ``_index_facilities``), the whole name's bounds, an identifier,
        the facility and the vaccine."""
        term, values = self.term, {}
        if term.kind == "name":
            dialect = db.session.get_bind().dialect.name
            facilities = []
            if dialect == "sqlite":  # one LIKE per word beside the FTS5 table's query
                values.update((f"word_{n}", word) for n, word in enumerate(term.words))
                facilities = self._index_facilities(account)
            values["words_query"] = _words_query(term.words, dialect, facilities)
            values["whole_low"], values["whole_high"] = prefix_range(term.value)
        elif term.kind in ("national_id", "insurance"):
            values["term"] = term.value
        elif term.kind == "phone_or_social":
            if term.phone:
                values["phone"] = term.phone
            if term.value:
                values["term"] = term.value
        if self.facility_id:
            values["facility_id"] = self.facility_id
        if self.vaccine_id:
            values["vaccine_id"] = self.vaccine_id
        return values

    def _ranked(self, stmt: sa.Select, value) -> sa.Select:
        if self.term.kind != "name":
            return stmt.order_by(Recipient.name_key, Recipient.id)
        whole = sa.case((sa.and_(Recipient.name_key >= value("whole_low"),
                                 Recipient.name_key < value("whole_high")), 0), else_=1)
        return stmt.order_by(whole, Recipient.name_key, Recipient.id)

    def _shape(self) -> tuple | None:
        """What the filter's statement looks like, whatever its values (None: a due list,
        never kept)."""
        if self.due:
            return None
        term = self.term
        return (term.kind, len(term.words), bool(term.phone), bool(term.value),
                bool(self.facility_id), bool(self.vaccine_id))

    def _kept(self, account, kind: str) -> tuple[sa.Select, dict[str, Any]]:
        """The register's statement ``kind`` for this filter in the account's scope, and
        the values to run it with: ``page`` (the page's columns in the ranked order,
        ``page_limit`` and ``page_offset`` named) or ``count`` (counted up to ``cap``). The
        statement is built once per process for each shape of filter and scope and SQLite
        plan, its values all named parameters: the search POST is the hottest request, and
        building a statement cost more than running it."""
        scope = policy.scope(account)
        walks = self._walks_name_index(account)
        shape = self._shape()
        values = {**self._values(account), **scope.parameters()}  # after the plan: scope.shape
        if shape is None:
            return self._statement(account, kind, named=False), values
        key = (kind, shape, scope.shape, walks)
        stmt = _KEPT.get(key)
        if stmt is None:
            if len(_KEPT) >= KEPT_STATEMENTS:
                _KEPT.clear()
            stmt = _KEPT[key] = self._statement(account, kind, named=True)
        return stmt, values

    def _statement(self, account, kind: str, *, named: bool) -> sa.Select:
        value = sa.bindparam if named else self._values(account).__getitem__
        if kind == "page" and self.term.kind == "name":
            return self._name_page(account, value, named)
        if kind == "page":
            # the page's ids first, then its columns for those rows alone: PostgreSQL
            # computes a row's dose count and facility name for every row it skips before
            # a later page (1,975 of each for page 80), and reads each skipped row whole
            ids = (self._ranked(self._scoped(sa.select(Recipient.id, Recipient.name_key),
                                             account, named=named), value)
                   .limit(_PAGE_LIMIT).offset(_PAGE_OFFSET).subquery("page_ids"))
            return (sa.select(*_page_columns())
                    .join_from(Recipient, ids, Recipient.id == ids.c.id)
                    .order_by(ids.c.name_key, ids.c.id))
        ids = self._scoped(sa.select(Recipient.id), account, named=named)
        return sa.select(sa.func.count()).select_from(
            ids.limit(sa.bindparam("cap")).subquery())


    def _name_page(self, account, value, named: bool) -> sa.Select:
        """A page of a typed name in the register's order (``_ranked``: the names that
        start with the whole text typed, then the other matches, each by name) as two
        parts, so that a common name costs a page, not its holders. "nguyen thi" over a
        province holds every fifth person: one statement gathering all 240,000 through the
        words' index to sort them took 0.5 s on PostgreSQL.

        * The whole-name part walks the ``(name_key, id)`` index over the typed text's
          range, in order, and stops after ``page_offset + page_limit`` rows. A name that
          starts with the folded text typed holds every typed word at the start of a word
          (the words are the text's runs of letters and digits, the same ``fold`` on both
          sides), so the words' conditions are left out of this part (``words=False``):
          the range is the rule there.
        * The other matches are looked for only when that part is shorter than that (its
          count in a condition evaluated once, before the scan), and then through the
          words' index and a sort: their order is kept off the name index
          (``name_key || ''``), whose walk would test row after row for a rare full name
          (594,767 rows, 6.4 s on PostgreSQL).

        The page's columns (a dose count and a facility name each) are read for the page's
        rows only."""
        upto = _PAGE_OFFSET + _PAGE_LIMIT
        whole = sa.and_(Recipient.name_key >= value("whole_low"),
                        Recipient.name_key < value("whole_high"))
        first = (self._scoped(sa.select(sa.literal_column("0").label("part"), Recipient.id,
                                        Recipient.name_key), account, named=named, words=False)
                 .where(whole).order_by(Recipient.name_key, Recipient.id).limit(upto)
                 .cte("whole_first").prefix_with("MATERIALIZED"))
        short = sa.select(sa.func.count()).select_from(first).scalar_subquery() < upto
        rest = (self._scoped(sa.select(sa.literal_column("1").label("part"), Recipient.id,
                                       Recipient.name_key), account, named=named,
                             only_if=short)
                .where(sa.not_(whole), short)
                .order_by(Recipient.name_key.op("||")(sa.literal_column("''")), Recipient.id)
                .limit(upto))
        # each part a sub-select of its own: SQLite takes no ORDER BY inside a UNION
        ranked = sa.union_all(sa.select(first), sa.select(rest.subquery("other_matches"))
                              ).subquery("ranked")
        return (sa.select(*_page_columns())
                .join_from(Recipient, ranked, Recipient.id == ranked.c.id)
                .order_by(ranked.c.part, ranked.c.name_key, ranked.c.id)
                .limit(_PAGE_LIMIT).offset(_PAGE_OFFSET))


#: a page's size and start (typed: ``_name_page`` adds them up)
_PAGE_LIMIT = sa.bindparam("page_limit", type_=sa.Integer)
_PAGE_OFFSET = sa.bindparam("page_offset", type_=sa.Integer)


def _off_index(column: sa.ColumnElement) -> sa.ColumnElement:
    """``(+ column)``: the same value, but SQLite's planner no longer looks up ``column``'s
    indexes for a term on it (SQLite's documented unary ``+``); the statement still names
    the column, as the routing to a province's partition needs."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


#: the register's statements kept per shape (``RegisterFilter._kept``), at most this many
#: (a few dozen in practice: term kinds x words typed x filters x scope shapes)
KEPT_STATEMENTS = 512
_KEPT: dict[tuple, sa.Select] = {}


def search_choices(account) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The search box's choices: (facilities in the account's read scope, active vaccines),
    each by name, in one round trip, once per request; the scope keeps its facilities
    (``Scope.remember_choices``), so the register's plan asks nothing more about it."""
    key = f"_recipients_search_choices_{account.id}"
    if has_app_context() and key in g:
        return g.get(key)
    scope = policy.scope(account)
    rows = db.session.connection().execute(_choices_statement(scope), scope.parameters())
    found: tuple[list, list] = ([], [])
    for row_id, name, kind in rows:
        found[kind].append((row_id, name))
    scope.remember_choices(found[0])
    if has_app_context():
        setattr(g, key, found)
    return found


def _choices_statement(scope: policy.Scope) -> sa.Select:
    """The search box's choices as one statement, built once per shape of scope (the
    scope's values named: ``Scope.bound_filter``)."""
    key = ("choices", scope.shape)
    stmt = _KEPT.get(key)
    if stmt is None:
        facilities = scope.bound_filter(sa.select(Facility.id, Facility.name), Facility.id)
        vaccines = sa.select(Vaccine.id, Vaccine.name, sa.literal_column("1")).where(
            Vaccine.active.is_(True))
        stmt = _KEPT[key] = sa.union_all(
            facilities.add_columns(sa.literal_column("0").label("kind")), vaccines
        ).order_by("kind", "name")
    return stmt


def _term_conditions(term: Term, value, only_if=None) -> list:
    if term.kind == "name":
        return _word_conditions(len(term.words), value, only_if)
    if term.kind == "national_id":
        return [Recipient.national_id == value("term")]
    if term.kind == "insurance":
        return [Recipient.insurance_number == value("term")]
    if term.kind == "phone_or_social":
        either = []
        if term.phone:
            either.append(Recipient.phone == value("phone"))
        if term.value:
            either.append(Recipient.insurance_number == value("term"))
        return [sa.or_(*either)]
    if term.kind == "partial":  # an incomplete number finds nobody (exact matches only)
        return [sa.false()]
    return []


def _word_conditions(words: int, value, only_if=None) -> list:
    """Every typed word (``word_<n>``) starts a word of the name. On PostgreSQL one condition
    on the GIN index of every prefix of every word (``models.name_words_vector``: exact
    lexemes, ``words_query``: ``_words_query``), which is the rule itself; the planner
    chooses it or a station's facility index. On SQLite the FTS5 table finds the names
    holding every word (within a few facilities where the scope is narrow), by intersecting
    the words' lists, so that the cost follows the matches, not the holders of the rarest
    word nor a station's rows; beside it one condition per word on ``name_words``, the rule
    itself (the FTS5 tokenizer is not the app's). The typed words are letters and digits
    only (``text.folded_words``): no LIKE wildcard, quote or operator can come in.
    ``only_if``: a condition on no row, under which alone the words' index is read (SQLite
    builds the list of an ``IN`` sub-select before it tests such a condition outside it)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # the index holds every prefix of every word as a lexeme, so its condition IS the
        # rule (a LIKE per word beside it would only mislead the planner's estimate: the
        # words' selectivities multiplied as if independent, a few rows for 200,000)
        query = sa.cast(sa.type_coerce(value("words_query"), sa.Text), postgresql.TSQUERY)
        return [name_words_vector(Recipient.name_words).bool_op("@@")(query)]
    spaced = sa.literal_column("' '", sa.Text) + Recipient.name_words
    indexed = (sa.select(sa.literal_column("rowid")).select_from(_NAME_FTS)
               .where(sa.literal_column("recipient_name_fts").op("MATCH")(value("words_query"))))
    if only_if is not None:
        indexed = indexed.where(only_if)
    return [Recipient.id.in_(indexed),
            *(spaced.like(sa.literal_column("'% '", sa.Text) + value(f"word_{n}") +
                          sa.literal_column("'%'", sa.Text))
              for n in range(words))]


#: the FTS5 table of the names' words on SQLite (``models.NAME_INDEX_DDL``)
_NAME_FTS = sa.table("recipient_name_fts")


def _words_query(words: tuple[str, ...], dialect: str, facilities=()) -> str:
    """The typed words as one query of the words' index, each the prefix of a word, all of
    them required: ``'bui' & 'bich'`` (a ``tsquery`` of exact lexemes, PostgreSQL, whose
    index holds every prefix of every word: ``models.name_words_vector``) or
    ``name_words : ("bui"* AND "bich"*)`` (FTS5), there within ``facilities`` if any
    (``facility_id : ("12" OR "15") AND …``: the FTS5 table's other column). Each word
    quoted, though letters and digits need no escape."""
    if dialect == "postgresql":
        return " & ".join(f"'{word}'" for word in words)
    query = "name_words : (" + " AND ".join(f'"{word}"*' for word in words) + ")"
    if facilities:
        within = " OR ".join(f'"{int(facility)}"' for facility in facilities)
        query = f"facility_id : ({within}) AND {query}"
    return query


def _due_fields(data: dict[str, Any]) -> dict[str, str]:
    """``due`` and ``due_on`` of a stored filter, both or neither."""
    due, due_on = str(data.get("due") or ""), str(data.get("due_on") or "")
    try:
        date.fromisoformat(due_on)
    except ValueError:
        return {}
    return {"due": due, "due_on": due_on} if due in ("due", "overdue") else {}


def _vn(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# -- the stored searches -----------------------------------------------------------------


def get_search(search_id: str | None, account) -> RecipientSearch | None:
    if not search_id or account is None or len(search_id) > 32:
        return None
    row = db.session.get(RecipientSearch, search_id)
    if row is None or row.account_id != account.id or utcnow() - row.created_at > SEARCH_TTL:
        return None
    return row


def save_search(register_filter: RegisterFilter, account, session_id: int | None) -> str:
    """Store the filter and return its id (``store_search``)."""
    return store_search(register_filter, account, session_id)[0]


def store_search(register_filter: RegisterFilter, account,
                 session_id: int | None) -> tuple[str, bool]:
    """Store the filter: its id, and whether anything was written (then the caller
    commits). The same filter searched again in the same browser session has the same id
    (``_search_id``), so a search already stored (the same page typed again, a filter
    changed back) is read, not written again: no INSERT and no commit on every request."""
    data = register_filter.to_dict()
    search_id = _search_id(data, account, session_id)
    if search_id is None:  # no browser session (a console or a job): a random id
        row = RecipientSearch(id=secrets.token_urlsafe(16), account_id=account.id,
                              session_id=session_id, query=data)
        db.session.add(row)
        return row.id, True
    if _stored_query(search_id, account) == data:
        return search_id, False
    _sweep_expired(account)
    _store(search_id, account, session_id, data)
    return search_id, True


def _stored_query(search_id: str, account) -> dict | None:
    """The filter stored under ``search_id`` for ``account`` if it has not expired (what
    ``get_search`` answers), read as one row of columns: no object to load and track."""
    row = db.session.connection().execute(_STORED, {"search_id": search_id}).first()
    if row is None or row.account_id != account.id or utcnow() - row.created_at > SEARCH_TTL:
        return None
    return row.query


_STORED = sa.select(RecipientSearch.account_id, RecipientSearch.created_at,
                    RecipientSearch.query).where(RecipientSearch.id == sa.bindparam("search_id"))


def _search_id(data: dict, account, session_id: int | None) -> str | None:
    """An id that stands for this filter of this account in this browser session: the
    HMAC (under SECRET_KEY) of them and of a random salt kept in the session cookie. It
    says nothing of the terms (a URL carries it), and without the salt cannot be computed
    from a guess of them."""
    if not has_request_context():
        return None
    salt = session.get("search_salt")
    if salt is None:
        salt = session["search_salt"] = secrets.token_urlsafe(12)
    message = json.dumps([salt, account.id, session_id, data], sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False).encode()
    key = b"recipient-search:" + str(current_app.secret_key).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _store(search_id: str, account, session_id: int | None, data: dict) -> None:
    """Insert the search, or renew it if its row expired: one statement, which another
    request storing the same search at the same moment cannot make fail. Run on the
    session's connection (a plain statement: no object of the session is concerned)."""
    conn = db.session.connection()
    conn.execute(_upsert(conn.dialect.name), {
        "id": search_id, "account_id": account.id, "session_id": session_id,
        "query": data, "created_at": utcnow()})


@functools.cache
def _upsert(dialect: str) -> sa.Insert:
    """``_store``'s statement, built once per dialect (every new search typed runs it)."""
    table = RecipientSearch.__table__
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return insert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"query": insert.excluded.query, "created_at": insert.excluded.created_at},
        where=table.c.account_id == insert.excluded.account_id,
    )


#: expired searches of an account are removed at most this often per browser session (a
#: search typed letter by letter is not one DELETE per letter); ``get_search`` never
#: answers an expired one meanwhile
SWEEP_EVERY = timedelta(hours=1)


def expire_searches(now, account_id: int | None = None) -> int:
    """Remove the searches older than ``SEARCH_TTL`` (search terms are personal data) of
    every account (the scheduled cleanup: an account that searches no more keeps none) or
    of one (``_sweep_expired``: a range of ``ix_recipient_search_account_id_created_at``);
    returns how many. A plain statement on the session's connection: no object of the
    session is concerned."""
    table = RecipientSearch.__table__
    stmt = sa.delete(table).where(table.c.created_at < now - SEARCH_TTL)
    if account_id is not None:
        stmt = stmt.where(table.c.account_id == account_id)
    return db.session.connection().execute(stmt).rowcount


def _sweep_expired(account) -> None:
    """The account's expired searches removed on its first search of a browser session,
    then once per ``SWEEP_EVERY``."""
    now = utcnow()
    if has_request_context():
        swept = session.get("searches_swept", 0)
        if now.timestamp() - swept < SWEEP_EVERY.total_seconds():
            return
        session["searches_swept"] = int(now.timestamp())
    expire_searches(now, account.id)


# -- the register page's rows ------------------------------------------------------------

ROW_COLUMNS = (
    Recipient.id, Recipient.full_name, Recipient.date_of_birth, Recipient.gender,
    Recipient.national_id, Recipient.insurance_number, Recipient.phone, Recipient.facility_id,
)

#: the register page counts at most this many rows ("more than ...")
COUNT_CAP = 2_000


@dataclass
class Page:
    """One page of register rows (plain dicts from a Core select: the register is hot; it
    runs on the session's connection, since it loads no object)."""

    rows: list[dict]
    page: int
    per_page: int
    total: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def register_page(register_filter: RegisterFilter, account, page: int, per_page: int) -> Page:
    """One page of the register. A first page shorter than a page is the whole match, so
    it needs no count (the usual answer to a name or an ID typed in the search box). A
    page beyond the last one a capped count can show is that page: its offset is never
    read past, and never overflows the statement's integer parameters."""
    page = min(max(1, page), -(-COUNT_CAP // per_page))
    rows = _page_rows(register_filter, account, page, per_page)
    if page == 1 and len(rows) < per_page and len(rows) <= COUNT_CAP:
        return Page(rows=rows, page=1, per_page=per_page, total=len(rows))
    total = register_filter.count(account, cap=COUNT_CAP)
    capped = total > COUNT_CAP
    total = min(total, COUNT_CAP)
    last = max(1, -(-total // per_page))
    if page > last:
        page = last
        rows = _page_rows(register_filter, account, page, per_page)
    return Page(rows=rows, page=page, per_page=per_page, total=total, capped=capped)


def _page_rows(register_filter: RegisterFilter, account, page: int,
               per_page: int) -> list[dict]:
    """The rows of one page with their facility's name and dose count, in one query (the
    two sub-selects run for the page's rows only, never for the whole match): the
    statement kept for the filter's shape (``RegisterFilter._kept``)."""
    stmt, values = register_filter._kept(account, "page")
    rows = db.session.connection().execute(
        stmt, {**values, "page_limit": per_page, "page_offset": (page - 1) * per_page})
    return [dict(row._mapping) for row in rows]


@functools.cache
def _page_columns() -> tuple:
    """``ROW_COLUMNS`` with the facility's name and the dose count: the same for every
    page, so built once per process."""
    dose_count = (sa.select(sa.func.count(Dose.id)).where(Dose.recipient_id == Recipient.id)
                  .correlate(Recipient).scalar_subquery())
    facility_name = (sa.select(Facility.name).where(Facility.id == Recipient.facility_id)
                     .correlate(Recipient).scalar_subquery())
    return (*ROW_COLUMNS, dose_count.label("dose_count"),
            facility_name.label("facility_name"))
