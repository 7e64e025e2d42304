"""Scope filter at province scale: a supervisor's subtree among tens of thousands of
facilities, against the baseline of a single-facility equality filter, same run, same data.

    .venv/bin/python bench/subtree.py [--facilities 30000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import bench_app, report, timed  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.facilities.models import Facility  # noqa: E402
from vaxportal.facilities.tree import subtree_ids  # noqa: E402


def build_tree(total: int) -> int:
    """63 provinces -> districts -> communes, through the ORM (so the audit hook writes a
    row for each, as in production); returns one district id."""
    rows, next_id = [], 1
    per_province = max(1, total // 63)
    districts_per = max(1, int(per_province ** 0.5))
    district_id = None
    for p in range(63):
        pid = next_id
        rows.append(Facility(id=pid, code=f"P{p}", name=f"Tỉnh {p}", kind="provincial_doh",
                             parent_id=None, path=f"/{pid}/"))
        next_id += 1
        for d in range(districts_per):
            did = next_id
            rows.append(Facility(id=did, code=f"P{p}D{d}", name="TTYT", parent_id=pid,
                                 kind="district_health_centre", path=f"/{pid}/{did}/"))
            next_id += 1
            district_id = district_id or did
            for c in range(districts_per):
                cid = next_id
                rows.append(Facility(id=cid, code=f"P{p}D{d}C{c}", name="TYT",
                                     kind="commune_station", parent_id=did,
                                     path=f"/{pid}/{did}/{cid}/"))
                next_id += 1
    db.session.add_all(rows)
    db.session.commit()
    return district_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facilities", type=int, default=30_000)
    parser.add_argument("--uri")
    args = parser.parse_args()
    app = bench_app(args.uri)
    with app.app_context():
        district = build_tree(args.facilities)
        count = db.session.scalar(sa.select(sa.func.count(Facility.id)))
        print(f"facilities: {count}")
        baseline = timed(lambda: db.session.scalars(
            sa.select(Facility.id).where(Facility.id == district)).all())
        subtree = timed(lambda: db.session.scalars(subtree_ids(district)).all())
        root = db.session.scalar(sa.select(Facility.id).where(Facility.parent_id.is_(None)))
        province = timed(lambda: db.session.scalars(subtree_ids(root)).all())
        report("baseline: one facility by primary key", baseline, baseline)
        report("district subtree (scope of a supervisor)", subtree, baseline)
        report("province subtree (scope of a reviewer)", province, baseline)


if __name__ == "__main__":
    main()
