"""Which columns an export holds, and how a database row becomes a spreadsheet row.

The recipient's columns are its fields (``recipients/fields.py``), then the facility and
the doses. Identity columns follow the account's needs: accounts that write recipient data
get them in full; read-only accounts (reviewers) get national ID, insurance number and phone
masked by ``policy.mask_field`` (as on the register's screen and in the audit trail) and not
the fields kept for full identity (the street address), unless REVIEWER_SEES_FULL_IDS is
set (P1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from vaxportal import gender
from vaxportal.exports.xlsx import Column
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.policy import mask_field, sees_contact_phone, sees_full_identity
from vaxportal.recipients import fields
from vaxportal.recipients.codes import label
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.recipients.search import RegisterFilter

CHUNK_ROWS = 2_000

#: (key, header, kind, width) of the columns after the recipient's fields
_EXTRA = [
    ("facility", _l("Cơ sở quản lý"), "text", 30),
    ("dose_count", _l("Số mũi đã tiêm"), "int", 10),
    ("last_dose_on", _l("Ngày tiêm mũi gần nhất"), "date", 14),
]


def _definitions() -> dict[str, tuple[Any, str, int]]:
    """key → (header, kind, width): the recipient's fields, then the extra columns."""
    recipient = {field.key: (field.column_header, field.column_kind, field.width)
                 for field in fields.RECIPIENT}
    return {**recipient, **{key: (header, kind, width) for key, header, kind, width in _EXTRA}}


def plan_for(account, register_filter: RegisterFilter | None = None) -> tuple[list[str], bool]:
    """(column keys, masked) for an export by ``account``. A due list's phones are for the
    data-entry account of the facility only (``policy.sees_contact_phone``)."""
    full = sees_full_identity(account)
    if register_filter is not None and register_filter.due:
        full = full and sees_contact_phone(register_filter.facility_id, account)
    keys = [key for key in _definitions() if full or key not in fields.FULL_IDENTITY_KEYS]
    return keys, not full


def build_columns(keys: list[str]) -> list[Column]:
    definitions = _definitions()
    return [Column(key, str(definitions[key][0]), kind=definitions[key][1],
                   width=definitions[key][2])
            for key in keys if key in definitions]


def headers(keys: list[str], masked: bool) -> list[tuple[str, bool]]:
    """(header, masked?) for the confirmation page."""
    return [(column.header, masked and column.key in fields.MASKED_KEYS)
            for column in build_columns(keys)]


def _select_columns() -> tuple:
    doses = (sa.select(sa.func.count(Dose.id)).where(Dose.recipient_id == Recipient.id)
             .correlate(Recipient).scalar_subquery())
    last = (sa.select(sa.func.max(Dose.given_on)).where(Dose.recipient_id == Recipient.id)
            .correlate(Recipient).scalar_subquery())
    stored = [getattr(Recipient, key) for key in fields.FIELD_KEYS]
    return (Recipient.id, Recipient.name_key, *stored, Facility.name.label("facility"),
            doses.label("dose_count"), last.label("last_dose_on"))


def iter_rows(register_filter: RegisterFilter, account, keys: list[str], masked: bool,
              chunk: int = CHUNK_ROWS, upto: int | None = None) -> Iterator[dict]:
    """The filter's rows in the account's scope, read in keyset chunks in the register's
    order. Each chunk is one short query, so memory stays flat and no transaction stays
    open for the length of an export (on SQLite a long read would block every writer).
    With ``upto``, no recipient above that id (registered after the export's code)."""
    genders = {code: str(word) for code, word in gender.LABELS.items()}  # once
    base = export_statement(register_filter, account, upto)  # the scope read once
    after = None
    while True:
        rows = db.session.execute(chunk_statement(base, after).limit(chunk)).all()
        for row in rows:
            yield _values(row, keys, masked, genders)
        if len(rows) < chunk:
            return
        after = (rows[-1].name_key, rows[-1].id)


def export_statement(register_filter: RegisterFilter, account,
                     upto: int | None = None) -> sa.Select:
    """Every row of the export, in the register's order (name_key, id)."""
    stmt = (register_filter.statement(account, *_select_columns())
            .join(Facility, Facility.id == Recipient.facility_id))
    return stmt if upto is None else stmt.where(Recipient.id <= upto)


def chunk_statement(base: sa.Select, after: tuple[str, int] | None) -> sa.Select:
    """The rows of ``base`` after ``after``, the (name_key, id) of the last row read. A
    row-value comparison, which both databases answer by seeking the (name_key, id) index
    to that row (an OR of the two columns was a filter on PostgreSQL: each chunk re-read
    the range from its start)."""
    if after is None:
        return base
    return base.where(sa.tuple_(Recipient.name_key, Recipient.id) > sa.tuple_(*after))


def _values(row, keys: list[str], masked: bool, genders: dict[str, str]) -> dict:
    values = {key: getattr(row, key) for key in keys}
    if "gender" in values:
        values["gender"] = genders.get(values["gender"], values["gender"])
    for key in fields.CODED_KEYS:  # labels, as an import reads them back
        if values.get(key):
            values[key] = label(key, values[key])
    if masked:
        for key in fields.MASKED_KEYS:
            if values.get(key):
                values[key] = mask_field(key, values[key])
    return values
