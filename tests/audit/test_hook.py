"""The session hook (P2.4): every insert, update and delete of an audited model leaves exactly
one audit row, in the same transaction, naming the account, the person holding it, the
session, the address and the request."""

from __future__ import annotations

import getpass
import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from tests.helpers import audit_rows, new_dose, new_recipient
from vaxportal.audit import chain
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, Custodian
from vaxportal.extensions import db
from vaxportal.facilities import tree
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.timeutil import utcnow

CRUD = ("insert", "update", "delete")


class Workload:
    """Random creates, edits and deletes, each in its own request by one of the actors;
    remembers every row the trail must hold."""

    def __init__(self, rng, acting, actors, stations, admin):
        self.rng, self.acting, self.actors = rng, acting, actors
        self.stations, self.admin = stations, admin
        self.expected: list[dict] = []
        self.recipients: dict[int, int] = {}  # id -> facility id
        self.doses: dict[int, int] = {}  # id -> recipient id
        self.facilities: list[int] = []
        self.step = 0

    def expect(self, actor, entity, entity_id, action, changes, facility_id):
        self.expected.append({
            "request_id": self.request_id, "entity": entity, "entity_id": str(entity_id),
            "action": action, "changes": changes, "facility_id": facility_id,
            "account_id": actor["account"].id, "session_id": actor["session"].id,
            "custodian_id": _custodian_id(actor["account"]),
            "actor": f"account:{actor['account'].username}",
        })

    def run(self, steps: int) -> None:
        for self.step in range(steps):
            self.request_id = f"op-{self.step:04d}"
            ops = [self.create_recipient, self.create_facility]
            if self.recipients:
                ops += [self.edit_recipient, self.create_dose, self.delete_recipient]
            if self.doses:
                ops += [self.edit_dose, self.delete_dose]
            if self.facilities:
                ops += [self.rename_facility, self.delete_facility]
            if self.step in (steps // 3, 2 * steps // 3):
                ops = [self.hand_over]
            self.rng.choice(ops)()

    def _in_request(self, actor):
        return self.acting(actor["account"], actor["session"], request_id=self.request_id)

    def _nurse(self):
        return self.rng.choice(self.actors)

    # -- recipients and doses (data events) --
    def create_recipient(self):
        actor = self._nurse()
        facility_id = actor["account"].facility_id
        name = self.rng.choice(["Nguyễn Văn An", "Trần Thị Bình", "Lê <b>Cường</b>"])
        born = date(1940, 1, 1) + timedelta(days=self.rng.randrange(25_000))
        with self._in_request(actor):
            recipient = new_recipient(facility_id, full_name=name, date_of_birth=born)
            db.session.commit()
            self.recipients[recipient.id] = facility_id
            self.expect(actor, "recipient", recipient.id, "insert",
                        {"full_name": {"old": None, "new": name},
                         "date_of_birth": {"old": None, "new": born.isoformat()},
                         "facility_id": {"old": None, "new": facility_id}}, facility_id)

    def _own(self, pool, facility_of):
        """An actor and one of the objects of its own facility (or None)."""
        actor = self._nurse()
        mine = [i for i in pool if facility_of(i) == actor["account"].facility_id]
        return (actor, self.rng.choice(mine)) if mine else (None, None)

    def edit_recipient(self):
        actor, rid = self._own(self.recipients, self.recipients.get)
        if actor is None:
            return self.create_recipient()
        occupation = self.rng.choice(["Nông dân", "Giáo viên", "Công nhân", None])
        phone = f"+8491{self.rng.randrange(10**7):07d}"
        with self._in_request(actor):
            recipient = db.session.get(Recipient, rid)
            old = {"occupation": recipient.occupation, "phone": recipient.phone}
            db.session.commit()  # the object is expired: the old values still get recorded
            recipient.occupation, recipient.phone = occupation, phone
            db.session.commit()
        changes = {key: {"old": old[key], "new": new}
                   for key, new in (("occupation", occupation), ("phone", phone))
                   if old[key] != new}
        if changes:
            self.expect(actor, "recipient", rid, "update", changes, self.recipients[rid])

    def delete_recipient(self):
        actor, rid = self._own(self.recipients, self.recipients.get)
        if actor is None:
            return self.create_recipient()
        with self._in_request(actor):
            recipient = db.session.get(Recipient, rid, options=[selectinload(Recipient.doses)])
            name = recipient.full_name
            for dose in list(recipient.doses):
                db.session.delete(dose)
                self.expect(actor, "dose", dose.id, "delete", None, dose.facility_id)
                del self.doses[dose.id]
            db.session.flush()
            db.session.delete(recipient)
            db.session.commit()
        self.expect(actor, "recipient", rid, "delete",
                    {"full_name": {"old": name, "new": None}}, self.recipients.pop(rid))

    def create_dose(self):
        actor, rid = self._own(self.recipients, self.recipients.get)
        if actor is None:
            return self.create_recipient()
        with self._in_request(actor):
            recipient = db.session.get(Recipient, rid, options=[selectinload(Recipient.doses)])
            dose = new_dose(recipient, number=len(recipient.doses) + 1)
            db.session.commit()
            self.doses[dose.id] = rid
            self.expect(actor, "dose", dose.id, "insert",
                        {"lot_number": {"old": None, "new": dose.lot_number},
                         "recipient_id": {"old": None, "new": rid}}, dose.facility_id)

    def edit_dose(self):
        actor, did = self._own(self.doses, lambda d: self.recipients[self.doses[d]])
        if actor is None:
            return self.create_recipient()
        lot = f"LOT-{self.rng.randrange(10**6)}"
        aefi = self.rng.choice(["none", "mild"])
        with self._in_request(actor):
            dose = db.session.get(Dose, did)
            old = {"lot_number": dose.lot_number, "aefi": dose.aefi}
            dose.lot_number, dose.aefi = lot, aefi
            db.session.commit()
            facility_id = dose.facility_id
        changes = {key: {"old": old[key], "new": new}
                   for key, new in (("lot_number", lot), ("aefi", aefi)) if old[key] != new}
        self.expect(actor, "dose", did, "update", changes, facility_id)

    def delete_dose(self):
        actor, did = self._own(self.doses, lambda d: self.recipients[self.doses[d]])
        if actor is None:
            return self.create_recipient()
        with self._in_request(actor):
            dose = db.session.get(Dose, did)
            lot, facility_id = dose.lot_number, dose.facility_id
            db.session.delete(dose)
            db.session.commit()
        del self.doses[did]
        self.expect(actor, "dose", did, "delete", {"lot_number": {"old": lot, "new": None}},
                    facility_id)

    # -- the facility tree and a handover (account events, by the admin) --
    def create_facility(self):
        code = f"W{self.step:04d}"
        with self._in_request(self.admin):
            parent = db.session.get(Facility, self.rng.choice(self.stations))
            facility = tree.add_facility(code, f"Điểm tiêm {code}", "vaccination_centre", parent)
            db.session.commit()
            fid, path = facility.id, facility.path
        self.facilities.append(fid)
        self.expect(self.admin, "facility", fid, "insert",
                    {"code": {"old": None, "new": code}}, fid)
        self.expect(self.admin, "facility", fid, "update",
                    {"path": {"old": "", "new": path}}, fid)

    def rename_facility(self):
        fid = self.rng.choice(self.facilities)
        name = f"Điểm tiêm đổi tên {self.step}"
        with self._in_request(self.admin):
            facility = db.session.get(Facility, fid)
            old = facility.name
            facility.name = name
            db.session.commit()
        self.expect(self.admin, "facility", fid, "update",
                    {"name": {"old": old, "new": name}}, fid)

    def delete_facility(self):
        fid = self.facilities.pop(self.rng.randrange(len(self.facilities)))
        with self._in_request(self.admin):
            facility = db.session.get(Facility, fid)
            code = facility.code
            db.session.delete(facility)
            db.session.commit()
        self.expect(self.admin, "facility", fid, "delete",
                    {"code": {"old": code, "new": None}}, fid)

    def hand_over(self):
        """P4.3a: another person now holds a nurse's account; later rows name them."""
        actor = self._nurse()
        account_id = actor["account"].id
        with self._in_request(self.admin):
            old = db.session.get(Account, account_id).current_custodian
            old.to_at = utcnow()
            new = Custodian(account_id=account_id, full_name=f"Người nhận {self.step}")
            db.session.add(new)
            db.session.commit()
            old_id, new_id, facility_id = old.id, new.id, actor["account"].facility_id
        self.expect(self.admin, "custodian", old_id, "update", None, facility_id)
        self.expect(self.admin, "custodian", new_id, "insert",
                    {"full_name": {"old": None, "new": f"Người nhận {self.step}"}}, facility_id)


def _custodian_id(account) -> int:
    """The person holding the account now (read without touching the session's objects)."""
    return db.session.scalar(
        sa.select(Custodian.id).where(Custodian.account_id == account.id,
                                      Custodian.to_at.is_(None))
        .order_by(Custodian.from_at.desc(), Custodian.id.desc()).limit(1))


def _key(row) -> tuple:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return get("request_id"), get("entity"), get("entity_id"), get("action")


@pytest.mark.parametrize("seed", [2021, 4])
def test_p2_4_random_workload_every_change_has_exactly_one_matching_row(
        app, factory, place, acting, session_of, seed):
    nurses = [factory.account("data_entry", place["s1"]), factory.account("data_entry",
              place["s1"]), factory.account("supervisor", place["d1"])]
    actors = [{"account": a, "session": session_of(a)} for a in nurses]
    admin_account = factory.account("admin", place["doh"])
    admin = {"account": admin_account, "session": session_of(admin_account)}
    work = Workload(random.Random(seed), acting, actors, [place["s1"].id, place["s2"].id],
                    admin)
    work.run(70)

    rows = [r for r in audit_rows() if (r.request_id or "").startswith("op-")
            and r.action in CRUD]
    actual: dict[tuple, list[AuditEvent]] = {}
    for row in rows:
        actual.setdefault(_key(row), []).append(row)
    expected_keys = [_key(e) for e in work.expected]
    assert len(expected_keys) == len(set(expected_keys))
    assert sorted(actual) == sorted(expected_keys), "rows missing or extra"
    for want in work.expected:
        (row,) = actual[_key(want)]  # exactly one
        for field in ("account_id", "custodian_id", "session_id", "actor", "facility_id"):
            assert getattr(row, field) == want[field], (field, want)
        assert row.ip == "10.0.0.7"
        assert row.category == ("data" if want["entity"] in ("recipient", "dose") else "account")
        for name, change in (want["changes"] or {}).items():
            assert row.changes[name] == change, (name, want)
        if want["action"] == "update" and want["changes"] is not None:
            assert row.changes == want["changes"]  # nothing else claimed to have changed
    with db.engine.connect() as conn:
        assert chain.verify(conn).ok


def test_p2_4_an_edit_through_the_web_form_names_account_person_session_request(
        app, factory, place, person):
    from tests.helpers import VaxClient, sign_in

    nurse = factory.account("data_entry", place["s1"], full_name="Phạm Thị Nhập")
    app.test_client_class = VaxClient
    client = app.test_client()
    user_session = sign_in(client, nurse)
    recipient = person("s1", occupation="Giáo viên")
    response = client.post(f"/recipients/{recipient.id}/edit",
                           data={"occupation": "Bác sĩ", "version_id": "1"},
                           headers={"X-Request-ID": "req-form-edit-0001"})
    assert response.status_code == 303
    (row,) = audit_rows(entity="recipient", entity_id=str(recipient.id), action="update")
    assert row.changes["occupation"] == {"old": "Giáo viên", "new": "Bác sĩ"}
    assert row.account_id == nurse.id and row.actor == f"account:{nurse.username}"
    assert row.custodian_id == nurse.current_custodian.id
    assert db.session.get(Custodian, row.custodian_id).full_name == "Phạm Thị Nhập"
    assert row.session_id == user_session.id
    assert row.request_id == "req-form-edit-0001"
    assert row.ip == "127.0.0.1"
    assert row.facility_id == place["s1"].id


def test_p2_4_an_edit_cannot_commit_without_its_audit_row(app, place, person, monkeypatch):
    recipient = person("s1", occupation="Giáo viên")

    def broken(conn, rows, **_options):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(chain, "append", broken)
    recipient.occupation = "Bác sĩ"
    with pytest.raises(RuntimeError):
        db.session.commit()
    db.session.rollback()
    monkeypatch.undo()
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).occupation == "Giáo viên"


def test_p2_4_the_audit_row_is_in_the_same_transaction_as_the_change(place, person):
    recipient = person("s1")
    before = len(audit_rows())
    recipient.occupation = "Bác sĩ"
    db.session.flush()
    db.session.rollback()  # the change goes, and its row with it
    assert len(audit_rows()) == before


def test_p2_4_secrets_appear_only_as_changed(factory, place):
    account = factory.account("data_entry", place["s1"])
    old_hash = account.password_hash
    account.password_hash = "scrypt$new-hash-value"
    account.totp_secret = "ENCRYPTED-TOTP-SECRET"
    db.session.commit()
    (insert,) = audit_rows(entity="account", entity_id=str(account.id), action="insert")
    (update,) = audit_rows(entity="account", entity_id=str(account.id), action="update")
    assert insert.changes["password_hash"] == "changed"
    assert update.changes["password_hash"] == "changed"
    assert update.changes["totp_secret"] == "changed"
    text = str(insert.changes) + str(update.changes)
    assert old_hash not in text and "new-hash-value" not in text and "TOTP-SECRET" not in text


def test_p2_4_dates_and_times_are_json_safe(place, person):
    recipient = person("s1", date_of_birth=date(1975, 12, 31))
    (row,) = audit_rows(entity="recipient", entity_id=str(recipient.id), action="insert")
    assert row.changes["date_of_birth"]["new"] == "1975-12-31"
    created = row.changes["created_at"]["new"]
    assert created.endswith("+00:00") and "T" in created


def test_p2_4_console_commands_are_recorded_as_the_console_and_os_user(runner, place):
    result = runner.invoke(args=["create-facility", "CLI1", "--name", "Trạm Console",
                                 "--kind", "commune_station", "--parent", "D1"])
    assert result.exit_code == 0, result.output
    facility = db.session.scalar(sa.select(Facility).where(Facility.code == "CLI1"))
    rows = audit_rows(entity="facility", entity_id=str(facility.id))
    assert [r.action for r in rows if r.action in CRUD] == ["insert", "update"]
    assert {r.actor for r in rows} == {f"console:{getpass.getuser()}"}
    assert {r.account_id for r in rows} == {None}


def test_p2_4_background_jobs_are_recorded_as_the_account_that_started_them(
        app, factory, place):
    from vaxportal.exports.runtime import acting_as

    nurse = factory.account("data_entry", place["s1"])
    with app.app_context(), acting_as(nurse):  # a job thread: no request, the job's actor
        recipient = new_recipient(place["s1"].id)
        db.session.commit()
        rid = recipient.id
    (row,) = audit_rows(entity="recipient", entity_id=str(rid), action="insert")
    assert row.actor == f"job:{nurse.username}"
    assert row.account_id == nurse.id
    assert row.custodian_id == nurse.current_custodian.id


def test_p2_4_a_job_may_name_its_account_directly(app, factory, place):
    from flask import g

    nurse = factory.account("data_entry", place["s1"])
    with app.app_context():
        g.audit_account = nurse.id
        recipient = new_recipient(place["s1"].id)
        db.session.commit()
        rid = recipient.id
    (row,) = audit_rows(entity="recipient", entity_id=str(rid), action="insert")
    assert row.account_id == nurse.id


def test_p2_4_models_outside_the_list_are_not_audited(factory, place):
    from vaxportal.auth.models import UserSession

    account = factory.account("data_entry", place["s1"])
    assert not audit_rows(entity="user_session")
    db.session.add(UserSession(token_hash="x" * 64, account_id=account.id))
    db.session.commit()
    assert not audit_rows(entity="user_session")


def test_p2_4_other_domains_mark_a_model_audited(app, place):
    """The registry the exports domain uses: ``audited(Model)``."""
    from vaxportal.audit import registry
    from vaxportal.exports.models import ExportJob

    assert registry.spec_for(ExportJob) is None
    before = registry.specs()
    try:
        registry.audited(ExportJob, category="data")
        job = ExportJob(account_id=_any_account(place).id, facility_id=place["s1"].id,
                        filter={}, description="d", scope="s", columns=[])
        db.session.add(job)
        db.session.commit()
        (row,) = audit_rows(entity="export_job", entity_id=job.id, action="insert")
        assert row.facility_id == place["s1"].id
    finally:
        registry._specs.clear()
        registry._specs.update(before)
        registry._tables.pop("export_job", None)


def _any_account(place):
    account = Account(username="exp-owner", role="data_entry", facility_id=place["s1"].id,
                      phone="+84900000999", password_hash="x")
    db.session.add(account)
    db.session.commit()
    return account
