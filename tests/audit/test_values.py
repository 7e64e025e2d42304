"""What the trail stores of a value: ``registry.normalized`` gives exactly what a JSON column
hands back, by JSON's own encoder where it can and by the full walk of ``jsonable`` where it
cannot, and both ways agree."""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from vaxportal.audit import chain, registry


class Kind(enum.StrEnum):
    station = "commune_station"


class Plain(enum.Enum):
    three = 3


def walked(value):
    """The reference: every value made JSON-safe first, then the JSON round trip."""
    return json.loads(json.dumps(registry.jsonable(value), ensure_ascii=False, allow_nan=False))


VALUES = [
    None, "Nguyễn Văn Ấn", 7, 1.5, True, [1, "a"], (1, 2), {3},
    {"full_name": {"old": None, "new": "Trần Thị Bé"},
     "date_of_birth": {"old": date(1987, 3, 14), "new": date(1987, 4, 14)},
     "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
     "local": datetime(2026, 1, 2, 10, 4, 5, tzinfo=timezone(timedelta(hours=7))),
     "naive": datetime(2026, 1, 2, 3, 4, 5), "kind": Kind.station, "plain": Plain.three,
     "amount": Decimal("1.50"), "secret": b"\x00\x01", "nested": [{"on": [date(2020, 1, 1)]}]},
    {"nan": float("nan"), "inf": float("inf")},  # JSON has no NaN: the slow walk
    {1: "a key that is a number"}, {date(2020, 1, 1): "a key that is a date"},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_encoder_path_stores_what_the_full_walk_stores(value):
    assert registry.normalized(value) == walked(value)


def test_dates_are_iso_and_times_utc():
    hanoi = timezone(timedelta(hours=7))
    stored = registry.normalized({"on": date(2026, 12, 3),
                                  "at": datetime(2026, 12, 3, 7, 0, tzinfo=hanoi)})
    assert stored == {"on": "2026-12-03", "at": "2026-12-03T00:00:00+00:00"}


class Flag(enum.IntEnum):
    on = 1


def test_a_change_of_an_enum_column_is_already_in_json_s_own_types():
    """An enum member (a str or int enum is a str or int) is stored as its plain value, so
    an insert's ``changes`` (ints, text, dates as text, enums) goes into the chain as it is,
    without a JSON round trip per audited row (the audit hook's cost per write)."""
    assert type(registry.jsonable(Kind.station)) is str
    assert type(registry.jsonable(Flag.on)) is int
    assert registry.jsonable(Kind.station) == "commune_station"
    spec = registry.AuditSpec(category="data", entity="dose")
    changes = {key: registry.change(spec, key, None, value) for key, value in
               {"kind": Kind.station, "flag": Flag.on, "given_on": date(2021, 6, 1)}.items()}
    assert registry._plain(changes)
    assert registry.normalized(changes) is changes


def test_an_insert_s_changes_are_each_field_s_change():
    spec = registry.AuditSpec(entity="account", secret=frozenset({"password_hash"}))
    values = {"username": "an", "password_hash": "x", "role": Kind.station, "phone": None,
              "created_on": date(2026, 1, 2)}
    keys = ("username", "password_hash", "role", "phone", "created_on")
    assert registry.insert_changes(spec, keys, values) == {
        key: registry.change(spec, key, None, values[key]) for key in keys
        if values[key] is not None}
    assert registry.insert_changes(spec, keys, values)["password_hash"] == registry.CHANGED


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_registry_s_changes_are_already_what_a_json_column_hands_back(value):
    """The hook appends its rows with ``plain=True`` (its ``changes`` not walked again): each
    field's change, whatever the column held, is already in JSON's own types, and its
    canonical text is that of what reading it back gives (the hash survives the column)."""
    spec = registry.AuditSpec(category="data", entity="dose")
    for changes in ({"field": registry.change(spec, "field", value, value)},
                    registry.insert_changes(spec, ("field",), {"field": value})):
        text = chain._json_text(changes)
        assert json.loads(text) == changes
        assert chain._json_text(json.loads(text)) == text


def test_the_commonest_column_types_take_their_form_by_exact_type():
    """A date, a time (naive: UTC) and a decimal, as every audited insert of a dose or a
    person has them: the same forms as the full walk's."""
    hanoi = timezone(timedelta(hours=7))
    assert registry.jsonable(date(2026, 12, 4)) == "2026-12-04"
    assert registry.jsonable(datetime(2026, 12, 4, 7, 0, tzinfo=hanoi)) == \
        "2026-12-04T00:00:00+00:00"
    assert registry.jsonable(datetime(2026, 12, 4, 7, 0)) == "2026-12-04T07:00:00+00:00"
    assert registry.jsonable(Decimal("1.50")) == "1.50"
