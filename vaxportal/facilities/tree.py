"""The facility tree: creation keeps the materialized path, subtrees are one range scan."""

from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_app_context

from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.text import prefix_range


def add_facility(code: str, name: str, kind: str, parent: Facility | None = None) -> Facility:
    """Create a facility under ``parent`` and give it its path (flushes to get the id)."""
    facility = Facility(code=code, name=name, kind=kind, parent=parent)
    db.session.add(facility)
    db.session.flush()
    facility.path = f"{parent.path if parent else '/'}{facility.id}/"
    db.session.flush()
    return facility


def normalize_code(code: str | None) -> str:
    return (code or "").strip().upper()


def subtree_ids(facility_id: int) -> sa.Select:
    """``SELECT id`` of a facility and every facility below it: a range of literal paths,
    so that the planner sees the bounds (a sub-select of the path made PostgreSQL guess a
    province's subtree at one row)."""
    bounds = _bounds(facility_id)
    if bounds is None:
        return sa.select(Facility.id).where(sa.false())
    return _ids_between(*bounds)


def subtree_bounds(facility_id: int) -> tuple[str, str] | None:
    """The paths ``low <= path < high`` of a facility's subtree (None: no such facility)."""
    return _bounds(facility_id)


def path_range_ids(low, high) -> sa.Select:
    """``SELECT id`` of the facilities whose path lies in ``[low, high)``: the bounds of
    ``subtree_bounds``, as values or as named parameters of a statement kept for reuse."""
    return _ids_between(low, high)


def _bounds(facility_id: int) -> tuple[str, str] | None:
    path = _path_of(facility_id)
    return None if path is None else prefix_range(path)


def _ids_between(low, high) -> sa.Select:
    return sa.select(Facility.id).where(Facility.path >= low, Facility.path < high)


def _path_of(facility_id: int) -> str | None:
    """A facility's path, read once per request or job (a path is set when the facility
    is created and never changes); the signed-in account's own facility comes with its
    session (``auth.sessions``), so a request usually reads none."""
    paths = g.setdefault("_facility_paths", {}) if has_app_context() else {}
    if facility_id not in paths:
        facility = db.session.get(Facility, facility_id)
        paths[facility_id] = facility.path if facility else None
    return paths[facility_id]


def depth_column():
    """The depth of a row as SQL (1 for a root): the number of ids in its path."""
    without_slashes = sa.func.replace(Facility.path, "/", "")
    return sa.func.length(Facility.path) - sa.func.length(without_slashes) - 1


def ancestors(facility: Facility) -> list[Facility]:
    """From the root down to the facility's parent."""
    ids = [int(part) for part in facility.path.strip("/").split("/")[:-1] if part]
    if not ids:
        return []
    rows = db.session.scalars(sa.select(Facility).where(Facility.id.in_(ids))).all()
    by_id = {f.id: f for f in rows}
    return [by_id[i] for i in ids if i in by_id]


def by_code(code: str) -> Facility | None:
    return db.session.scalar(sa.select(Facility).where(Facility.code == code))
