"""Recipient rules shared by the register form and other domains (Excel import and export).

Contract::

    RECIPIENT_FIELDS                                  # [(key, column header, cell kind), ...]
    clean, errors = validate_recipient_data(data)     # the form's rules; errors in Vietnamese
    RowValidator()(data)                              # the same, one form for many rows
    find_by_national_id(nid)                          # platform-wide, or None
    find_possible_duplicates(full_name, date_of_birth, gender, exclude_id=None)
    register_recipient(clean, facility_id)            # the register form
    register_batch(people, facility_id, ids)          # an import's batch, in statements
    create_recipient(values, facility_id)             # the row alone (demo data, tests)

The fields themselves (labels, kinds, the one normaliser of each) are ``recipients/fields.py``.
Field rules only: a national ID already registered is not an error of
``validate_recipient_data``; callers decide with ``find_by_national_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from vaxportal.audit.hook import insert_rows
from vaxportal.extensions import db
from vaxportal.recipients import fields
from vaxportal.recipients.forms import RecipientChecks
from vaxportal.recipients.models import (
    Dose,
    DuplicateCandidate,
    Recipient,
    joined_words,
    person_columns,
    person_values,
    search_keys,
)
from vaxportal.validators import format_date_vn

#: (key, column header, cell kind) of ``fields.RECIPIENT``: the order of spreadsheets
RECIPIENT_FIELDS: list[tuple[str, Any, str]] = [
    (field.key, field.column_header, field.column_kind) for field in fields.RECIPIENT]
FIELD_KEYS = fields.FIELD_KEYS


def _as_form_text(value: Any) -> str:
    """A spreadsheet's cell as the text a person would have typed in the form."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return format_date_vn(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def clean_fields(form, keys: Iterable[str] = FIELD_KEYS) -> dict[str, Any]:
    """The validated form's values as stored: the form normalised each one already
    (``forms.Normalised``); empty text is None."""
    clean: dict[str, Any] = {}
    for key in keys:
        value = form[key].data
        if isinstance(value, str) and not value.strip():
            value = None
        clean[key] = value
    return clean


def validate_recipient_data(data: Mapping[str, Any]) -> tuple[dict, dict[str, str]]:
    """Check one recipient's data (a spreadsheet row) with the register form's rules: the
    cells become the text a person would type, and the form checks and normalises them.

    Returns ``(clean, errors)``: ``clean`` holds the stored values of the valid fields;
    ``errors`` maps each invalid field to its Vietnamese message."""
    return RowValidator()(data)


class RowValidator:
    """``validate_recipient_data`` for many rows (an import): one form, bound once, whose
    fields check each row's cells; a field's verdict on a cell (its stored form, or its
    message) is the same on every row, so each distinct cell value of a field is checked
    once and remembered (a commune with the province's stored value it was checked
    against); a cell is turned into typed text only when checked. Dates are always checked
    (whether one is in the future depends on the day). At most ``MEMO`` values per field
    are kept: a column of unique values (names, IDs) costs a look-up, not memory. Not
    shared between threads."""

    MEMO = 4096

    def __init__(self) -> None:
        self.form = RecipientChecks()
        cls = type(self.form)
        #: (key, field, its inline ``validate_<key>``, the key it is checked within,
        #: whether its verdicts are remembered)
        self._plan = [(spec.key, self.form[spec.key], _inline(cls, spec.key), spec.within,
                       spec.kind != "date") for spec in fields.RECIPIENT]
        self._memo: dict[str, dict[tuple, tuple[Any, str | None]]] = {
            key: {} for key in FIELD_KEYS}

    def __call__(self, data: Mapping[str, Any]) -> tuple[dict, dict[str, str]]:
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        stored: dict[str, Any] = {}
        for key, field, inline, within, remembered in self._plan:
            memo = self._memo[key]
            cell = data.get(key)
            # the cell's type too: True and 1 are equal keys, but typed as "True" and "1"
            seen = (cell.__class__, cell, stored.get(within)) if within else (
                cell.__class__, cell)
            verdict = memo.get(seen) if remembered else None
            if verdict is None:
                verdict = self._check(field, _Typed(key, _as_form_text(cell)), inline)
                if remembered and len(memo) < self.MEMO:
                    memo[seen] = verdict
            else:
                field.data = verdict[0]  # what a later field checked within it reads
            value, message = verdict
            stored[key] = value
            if message is not None:
                errors[key] = message
            else:
                clean[key] = None if isinstance(value, str) and not value.strip() else value
        return clean, errors

    def _check(self, field, formdata: _Typed, inline) -> tuple[Any, str | None]:
        """One field of the form run on one cell's text, as ``Form.process`` and
        ``Form.validate`` run it: (its data, its first message or None)."""
        field.process(formdata)
        field.post_process(formdata)
        field.validate(self.form, inline)
        return field.data, (str(field.errors[0]) if field.errors else None)


class _Typed:
    """The form data of one field (what WTForms' ``process`` reads of a request's form): the
    text a person would have typed in it."""

    __slots__ = ("key", "text")

    def __init__(self, key: str, text: str) -> None:
        self.key, self.text = key, text

    def __contains__(self, key: str) -> bool:
        return key == self.key

    def getlist(self, key: str) -> list[str]:
        return [self.text] if key == self.key else []


def _inline(cls, key: str) -> tuple:
    """The form's ``validate_<key>``, as ``Form.validate`` passes it (an extra validator)."""
    method = getattr(cls, f"validate_{key}", None)
    return (method,) if method is not None else ()


def find_by_national_id(nid: str | None) -> Recipient | None:
    """The recipient holding this national ID (in its stored form), across the whole
    platform (merged records answer with the record they were merged into)."""
    if not nid:
        return None
    recipient = db.session.scalar(sa.select(Recipient).where(Recipient.national_id == nid))
    return follow_merges(recipient)


def _typed(normalise, value: str | None) -> str | None:
    """A look-up's typed value in its stored form, or None when it is not one."""
    try:
        return normalise(value) if value else None
    except (ValueError, TypeError):
        return None


def follow_merges(recipient: Recipient | None) -> Recipient | None:
    seen = set()
    while recipient is not None and recipient.merged_into_id and recipient.id not in seen:
        seen.add(recipient.id)
        recipient = db.session.get(Recipient, recipient.merged_into_id)
    return recipient


def find_possible_duplicates(full_name: str, date_of_birth: date, gender: str,
                             exclude_id: int | None = None) -> list[Recipient]:
    """Live records with the same folded name, date of birth and gender (platform-wide);
    the values as stored (``clean``)."""
    wanted = person_values(full_name, date_of_birth, gender)
    stmt = sa.select(Recipient).where(
        *(column == value for column, value in zip(person_columns(), wanted, strict=True)),
        Recipient.merged_into_id.is_(None),
    ).order_by(Recipient.id)
    if exclude_id is not None:
        stmt = stmt.where(Recipient.id != exclude_id)
    return list(db.session.scalars(stmt))


def register_recipient(clean: dict, facility_id: int,
                       duplicates: Iterable[Recipient] | None = None) -> Recipient:
    """Register a person checked by the form's rules (``clean``), from the register form or
    an import: the record, and each possible duplicate (same folded name, date of birth and
    gender) queued for the supervisors. ``duplicates``: those already found by the caller.
    Added to the session, not flushed: an import writes a whole batch in one flush."""
    if duplicates is None:
        duplicates = find_possible_duplicates(clean["full_name"], clean["date_of_birth"],
                                              clean["gender"])
    recipient = _new_recipient(clean, facility_id)
    for other in duplicates:
        db.session.add(DuplicateCandidate(recipient=recipient, other_id=other.id,
                                          facility_id=facility_id))
    return recipient


def register_batch(people: list[tuple[dict, bool]], facility_id: int,
                   ids: Iterable[int], name_keys: Iterable[str] | None = None) -> None:
    """``register_recipient`` for a batch of people (an import), in statements rather than
    objects: the records (their search keys as ``Recipient._keep_name_key`` writes them) and
    their audit rows go in together (``audit.hook.insert_rows``). ``people``: (clean,
    may_be_duplicate); a possible duplicate is queued, as by ``register_recipient``, with
    the live records of the same person registered before it (earlier rows of the batch
    included). ``ids``: one new id per person, taken by the
    caller under the chain's lock. ``name_keys``: the names already folded (``fold``), if
    the caller has them."""
    rows = []
    folded = iter(name_keys) if name_keys is not None else None
    for (clean, _maybe), recipient_id in zip(people, ids, strict=False):
        if folded is None:
            name_key, words = search_keys(clean["full_name"])
        else:
            name_key = next(folded)
            words = joined_words(name_key)
        rows.append({"id": recipient_id, "facility_id": facility_id, "name_key": name_key,
                     "name_words": words, **{key: clean.get(key) for key in FIELD_KEYS}})
    insert_rows(db.session, Recipient, rows)
    for (clean, maybe), row in zip(people, rows, strict=True):
        if maybe:
            for other in find_possible_duplicates(clean["full_name"], clean["date_of_birth"],
                                                  clean["gender"]):
                if other.id < row["id"]:
                    db.session.add(DuplicateCandidate(recipient_id=row["id"],
                                                      other_id=other.id,
                                                      facility_id=facility_id))


def _new_recipient(values: Mapping[str, Any], facility_id: int) -> Recipient:
    recipient = Recipient(facility_id=facility_id,
                          **{key: values[key] for key in FIELD_KEYS if key in values})
    db.session.add(recipient)
    return recipient


def create_recipient(values: dict, facility_id: int) -> Recipient:
    """The record alone, for values already in their stored form (demo data, test
    factories), without the duplicate queue; flushed, not committed."""
    recipient = _new_recipient(values, facility_id)
    db.session.flush()
    return recipient


def last_entry_at(facility_id: int) -> Dose | None:
    """The last dose entered at a facility: its lot number and vaccinator are suggested."""
    return db.session.scalar(
        sa.select(Dose).where(Dose.facility_id == facility_id)
        .order_by(Dose.created_at.desc(), Dose.id.desc()).limit(1)
    )


def previous_dose(recipient_id: int, before: date, exclude_id: int | None = None) -> Dose | None:
    stmt = (
        sa.select(Dose).where(Dose.recipient_id == recipient_id, Dose.given_on <= before)
        .order_by(Dose.given_on.desc(), Dose.id.desc()).limit(1)
    )
    if exclude_id is not None:
        stmt = stmt.where(Dose.id != exclude_id)
    return db.session.scalar(stmt)


def find_by_id_number(value: str | None) -> list[Recipient]:
    """Exact look-up across the platform by national ID or insurance number (live records).
    Empty when the value is neither. ``value`` as typed: normalised here, once."""
    found = find_by_national_id(_typed(fields.spec("national_id").normalise, value))
    if found is not None:
        return [found]
    number = _typed(fields.spec("insurance_number").normalise, value)
    if not number:
        return []
    rows = db.session.scalars(
        sa.select(Recipient).where(Recipient.insurance_number == number).order_by(Recipient.id)
    )
    live: dict[int, Recipient] = {}
    for row in rows:
        recipient = follow_merges(row)
        live.setdefault(recipient.id, recipient)
    return list(live.values())
