"""Vaccination recipients, the vaccine catalogue and injection history."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from vaxportal import audit, dbsetup
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.text import fold, folded_words
from vaxportal.timeutil import UTCDateTime, utcnow


class Aefi(enum.StrEnum):
    none = "none"
    mild = "mild"
    severe = "severe"


@audit.audited(facility=lambda _vaccine: None, shared=True)
class Vaccine(db.Model):
    __tablename__ = "vaccine"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    manufacturer: Mapped[str] = mapped_column(sa.String(120))
    doses_in_series: Mapped[int] = mapped_column(default=2)
    min_interval_days: Mapped[int] = mapped_column(default=28)
    active: Mapped[bool] = mapped_column(default=True)


@audit.audited(facility=lambda _group: None, shared=True)
class PriorityGroup(db.Model):
    """A priority group added by an administrator, or a built-in group of the resolution
    (``codes.PRIORITY_GROUPS``) relabelled or withdrawn (``vaxportal priority-groups``)."""

    __tablename__ = "priority_group"

    code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)


#: the columns of ``ix_recipient_name_key_id``: the register's order, then what a walk in
#: that order tests of each row
NAME_ORDER_INDEX = ("name_key", "id", "facility_id", "merged_into_id")


@audit.audited(ignore=("name_words",))  # derived from the audited name, as name_key
class Recipient(db.Model):
    __tablename__ = "recipient"
    __table_args__ = (
        # the register's order (name_key, id): walked in order for a wide scope and by the
        # export's keyset, and within one facility for a commune station's register. The
        # walk's own conditions (the facility in scope, not merged) are read from the index
        # itself: a district's page 80 in a province of 500,000 read the table row of every
        # person of the other districts it passed (22 ms on SQLite; 1.8 ms from the index)
        sa.Index("ix_recipient_name_key_id", *NAME_ORDER_INDEX),
        sa.Index("ix_recipient_facility_name_key_id", "facility_id", "name_key", "id"),
        # possible duplicates (register form and import) are looked up by these exact keys
        sa.Index("ix_recipient_person", "name_key", "date_of_birth", "gender"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    # Folded (no diacritics) name; byte order on PostgreSQL so a prefix range uses the index.
    name_key: Mapped[str] = mapped_column(
        sa.String(120).with_variant(sa.String(120, collation="C"), "postgresql")
    )
    # The folded words of the name, each once, in order, joined by one space ("bui bich an"):
    # search by any part of a name, through ``ix_recipient_name_words`` (PostgreSQL) or the
    # ``recipient_name_fts`` table (SQLite, ``NAME_INDEX_DDL``).
    name_words: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    date_of_birth: Mapped[date] = mapped_column(sa.Date)
    gender: Mapped[str] = mapped_column(sa.String(8))
    national_id: Mapped[str | None] = mapped_column(sa.String(12), unique=True)
    insurance_number: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    occupation: Mapped[str | None] = mapped_column(sa.String(120))
    ethnicity: Mapped[str | None] = mapped_column(sa.String(60))
    nationality: Mapped[str | None] = mapped_column(sa.String(60), default="VN")
    priority_group: Mapped[str | None] = mapped_column(sa.String(60))
    province: Mapped[str | None] = mapped_column(sa.String(120))
    district: Mapped[str | None] = mapped_column(sa.String(120))
    ward: Mapped[str | None] = mapped_column(sa.String(120))
    street: Mapped[str | None] = mapped_column(sa.String(200))
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(default=1)
    # Set when a supervisor merged this record into another (its doses moved there).
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recipient.id"))
    # Free text of an older record that matched no code ({field: text}); listed for review
    # (``vaxportal codes unmatched``) until the field is given a code.
    uncoded: Mapped[dict | None] = mapped_column(sa.JSON)

    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")
    doses: Mapped[list[Dose]] = relationship(
        back_populates="recipient", order_by="Dose.given_on", lazy="raise_on_sql")

    __mapper_args__ = {"version_id_col": version_id}

    @validates("full_name")
    def _keep_name_key(self, _key: str, value: str) -> str:
        """The search keys follow the name, however the name is set (register, edit, import):
        the folded name and its words, written in the same row as the name. The name comes
        in its one normal form (NFC, no invisible format characters), made by its
        normaliser (``fields.RECIPIENT``, ``validators.normalize_person_name``)."""
        self.name_key, self.name_words = search_keys(value)
        return value

    @validates("ethnicity", "nationality", "priority_group", "province", "ward")
    def _coded(self, key: str, value: str | None) -> str | None:
        """A field given a code leaves the review list of unmatched older text."""
        if value and self.uncoded and key in self.uncoded:
            self.uncoded = {k: v for k, v in self.uncoded.items() if k != key} or None
        return value


def search_keys(full_name: str | None) -> tuple[str, str]:
    """The search keys of a name: its folded form (``name_key``) and its folded words
    (``name_words``), however the record is written (``_keep_name_key``, or a batch of new
    records inserted at once, ``services.register_batch``)."""
    folded = fold(full_name or "")
    return folded, joined_words(folded)


def joined_words(folded: str) -> str:
    """``name_words`` of a name already folded (``fold``): its words (``folded_words``:
    letters and digits only, cut to 40 characters, each once, in order) joined by one
    space."""
    return " ".join(folded_words(folded))


#: PostgreSQL: every prefix of every stored word as a lexeme of its own ("bui bich" ->
#: b, bu, bui, bi, bic, bich), exactly those strings (no text search parser nor dictionary,
#: which would split or change some words: "12e3x" in two, "²" dropped, "ΣΑΣ" lower-cased
#: otherwise than Python does). A search whose every word is a prefix then asks for exact
#: lexemes, whose lists GIN intersects by skipping through them from the rarest; prefix terms
#: (``'bui':*``) would first gather each term's whole lists (tens of milliseconds a term
#: among two million people, growing with the province).
WORD_PREFIXES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION name_word_prefixes(words text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $body$ "
    "SELECT array_to_tsvector(coalesce(array_agg(left(w, n)), '{}'::text[])) "
    "FROM unnest(string_to_array(words, ' ')) AS w, generate_series(1, char_length(w)) AS n "
    "$body$")

sa.event.listen(Recipient.__table__, "before_create",
                sa.DDL(WORD_PREFIXES_FUNCTION).execute_if(dialect="postgresql"))


def name_words_vector(column) -> sa.ColumnElement:
    """The stored words' prefixes as a ``tsvector`` (``name_word_prefixes``, PostgreSQL):
    the expression of ``ix_recipient_name_words``; a search names the same expression."""
    return sa.func.name_word_prefixes(column)


#: every typed word the start of a word of the name, found among millions by an index that
#: intersects the words' lists (``search._word_conditions``): a GIN index on PostgreSQL.
#: Its pending list kept short (64 kB, the least): new rows wait there until the list is
#: full or a vacuum merges them, and every search reads the whole list; at PostgreSQL's
#: 4 MB that was 5 ms of every name search at 50,000 people (the search itself 0.2 ms).
#: Without a list (``fastupdate = off``) each new row would go into the index at once: an
#: import 10-20 % slower for no faster search.
NAME_WORDS_GIN_OPTIONS = {"gin_pending_list_limit": 64}
sa.Index("ix_recipient_name_words", name_words_vector(Recipient.__table__.c.name_words),
         postgresql_using="gin",
         postgresql_with=NAME_WORDS_GIN_OPTIONS).ddl_if(dialect="postgresql")

#: and on SQLite an FTS5 table over ``recipient.name_words`` and ``recipient.facility_id``
#: (external content: it stores only its index; the facility so that a station's search
#: intersects its own rows' list with the words'), kept by triggers in the same statement as
#: the row, built again from the rows on every install (``dbsetup.install_database_objects``:
#: the test schema, the migrations ``namewords01`` and ``namefts02``)
NAME_INDEX_DDL = {"sqlite": [
    "DROP TRIGGER IF EXISTS recipient_name_fts_insert",
    "DROP TRIGGER IF EXISTS recipient_name_fts_delete",
    "DROP TRIGGER IF EXISTS recipient_name_fts_update",
    "DROP TABLE IF EXISTS recipient_name_fts",
    "CREATE VIRTUAL TABLE recipient_name_fts USING fts5(name_words, facility_id, "
    "content='recipient', content_rowid='id', prefix='2 3', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER recipient_name_fts_insert AFTER INSERT ON recipient BEGIN "
    "INSERT INTO recipient_name_fts (rowid, name_words, facility_id) "
    "VALUES (new.id, new.name_words, new.facility_id); END",
    "CREATE TRIGGER recipient_name_fts_delete AFTER DELETE ON recipient BEGIN "
    "INSERT INTO recipient_name_fts (recipient_name_fts, rowid, name_words, facility_id) "
    "VALUES ('delete', old.id, old.name_words, old.facility_id); END",
    "CREATE TRIGGER recipient_name_fts_update AFTER UPDATE OF name_words, facility_id "
    "ON recipient BEGIN "
    "INSERT INTO recipient_name_fts (recipient_name_fts, rowid, name_words, facility_id) "
    "VALUES ('delete', old.id, old.name_words, old.facility_id); "
    "INSERT INTO recipient_name_fts (rowid, name_words, facility_id) "
    "VALUES (new.id, new.name_words, new.facility_id); END",
    "INSERT INTO recipient_name_fts (recipient_name_fts) VALUES ('rebuild')",
]}

for _dialect, _statements in NAME_INDEX_DDL.items():
    _known = dbsetup.EXTRA_DDL.setdefault(_dialect, [])
    _known.extend(s for s in _statements if s not in _known)
# the FTS5 table and the tables SQLite keeps its index in
dbsetup.EXTRA_TABLES.update(f"recipient_name_fts{part}" for part in
                            ("", "_data", "_idx", "_docsize", "_config"))


def person_columns(entity=None) -> tuple:
    """The columns by which two live records may be the same person: folded name, date of
    birth and gender (``ix_recipient_person``). Registration, the import's checks, the
    periodic scan and the data-quality list all compare these, and only these."""
    entity = Recipient if entity is None else entity
    return (entity.name_key, entity.date_of_birth, entity.gender)


def person_values(full_name: str | None, date_of_birth, gender: str | None) -> tuple:
    """The values of ``person_columns`` for a name, birth date and gender as typed."""
    return (fold(full_name or ""), date_of_birth, gender)


def same_person(one, two) -> sa.ColumnElement[bool]:
    """Two (aliased) records with the same ``person_columns``."""
    return sa.and_(*(a == b for a, b in zip(person_columns(one), person_columns(two),
                                            strict=True)))


@audit.audited
class Dose(db.Model):
    __tablename__ = "dose"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"), index=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    vaccine_id: Mapped[int] = mapped_column(sa.ForeignKey("vaccine.id"))
    lot_number: Mapped[str] = mapped_column(sa.String(40))
    dose_number: Mapped[int]
    given_on: Mapped[date] = mapped_column(sa.Date)
    vaccinator: Mapped[str] = mapped_column(sa.String(120))
    aefi: Mapped[str] = mapped_column(sa.String(8), default=Aefi.none)
    aefi_note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version_id: Mapped[int] = mapped_column(default=1)
    # One random token per rendered entry form: a second submit of the same form is ignored.
    entry_token: Mapped[str | None] = mapped_column(sa.String(32), unique=True)

    recipient: Mapped[Recipient] = relationship(back_populates="doses", lazy="raise_on_sql")
    vaccine: Mapped[Vaccine] = relationship(lazy="raise_on_sql")
    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")

    __mapper_args__ = {"version_id_col": version_id}


@audit.audited
class DoseLot(db.Model):
    """A lot of a vaccine as used at a facility (issue 14): built from the doses entered
    there, its expiry date typed by the nurse; no dose is recorded after that date."""

    __tablename__ = "dose_lot"
    __table_args__ = (sa.UniqueConstraint("facility_id", "lot_number", "vaccine_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    lot_number: Mapped[str] = mapped_column(sa.String(40))
    vaccine_id: Mapped[int] = mapped_column(sa.ForeignKey("vaccine.id"))
    expires_on: Mapped[date | None] = mapped_column(sa.Date)
    first_used_on: Mapped[date | None] = mapped_column(sa.Date)
    last_used_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    vaccine: Mapped[Vaccine] = relationship(lazy="raise_on_sql")
    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")


@audit.audited
class DuplicateCandidate(db.Model):
    """A pair registered anyway despite the same folded name, birth date and gender, or
    found by the periodic scan (``recipients/scan.py``); waits in a supervisor's queue until
    merged (``recipients/merging.py``; an undo opens it again) or marked distinct."""

    __tablename__ = "duplicate_candidate"
    #: a pair is queued once (the newer record first, as every path queues it): two scans at
    #: once had queued a province's every pair twice (``scan.remove_doubled_pairs``)
    __table_args__ = (sa.Index("uq_duplicate_candidate_pair", "recipient_id", "other_id",
                               unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"), index=True)
    other_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"), index=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open|merged|distinct
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))

    recipient: Mapped[Recipient] = relationship(foreign_keys=[recipient_id], lazy="raise_on_sql")
    other: Mapped[Recipient] = relationship(foreign_keys=[other_id], lazy="raise_on_sql")


@audit.audited
class RecipientMerge(db.Model):
    """One merge of a duplicate pair, kept so that it can be undone: which record stayed,
    which one was merged into it, the value chosen for each field (the record it came from),
    every field of both records as they were before, the doses moved, and the versions the
    two records had right after the merge (a later edit of either refuses the undo)."""

    __tablename__ = "recipient_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("duplicate_candidate.id"),
                                              index=True)
    kept_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"), index=True)
    gone_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"), index=True)
    #: the kept record's facility (the audit trail's and the scope's)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    #: {field key: id of the record whose value was kept}
    choices: Mapped[dict] = mapped_column(sa.JSON)
    #: {field key: stored value (dates as ISO text)} of each record before the merge
    kept_before: Mapped[dict] = mapped_column(sa.JSON)
    gone_before: Mapped[dict] = mapped_column(sa.JSON)
    moved_dose_ids: Mapped[list] = mapped_column(sa.JSON)
    kept_version: Mapped[int]
    gone_version: Mapped[int]
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    merged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))

    kept: Mapped[Recipient] = relationship(foreign_keys=[kept_id], lazy="raise_on_sql")
    gone: Mapped[Recipient] = relationship(foreign_keys=[gone_id], lazy="raise_on_sql")


class RecipientSearch(db.Model):
    """A register search kept on the server: search terms are personal data, so URLs carry
    only this random id (and a page number), never the terms."""

    __tablename__ = "recipient_search"
    __table_args__ = (
        # an account's expired searches, swept at its first search of a browser session: a
        # range of this index, not every search the account has stored
        sa.Index("ix_recipient_search_account_id_created_at", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    session_id: Mapped[int | None] = mapped_column(sa.Integer)
    query: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrossLookup(db.Model):
    """A cross-facility look-up by exact ID with its reason; its random id lets the same
    account record a dose at its own facility for the person found, for a short while."""

    __tablename__ = "cross_lookup"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("recipient.id"))
    reason: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recipient: Mapped[Recipient] = relationship(lazy="raise_on_sql")
