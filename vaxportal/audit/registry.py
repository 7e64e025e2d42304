"""Which models the audit hook follows (P2.4), and how their values are written down.

Each domain marks its own models where it defines them, with the class decorator
``@audit.audited(category=..., facility=..., ignore=..., shared=...)``; this module lists no
model of its own and imports no domain. Never audit ``UserSession``, ``OtpChallenge``,
``PasswordHistory`` or ``AuditEvent`` itself.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

#: shown only as "changed", never with a value (P3.4: no passwords, codes or secrets)
SECRET_COLUMNS = frozenset({"password_hash", "totp_secret", "code_hash", "token_hash"})
#: derived or bookkeeping columns that say nothing a person changed
IGNORED_COLUMNS = frozenset({"name_key", "updated_at"})
#: never audited by the hook: sessions and codes churn, and the trail cannot audit itself
NEVER_AUDITED = frozenset({"user_session", "otp_challenge", "password_history", "audit_event"})
#: access events about these entities are account/security events; all others are data events
SECURITY_ENTITIES = {"account", "custodian", "facility", "delegation", "written_request"}
#: data entities whose rows carry no facility and no personal data (the vaccine catalogue)
SHARED_ENTITIES: set[str] = set()
#: entities that only appear in access events (exports and imports), for the filter list
ACCESS_ONLY_ENTITIES = {"export_job", "import_job"}

CHANGED = "changed"  # how a secret column appears in ``changes``


@dataclass(frozen=True)
class AuditSpec:
    entity: str
    category: str = "data"  # data | account
    facility: Callable[[Any], int | None] | None = None
    ignore: frozenset[str] = field(default_factory=frozenset)
    secret: frozenset[str] = SECRET_COLUMNS

    def facility_of(self, obj) -> int | None:
        if self.facility is not None:
            return self.facility(obj)
        return getattr(obj, "facility_id", None)


_specs: dict[type, AuditSpec] = {}
_tables: dict[str, tuple[type, AuditSpec]] = {}
_watchers: list[Callable[[type, AuditSpec], None]] = []


def audited(model: type | None = None, *, category: str = "data",
            facility: Callable[[Any], int | None] | None = None,
            ignore: tuple[str, ...] = (), secret: tuple[str, ...] = (), shared: bool = False):
    """Mark ``model`` audited: every insert, update and delete of it gets an audit row.

    ``facility(obj)`` names the facility the record belongs to (default: ``obj.facility_id``);
    ``shared`` rows (no facility, no personal data) are readable by every data-audit reader.
    """

    def register(cls: type) -> type:
        name = cls.__tablename__
        if name in NEVER_AUDITED:
            raise ValueError(f"{name} is never audited by the session hook")
        spec = AuditSpec(entity=name, category=category, facility=facility,
                         ignore=frozenset(ignore), secret=SECRET_COLUMNS | set(secret))
        _specs[cls] = spec
        _tables[cls.__table__.name] = (cls, spec)
        if category == "account":
            SECURITY_ENTITIES.add(name)
        if shared:
            SHARED_ENTITIES.add(name)
        for watcher in _watchers:
            watcher(cls, spec)
        return cls

    return register(model) if model is not None else register


def on_register(watcher: Callable[[type, AuditSpec], None]) -> None:
    """Call ``watcher(cls, spec)`` for every model audited now and later (the hook uses it)."""
    if watcher not in _watchers:
        _watchers.append(watcher)
    for cls, spec in list(_specs.items()):
        watcher(cls, spec)


def spec_for(cls: type) -> AuditSpec | None:
    return _specs.get(cls)


def specs() -> dict[type, AuditSpec]:
    return dict(_specs)


def audited_tables() -> dict[str, tuple[type, AuditSpec]]:
    """Table name -> (model, spec) of every audited model (read by the bypass guard)."""
    return _tables


def entity_names() -> list[str]:
    return sorted({spec.entity for spec in _specs.values()} | ACCESS_ONLY_ENTITIES)


# -- values -------------------------------------------------------------------------------

#: the exact types JSON decodes to, floats aside
_SCALARS = (str, int, bool, type(None))


def _utc_iso(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


#: the form of the commonest column types that are not JSON's own, by exact type (every
#: audited insert of a dose or a person has a date)
_EXACT: dict[type, Callable[[Any], Any]] = {date: date.isoformat, datetime: _utc_iso,
                                            Decimal: str}


def jsonable(value: Any) -> Any:
    """A JSON-safe form of a column value: dates ISO, datetimes ISO in UTC."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    exact = _EXACT.get(kind)
    if exact is not None:
        return exact(value)
    if isinstance(value, enum.Enum):  # before str and int: a str enum is a str, but not plain
        return jsonable(value.value)
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) \
            else str(value)
    if isinstance(value, datetime):
        return _utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return CHANGED
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def normalized(value: Any) -> Any:
    """Exactly what a JSON column hands back (so a hash over it survives the round trip).
    A value already made only of JSON's own types is that already; for anything else JSON's
    own encoder walks the value and asks ``jsonable`` only for what it has no form of (dates,
    decimals, ...); a value it refuses (NaN, a key that is not text) takes the slow walk,
    which makes everything text first."""
    if value is None or _plain(value):
        return value
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError):
        text = _ENCODER.encode(jsonable(value))
    return json.loads(text)


def _leaf(value: Any) -> Any:
    """``jsonable`` of a value JSON's encoder has no form of."""
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in value]
    return jsonable(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_leaf)


def _plain(value: Any) -> bool:
    """Made only of the exact types JSON decodes to (no subclasses: an enum member is
    written as its value and read back as a plain str or int); floats are left to the
    round trip."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str:
                    return False
                if type(inner) not in _SCALARS:
                    pending.append(inner)
        elif kind is list:
            pending.extend(item)
        else:
            return False
    return True


def insert_changes(spec: AuditSpec, keys, values: Mapping[str, Any]) -> dict:
    """An inserted row's ``changes``: each audited value that is not None, old None (as
    ``change`` gives it, without a call per field: every insert the trail records runs it)."""
    secret = spec.secret
    return {key: CHANGED if key in secret else
            {"old": None, "new": value if type(value) in _SCALARS else jsonable(value)}
            for key in keys if (value := values.get(key)) is not None}


def change(spec: AuditSpec, key: str, old: Any, new: Any) -> Any:
    """One field's entry in ``changes``: old and new, or only "changed" for a secret."""
    if key in spec.secret:
        return CHANGED
    return {"old": jsonable(old), "new": jsonable(new)}


def audited_columns(mapper, spec: AuditSpec) -> list[tuple[str, sa.Column]]:
    """(attribute key, column) pairs of a mapper that the trail records."""
    skip = IGNORED_COLUMNS | spec.ignore
    version = mapper.version_id_col
    pairs = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if prop.key in skip or column is version or not isinstance(column, sa.Column):
            continue
        pairs.append((prop.key, column))
    return pairs

