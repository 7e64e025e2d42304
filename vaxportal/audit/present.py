"""How audit rows read on the page: names for ids, actions, entities and fields by their
labels (``audit/labels.py``; a recipient's fields as ``recipients/fields.py`` names them),
values as text (always escaped by Jinja), identifiers and the search terms holding them
masked for accounts that do not see them in the register either
(``policy.sees_full_identity`` and ``policy.mask_field``: the same rule and the same masked
form as the register and the export)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from vaxportal import policy
from vaxportal.audit import labels, registry
from vaxportal.audit.labels import field_label
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, Custodian
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.policy import audit_scope as scope
from vaxportal.policy import mask_field, sees_full_identity
from vaxportal.recipients import codes
from vaxportal.timeutil import format_date, format_datetime

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")

CATEGORY_LABELS = {"data": _l("Dữ liệu"), "access": _l("Truy cập"), "account": _l("Tài khoản")}


def entity_choices(data: bool, security: bool) -> list[tuple[str, str]]:
    """(entity, label) of the kinds of data a reader of the data and/or the security audit
    can meet."""
    return [(name, labels.entity_label(name)) for name in registry.entity_names()
            if (security if name in registry.SECURITY_ENTITIES else data)]


def filter_choices(account, with_facilities: bool) -> tuple[list[tuple[int, str]],
                                                             list[tuple[int, str]]]:
    """The filter's lists in one round trip: the custodians whose rows the reader may see
    (everyone for the security audit; for the data audit, the holders of accounts in the
    reader's scope or delegated into it), and, for the data audit, the facilities of the
    reader's scope (which the scope then keeps: ``Scope.remember_choices``)."""
    label = Custodian.full_name + " (" + Account.username + ")"
    people = (sa.select(Custodian.id, label.label("name"), sa.literal_column("0").label("kind"))
              .join(Account, Account.id == Custodian.account_id))
    people = scope.visible_people(people, account)
    stmt = people
    reader_scope = policy.scope(account)
    if with_facilities:
        facilities = reader_scope.choices_statement().add_columns(sa.literal_column("1"))
        stmt = sa.union_all(people, facilities)
    found: tuple[list, list] = ([], [])
    for row_id, name, kind in db.session.execute(stmt.order_by("kind", "name", "id")):
        found[kind].append((row_id, name))
    if with_facilities:
        reader_scope.remember_choices(found[1])
    return found


#: values that name a facility: shown as its code and name (the id beside it)
FACILITY_KEYS = frozenset({"facility_id", "delegated_facility_id"})


def _names_facility(entity: str | None, key: str) -> bool:
    return key in FACILITY_KEYS or (entity == "facility" and key == "parent_id")


def facility_values(event: AuditEvent) -> set[int]:
    """The facility ids among a row's values (before/after and details)."""
    found = []
    for key, value in (event.changes or {}).items():
        if _names_facility(event.entity, key) and isinstance(value, dict):
            found += [value.get("old"), value.get("new")]
    found += [v for k, v in (event.details or {}).items() if _names_facility(event.entity, k)]
    return {v for v in found if isinstance(v, int) and not isinstance(v, bool)}


def names(events: list[AuditEvent], with_values: bool = False) -> dict[str, dict]:
    """Usernames, custodians' names and facilities for the ids on one page (three queries);
    ``with_values``: the facilities the rows' values name too (a row's own page)."""
    def lookup(columns, key, ids):
        ids = {i for i in ids if i is not None}
        if not ids:
            return {}
        return {row[0]: row for row in db.session.execute(sa.select(*columns).where(
            key.in_(ids)))}

    return {
        "accounts": {k: v.username for k, v in lookup(
            (Account.id, Account.username), Account.id, (e.account_id for e in events)).items()},
        "people": {k: v.full_name for k, v in lookup(
            (Custodian.id, Custodian.full_name), Custodian.id,
            (e.custodian_id for e in events)).items()},
        "facilities": {k: f"{v.code} · {v.name}" for k, v in lookup(
            (Facility.id, Facility.code, Facility.name), Facility.id,
            [e.facility_id for e in events]
            + [i for e in events if with_values for i in facility_values(e)]).items()},
    }


def change_rows(event: AuditEvent, facilities: dict[int, str] | None = None
                ) -> list[tuple[str, str, str, str]]:
    """(label, key, before, after) as text; secrets only as "changed"; a facility's id as
    its name when ``facilities`` (``names(..., with_values=True)``) has it."""
    rows = []
    for key, value in sorted((event.changes or {}).items()):
        name = field_label(event.entity, key)
        if value == registry.CHANGED or not isinstance(value, dict):
            marker = str(_l("(đã thay đổi, không hiển thị)"))
            rows.append((name, key, "", marker))
            continue
        rows.append((name, key, text(event, key, value.get("old"), facilities),
                     text(event, key, value.get("new"), facilities)))
    return rows


def detail_rows(event: AuditEvent, facilities: dict[int, str] | None = None
                ) -> list[tuple[str, str, str]]:
    """(label, key, value) of an access or account event's details."""
    return [(labels.detail_label(key), key, text(event, key, value, facilities))
            for key, value in sorted((event.details or {}).items())]


def text(event: AuditEvent, key: str, value, facilities: dict[int, str] | None = None) -> str:
    """One stored value as the page shows it."""
    if value is None:
        return ""
    if facilities and _names_facility(event.entity, key) and isinstance(value, int) \
            and value in facilities:
        return f"{facilities[value]} (#{value})"
    if not sees_full_identity() and event.entity not in registry.SECURITY_ENTITIES:
        value = mask_field(key, value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    value = str(value)
    if key in codes.CODED_FIELDS:
        return coded(key, value)
    if _ISO_DATE.match(value):
        return format_date(date.fromisoformat(value))
    if _ISO_DATETIME.match(value):
        try:
            return format_datetime(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def coded(key: str, value: str) -> str:
    """A coded field as its label, the stored code beside it: "Tày (02)"; older free text
    (no code) as it was."""
    shown = codes.label(key, value)
    return value if shown in ("", value) else f"{shown} ({value})"


def field_names(event: AuditEvent) -> str:
    return ", ".join(field_label(event.entity, key) for key in sorted(event.changes or {}))


def template_helpers() -> dict:
    return {"audit_action": labels.action_label,
            "audit_entity": labels.entity_label,
            "audit_category": lambda c: CATEGORY_LABELS.get(c, c),
            "audit_fields": field_names, "audit_sees_data": scope.sees_data}
