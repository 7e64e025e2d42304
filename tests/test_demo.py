"""`vaxportal seed-demo`: the province from the letter, one account per facility (P4.1)."""

from __future__ import annotations

import sqlalchemy as sa

from vaxportal.auth.models import Account
from vaxportal.demo import FACILITIES
from vaxportal.facilities.models import Facility


def test_seed_demo_loads_province_once(runner, db, outbox):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for code, *_rest in FACILITIES:
        assert code in result.output
    assert "tyt.mybinh" in result.output
    # two administrators, so that one can approve what the other requests (P2.1)
    admins = db.session.scalars(sa.select(Account).where(Account.role == "admin")).all()
    assert len(admins) == 2 and admins[0].facility_id != admins[1].facility_id
    facilities = db.session.scalars(sa.select(Facility)).all()
    assert len(facilities) == len(FACILITIES)
    kinds = {f.kind for f in facilities}
    assert {"cdc", "commune_station", "military_medical", "police_infirmary",
            "vaccination_centre", "support_unit", "private_hospital"} <= kinds
    accounts = db.session.scalars(sa.select(Account)).all()
    assert sorted(a.facility_id for a in accounts) == sorted(f.id for f in facilities)
    # every initial password went by SMS to the registered phone, and none was printed
    sent = [m for m in outbox() if m["kind"] == "initial_password"]
    assert {m["to"] for m in sent} == {a.phone for a in accounts}
    assert all(m["secret"] not in result.output for m in sent)

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(Facility.id))) == len(FACILITIES)


def test_demo_tree_has_communes_under_two_districts(runner, db):
    runner.invoke(args=["seed-demo"])
    rows = db.session.scalars(sa.select(Facility).where(Facility.kind == "commune_station"))
    parents = {f.parent.code for f in rows}
    assert len(parents) == 2
