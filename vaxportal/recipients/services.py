"""Recipient rules shared by the register form and other domains (Excel import and export).

Contract::

    RECIPIENT_FIELDS                                  # [(key, label, "text" | "date"), ...]
    clean, errors = validate_recipient_data(data)     # the form's rules; errors in Vietnamese
    find_by_national_id(nid)                          # platform-wide, or None
    find_possible_duplicates(full_name, date_of_birth, gender, exclude_id=None)
    create_recipient(clean, facility_id)              # adds and flushes; the caller commits

Field rules only: a national ID already registered is not an error of
``validate_recipient_data``; callers decide with ``find_by_national_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from vaxportal.audit import events
from vaxportal.extensions import db
from vaxportal.recipients import codes
from vaxportal.recipients.forms import RecipientFields
from vaxportal.recipients.models import Dose, Gender, Recipient
from vaxportal.text import fold
from vaxportal.validators import (
    format_date_vn,
    normalize_insurance_number,
    normalize_national_id,
    normalize_phone,
)

#: (key, Vietnamese label, kind): the order of the import template and export columns
RECIPIENT_FIELDS: list[tuple[str, Any, str]] = [
    ("full_name", _l("Họ và tên"), "text"),
    ("date_of_birth", _l("Ngày sinh"), "date"),
    ("gender", _l("Giới tính"), "text"),
    ("national_id", _l("Số CCCD/CMND"), "text"),
    ("insurance_number", _l("Số thẻ BHYT / mã số BHXH"), "text"),
    ("phone", _l("Số điện thoại"), "text"),
    ("occupation", _l("Nghề nghiệp"), "text"),
    ("ethnicity", _l("Dân tộc"), "text"),
    ("nationality", _l("Quốc tịch"), "text"),
    ("priority_group", _l("Nhóm ưu tiên"), "text"),
    ("province", _l("Tỉnh/Thành phố"), "text"),
    ("district", _l("Quận/Huyện (địa chỉ trước 2025)"), "text"),
    ("ward", _l("Phường/Xã"), "text"),
    ("street", _l("Số nhà, đường, thôn/ấp"), "text"),
]
FIELD_KEYS = tuple(key for key, _label, _kind in RECIPIENT_FIELDS)

# Spreadsheets say "Nam"/"Nữ"; the form sends the codes. Both are accepted (folded).
_GENDER_WORDS = {
    "nam": Gender.male, "male": Gender.male, "m": Gender.male,
    "nu": Gender.female, "female": Gender.female, "f": Gender.female,
    "khac": Gender.other, "other": Gender.other,
}


def gender_code(value: Any) -> str:
    text = fold(str(value or ""))
    return _GENDER_WORDS[text].value if text in _GENDER_WORDS else str(value or "")


def _as_form_text(key: str, value: Any) -> str:
    """A spreadsheet's cell as the text a person would have typed in the form."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return format_date_vn(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if key == "gender":
        return gender_code(value)
    return str(value)


def clean_fields(form, keys=FIELD_KEYS) -> dict[str, Any]:
    """The validated form's values in their stored form (empty text → None, IDs normalized)."""
    normalizers = {"national_id": normalize_national_id,
                   "insurance_number": normalize_insurance_number, "phone": normalize_phone}
    clean: dict[str, Any] = {}
    for key in keys:
        value = form[key].data
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and key in normalizers:
            value = normalizers[key](value)
        clean[key] = value
    return clean


def validate_recipient_data(data: Mapping[str, Any]) -> tuple[dict, dict[str, str]]:
    """Check one recipient's data with the register form's rules.

    Returns ``(clean, errors)``: ``clean`` holds the stored values of the valid fields;
    ``errors`` maps each invalid field to its Vietnamese message."""
    formdata = MultiDict({key: _as_form_text(key, data.get(key)) for key in FIELD_KEYS})
    _codes_for_labels(formdata, data)
    form = RecipientFields(formdata=formdata)
    form.validate()
    errors = {key: str(form[key].errors[0]) for key in FIELD_KEYS if form[key].errors}
    valid = tuple(key for key in FIELD_KEYS if key not in errors)
    return clean_fields(form, valid), errors


def _codes_for_labels(formdata: MultiDict, data: Mapping[str, Any]) -> None:
    """A spreadsheet may hold a code or its label ("An Giang", "91"): both become the code;
    what matches nothing stays as typed, and the form's check names it."""
    for key in codes.CODED_FIELDS:
        text = formdata.get(key)
        if not text:
            continue
        province = formdata.get("province") if key == "ward" else None
        formdata[key] = codes.to_code(key, data.get(key), province) or text


def find_by_national_id(nid: str | None) -> Recipient | None:
    """The recipient holding this national ID, across the whole platform (merged records
    answer with the record they were merged into)."""
    try:
        nid = normalize_national_id(nid) if nid else None
    except (ValueError, TypeError):
        nid = None
    if not nid:
        return None
    recipient = db.session.scalar(sa.select(Recipient).where(Recipient.national_id == nid))
    return follow_merges(recipient)


def follow_merges(recipient: Recipient | None) -> Recipient | None:
    seen = set()
    while recipient is not None and recipient.merged_into_id and recipient.id not in seen:
        seen.add(recipient.id)
        recipient = db.session.get(Recipient, recipient.merged_into_id)
    return recipient


def find_possible_duplicates(full_name: str, date_of_birth: date, gender: str,
                             exclude_id: int | None = None) -> list[Recipient]:
    """Live records with the same folded name, date of birth and gender (platform-wide)."""
    stmt = sa.select(Recipient).where(
        Recipient.name_key == fold(full_name or ""),
        Recipient.date_of_birth == date_of_birth,
        Recipient.gender == gender_code(gender),
        Recipient.merged_into_id.is_(None),
    ).order_by(Recipient.id)
    if exclude_id is not None:
        stmt = stmt.where(Recipient.id != exclude_id)
    return list(db.session.scalars(stmt))


def create_recipient(clean: dict, facility_id: int) -> Recipient:
    """A new recipient at ``facility_id`` (``name_key`` follows ``full_name``); flushed,
    not committed."""
    values = {key: clean.get(key) for key in FIELD_KEYS if key in clean}
    recipient = Recipient(facility_id=facility_id, **values)
    db.session.add(recipient)
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
    None when the value is neither."""
    found = find_by_national_id(value)
    if found is not None:
        return [found]
    try:
        number = normalize_insurance_number(value) if value else None
    except (ValueError, TypeError):
        number = None
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


def merge_recipients(kept: Recipient, gone: Recipient) -> int:
    """Merge ``gone`` into ``kept``: both histories stay (the doses move to ``kept``); ``gone``
    remains, marked as merged, so nothing is lost. Audited by the session hook, plus one
    event naming the pair. Returns the number of doses moved."""
    moved = list(gone.doses)
    for dose in moved:
        dose.recipient_id = kept.id
    gone.merged_into_id = kept.id
    events.record("merge_recipients", category="data", entity="recipient", entity_id=kept.id,
                  facility_id=kept.facility_id,
                  details={"merged_id": gone.id, "doses_moved": [d.id for d in moved]})
    db.session.flush()
    db.session.expire(kept, ["doses"])
    db.session.expire(gone, ["doses"])
    return len(moved)
