"""One row of an imported spreadsheet judged by the register's rules.

The same checker serves the dry run and the writing, so what the report promised is what
gets written. Duplicates: the same national ID (in the file or the database) is never
imported again; a row without a national ID that matches a person by folded name, date of
birth and gender is skipped too; a row with a new national ID that matches such a person is
imported and the pair goes to the supervisors' possible-duplicates queue, as the register
form does when its "register anyway" is used.

Given the facilities the importing account may read, the checker also keeps the national IDs
it found registered outside them (``outside_scope``), for the audit: an import's dry run is a
look-up too (P1), and what the audit keeps of each ID is ``keyed_id_hash``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql

from vaxportal.audit import checkpoint
from vaxportal.extensions import db
from vaxportal.recipients import fields
from vaxportal.recipients.models import Recipient, person_columns, person_values
from vaxportal.recipients.services import RowValidator

OK, WARNING, ERROR, DUPLICATE = "ok", "warning", "error", "duplicate"


@dataclass
class RowCheck:
    row: int
    data: dict
    status: str = OK
    messages: list[str] = field(default_factory=list)
    clean: dict = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        return self.status in (OK, WARNING)

    @cached_property
    def person(self) -> PersonKey:
        """The row's ``person_key`` (its name folded once)."""
        return person_key(self.clean)


PersonKey = tuple[str, date, str]


def person_key(clean: dict) -> PersonKey:
    return person_values(clean["full_name"], clean["date_of_birth"], clean["gender"])


#: the template's example row (``importing.EXAMPLE``), skipped if left in a list
EXAMPLE_KEY = ("nguyen van an", "089080123456")


class Checker:
    """Checks rows chunk by chunk, remembering what earlier rows of the file held."""

    def __init__(self, scope: set[int] | None = None) -> None:
        self.seen_ids: dict[str, int] = {}
        self.seen_people: dict[PersonKey, int] = {}
        self.scope = scope
        #: national IDs of the file registered at facilities outside ``scope``, in file order
        self.outside_scope: dict[str, None] = {}
        self._validator = RowValidator()

    def check(self, chunk: list[tuple[int, dict[str, Any]]]) -> list[RowCheck]:
        """The rows of a chunk checked by the form's rules, then judged for duplicates."""
        return self.judge([self.validate(row, data) for row, data in chunk])

    def validate(self, row: int, data: dict) -> RowCheck:
        """One row by the register form's rules (its values normalised, once)."""
        clean, errors = self._validator(data)
        check = RowCheck(row, data, clean=clean)
        if errors:
            check.status = ERROR
            check.messages = [f"{fields.spec(key).column_header}: {message}"
                              for key, message in errors.items()]
        return check

    def judge(self, checks: list[RowCheck]) -> list[RowCheck]:
        """Duplicates of the valid rows among themselves, earlier rows of the file and the
        register (one query per kind of key for the whole chunk)."""
        valid = [c for c in checks if c.status == OK]
        known_ids = _registered_ids({c.clean["national_id"] for c in valid
                                     if c.clean.get("national_id")})
        known_people = _registered_people({c.person for c in valid})
        for check in valid:
            self._judge(check, known_ids, known_people)
        return checks

    def _judge(self, check: RowCheck, known_ids: dict, known_people: set) -> None:
        nid = check.clean.get("national_id")
        person = check.person
        if (person[0], nid) == EXAMPLE_KEY:
            _skip(check, _("Dòng ví dụ của tệp mẫu: bỏ qua."))
        elif nid and nid in self.seen_ids:
            _skip(check, _("Trùng số CCCD/CMND với dòng %(row)s của tệp.",
                           row=self.seen_ids[nid]))
        elif nid and nid in known_ids:
            _skip(check, _("Số CCCD/CMND đã có trong hệ thống: dòng này sẽ không được nhập."))
            if self.scope is not None and known_ids[nid] not in self.scope:
                self.outside_scope[nid] = None
        elif not nid and person in self.seen_people:
            _skip(check, _("Trùng họ tên, ngày sinh và giới tính với dòng %(row)s của tệp.",
                           row=self.seen_people[person]))
        elif not nid and person in known_people:
            _skip(check, _("Đã có đối tượng cùng họ tên, ngày sinh và giới tính: dòng này sẽ "
                           "không được nhập. Nếu là người khác, hãy đăng ký trên biểu mẫu."))
        elif person in known_people or person in self.seen_people:
            check.status = WARNING
            check.messages.append(_("Có thể trùng với đối tượng cùng họ tên, ngày sinh và giới "
                                    "tính: sẽ được nhập và đưa vào danh sách nghi trùng."))
        if check.writable:
            if nid:
                self.seen_ids[nid] = check.row
            self.seen_people.setdefault(person, check.row)


def _skip(check: RowCheck, message: str) -> None:
    check.status = DUPLICATE
    check.messages.append(message)


def _registered_ids(ids: set[str]) -> dict[str, int]:
    """Which of ``ids`` are registered: national ID → facility of the record. On PostgreSQL
    each ID is looked up by itself (``_one_each``)."""
    if not ids:
        return {}
    if db.session.connection().dialect.name == "postgresql":
        wanted = sa.func.unnest(sa.bindparam("ids", sorted(ids), type_=postgresql.ARRAY(
            sa.String))).table_valued("national_id").render_derived()
        found = _one_each(wanted, sa.select(Recipient.national_id, Recipient.facility_id)
                          .where(Recipient.national_id == wanted.c.national_id))
    else:
        found = sa.select(Recipient.national_id, Recipient.facility_id).where(
            Recipient.national_id.in_(ids))
    return {row.national_id: row.facility_id for row in db.session.execute(found)}


def _one_each(wanted, match: sa.Select) -> sa.Select:
    """Each wanted key's first match, looked up by itself: a ``LATERAL`` subquery with
    ``LIMIT 1`` is run once per key, so PostgreSQL searches the index each time, whatever it
    believes about the table's size (right after a large import its statistics still say a
    few rows, and a hash join over the whole table, once per batch, would make an import's
    cost grow with the register)."""
    one = match.limit(1).lateral("found")
    return sa.select(*one.c).select_from(wanted).join(one, sa.true())


def keyed_id_hash(national_id: str) -> str:
    """HMAC-SHA256 of a national ID under a key derived from ``AUDIT_KEY``, as the audit keeps
    it. A bare hash of a 9- or 12-digit number is undone by hashing every number; without the
    key it is not, while whoever holds the key can still tell whether a given ID was among
    them. The audit's key, not SECRET_KEY, so that rotating the cookie key keeps them usable."""
    key = checkpoint.derived_key(b"national-id")
    return hmac.new(key, b"national_id:" + national_id.encode(), hashlib.sha256).hexdigest()


def _registered_people(keys: set[PersonKey]) -> set[PersonKey]:
    """Which (folded name, date of birth, gender) are held by live records: the criteria of
    ``recipients.services.find_possible_duplicates``, asked once per chunk by the exact keys
    (the ``ix_recipient_person`` index), so only the matches are read: the keys are a table
    joined to the records, one index search per key, sent as one parameter. On PostgreSQL
    three arrays (``unnest``), each key looked up by itself (``_one_each``; a list of 500
    row values is planned as 500 alternatives, several times slower); on SQLite a JSON
    list (``json_each``; a row-value ``IN`` there scans the whole table once per batch, so
    an import's cost would grow with the register, and a ``VALUES`` list of 1,500
    parameters is compiled again each time)."""
    if not keys:
        return set()
    columns = person_columns()
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        names, born, genders = (list(values) for values in zip(*sorted(keys), strict=True))
        wanted = sa.func.unnest(
            sa.bindparam("names", names, type_=postgresql.ARRAY(sa.String)),
            sa.bindparam("born", born, type_=postgresql.ARRAY(sa.Date)),
            sa.bindparam("genders", genders, type_=postgresql.ARRAY(sa.String)),
        ).table_valued("name_key", "date_of_birth", "gender").render_derived()
        stmt = _one_each(wanted, sa.select(*columns).where(
            *(column == wanted.c[column.key] for column in columns),
            Recipient.merged_into_id.is_(None)))
    else:
        wanted = sa.func.json_each(sa.bindparam("keys", _json_keys(keys))).table_valued(
            "value").alias("wanted")
        stmt = sa.select(*columns).select_from(wanted).join(Recipient, sa.and_(
            *(column == sa.func.json_extract(wanted.c.value, f"$[{i}]")
              for i, column in enumerate(columns)))).where(
            Recipient.merged_into_id.is_(None))
    return {tuple(row) for row in db.session.execute(stmt)}


def _json_keys(keys: set[PersonKey]) -> str:
    """The keys as SQLite compares them: dates in their stored text (ISO)."""
    return json.dumps([[name, born.isoformat(), gender] for name, born, gender in sorted(keys)],
                      ensure_ascii=False)
