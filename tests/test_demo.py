"""`vaxportal seed-demo`: the province from the letter, one account per facility (P4.1)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from vaxportal.auth.models import Account
from vaxportal.demo import FACILITIES
from vaxportal.facilities.models import Facility
from vaxportal.recipients import demo as recipients_demo


@pytest.fixture(autouse=True)
def few_people(monkeypatch):
    """These tests are about the facilities and their accounts: two demo people a facility
    instead of forty (tests/recipients/test_demo_and_cli.py seeds the full few hundred)."""
    monkeypatch.setattr(recipients_demo, "PER_FACILITY", 2)


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
    rows = db.session.scalars(sa.select(Facility).where(Facility.kind == "commune_station")
                              .options(joinedload(Facility.parent)))
    parents = {f.parent.code for f in rows}
    assert len(parents) == 2


# -- a lost terminal is not lost demo logins (issue 14) ---------------------------------------


def _seeded(runner, outbox) -> int:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    return len(outbox())


def test_seed_demo_show_lists_accounts_and_how_to_get_a_password_again(runner, db, outbox):
    before = _seeded(runner, outbox)
    result = runner.invoke(args=["seed-demo", "--show"])
    assert result.exit_code == 0, result.output
    for code, name, _kind, _parent, username, role, _phone, _person in FACILITIES:
        line = next(line for line in result.output.splitlines() if f" {username} " in line)
        assert code in line and role in line and name in line
    assert "vaxportal seed-demo --reissue tyt.mybinh" in result.output
    assert len(outbox()) == before  # showing sends nothing
    assert all(m["secret"] not in result.output for m in outbox())


def test_p4_3b_reissue_sends_a_new_initial_password_to_the_console_and_audits_it(runner, db,
                                                                                 outbox):
    from vaxportal.audit.models import AuditEvent
    from vaxportal.auth.passwords import verify_password

    before = _seeded(runner, outbox)
    account = db.session.scalar(sa.select(Account).where(Account.username == "tyt.mybinh"))
    first = next(m["secret"] for m in outbox() if m["to"] == account.phone)
    result = runner.invoke(args=["seed-demo", "--reissue", "tyt.mybinh"])
    assert result.exit_code == 0, result.output
    sent = outbox()[before:]
    assert [(m["to"], m["kind"]) for m in sent] == [(account.phone, "initial_password")]
    assert sent[0]["secret"] not in result.output  # on the SMS console, not in the output
    db.session.expire_all()
    account = db.session.get(Account, account.id)
    assert verify_password(account.password_hash, sent[0]["secret"])
    assert not verify_password(account.password_hash, first)
    assert account.must_change_password  # P4.3b: changed at the next sign-in
    event = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.category == "account", AuditEvent.entity_id == str(account.id),
        AuditEvent.action == "demo_password_reissued")).one()
    assert event.actor.startswith("console:") and event.facility_id == account.facility_id


def test_p4_3c_reissue_refused_outside_debug_and_testing(app, runner, db, outbox, monkeypatch):
    before = _seeded(runner, outbox)
    account = db.session.scalar(sa.select(Account).where(Account.username == "tyt.mybinh"))
    password_hash = account.password_hash
    monkeypatch.setattr(app, "testing", False)
    monkeypatch.setattr(app, "debug", False)
    result = runner.invoke(args=["seed-demo", "--reissue", "tyt.mybinh"])
    assert result.exit_code != 0
    assert len(outbox()) == before
    db.session.expire_all()
    assert db.session.get(Account, account.id).password_hash == password_hash


def test_p4_3c_reissue_only_for_demo_accounts(runner, db, outbox, factory):
    before = _seeded(runner, outbox)
    other = factory.account("data_entry", username="that.real.one")
    password_hash = other.password_hash
    for username in ("that.real.one", "nobody.here"):
        result = runner.invoke(args=["seed-demo", "--reissue", username])
        assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(outbox()) == before
    db.session.expire_all()
    assert db.session.get(Account, other.id).password_hash == password_hash
