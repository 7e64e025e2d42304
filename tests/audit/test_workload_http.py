"""P2.4 through the app: a seeded random workload of real form POSTs (register, edit details,
edit identity, record, correct and delete doses; plus refused stale saves) by two data-entry
nurses at two stations and a district supervisor. Every change must have exactly one data
row in the audit trail naming the right account, the person holding it at that moment (a
custodian hand-over happens mid-run) and the old/new values; nothing else may be written."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import fresh_otp, hidden_inputs, html
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Custodian
from vaxportal.extensions import db
from vaxportal.recipients.forms import DETAIL_FIELDS, IDENTITY_FORM_FIELDS
from vaxportal.recipients.models import Dose, Vaccine
from vaxportal.text import fold
from vaxportal.timeutil import utcnow

STEPS = 25
#: columns an insert/delete row may carry besides the ones the form set
BOOKKEEPING = {"id", "created_at"}

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Đức"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Khoa", "Lan", "Mai", "Nam", "Phúc",
         "Quân", "Sơn", "Tâm", "Thảo", "Uyên", "Vy", "Yến"]
OCCUPATIONS = ["Giáo viên", "Nông dân", "Công nhân", "Bác sĩ", "Buôn bán", ""]
# coded fields (recipients.codes): Kinh, Khơ-me, Hoa, Chăm; Việt Nam, Campuchia; groups of
# the resolution; wards of An Giang (91)
ETHNICITIES = ["01", "05", "04", "17", ""]
NATIONALITIES = ["VN", "KH", ""]
PRIORITY = ["N01", "N03", "N05", "N09", ""]
WARDS = ["30292", "30316", "30301", "30325", ""]
STREETS = ["12 Trần Hưng Đạo", "5 Lê Lợi", "Ấp Hoà Long", "88 Nguyễn Trãi", ""]
PHONE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098"]
VACCINATORS = ["Lê Thị Tiêm", "Phan Văn Kim", "Đỗ Thị Hoa"]


@dataclass
class Expected:
    request_id: str
    entity: str
    entity_id: str
    action: str
    account_id: int
    custodian_id: int
    facility_id: int
    changes: dict | None = None  # field -> {"old", "new"} (JSON form)
    exact: bool = True  # changes must equal (update) or cover the row's (insert/delete)
    details: dict | None = None

    @property
    def key(self) -> tuple:
        return self.request_id, self.entity, self.entity_id, self.action


@dataclass
class Actor:
    name: str
    client: object
    write: set[int]  # facility ids it may write to
    register_at: list[int]


@dataclass
class Workload:
    rng: random.Random
    seed: int
    actors: list[Actor]
    vaccine_ids: list[int]
    recipients: dict[int, dict] = field(default_factory=dict)  # id -> stored (JSON form)
    doses: dict[int, dict] = field(default_factory=dict)
    expected: list[Expected] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # request ids that must write nothing
    done: defaultdict = field(default_factory=lambda: defaultdict(int))
    used_ids: set = field(default_factory=set)
    used_people: set = field(default_factory=set)
    step: int = 0

    # -- plumbing -------------------------------------------------------------------------

    @property
    def request_id(self) -> str:
        return f"wl-{self.seed:05d}-{self.step:03d}"

    def post(self, actor: Actor, url: str, data: dict, status: int = 303):
        response = actor.client.post(url, data=data, headers={"X-Request-ID": self.request_id})
        assert response.status_code == status, (self.step, url, html(response)[:2000])
        return response

    def form(self, actor: Actor, url: str) -> dict:
        response = actor.client.get(url)
        assert response.status_code == 200, url
        return hidden_inputs(html(response))

    def expect(self, actor: Actor, entity: str, entity_id, action: str, facility_id: int,
               changes: dict | None, exact: bool = True, details: dict | None = None) -> None:
        self.expected.append(Expected(
            self.request_id, entity, str(entity_id), action, actor.client.account.id,
            current_custodian_id(actor.client.account.id), facility_id, changes, exact, details))

    # -- random values --------------------------------------------------------------------

    def pick(self, options: list, current=None):
        choices = [o for o in options if (o or None) != current]
        return self.rng.choice(choices) or None

    def national_id(self) -> str:
        while True:
            value = f"0{self.rng.randint(1, 96):02d}{self.rng.randint(0, 10**9 - 1):09d}"
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def phone(self) -> str:
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randint(0, 10**7 - 1):07d}"

    def person(self, gender: str, dob: str) -> str:
        """A name no other recipient shares with this birth date and gender (no duplicate
        candidate rows: those are covered elsewhere)."""
        while True:
            middle = "Thị" if gender == "female" else self.rng.choice(MIDDLE)
            name = f"{self.rng.choice(SURNAMES)} {middle} {self.rng.choice(GIVEN)}"
            if (fold(name), dob, gender) not in self.used_people:
                self.used_people.add((fold(name), dob, gender))
                return name

    def dose_date(self) -> str:
        return (date(2021, 3, 1) + timedelta(days=self.rng.randint(0, 900))).isoformat()

    # -- operations -----------------------------------------------------------------------

    def register(self, actor: Actor) -> None:
        gender = self.rng.choice(["male", "female", "other"])
        dob = (date(1940, 1, 1) + timedelta(days=self.rng.randint(0, 23_000))).isoformat()
        phone = self.phone() if self.rng.random() < 0.7 else None
        insurance = (f"GD{self.rng.randint(1, 5)}{self.rng.randint(0, 10**12 - 1):012d}"
                     if self.rng.random() < 0.5 else None)
        stored = {
            "full_name": self.person(gender, dob), "date_of_birth": dob, "gender": gender,
            "national_id": self.national_id(), "insurance_number": insurance,
            "phone": phone and "+84" + phone[1:], "occupation": self.pick(OCCUPATIONS),
            "ethnicity": self.pick(ETHNICITIES), "nationality": "VN",
            "priority_group": self.pick(PRIORITY), "province": "91", "district": None,
            "ward": self.pick(WARDS), "street": self.pick(STREETS),
        }
        facility_id = self.rng.choice(actor.register_at)
        data = self.form(actor, "/recipients/new") | typed_recipient(stored)
        if insurance:
            data["insurance_number"] = insurance.lower()  # stored upper-case
        data["facility_id"] = str(facility_id)
        response = self.post(actor, "/recipients/new", data)
        recipient_id = int(re.search(r"/recipients/(\d+)$", response.headers["Location"])[1])
        stored["facility_id"] = facility_id
        self.recipients[recipient_id] = stored
        self.expect(actor, "recipient", recipient_id, "insert", facility_id,
                    {k: {"old": None, "new": v} for k, v in stored.items() if v is not None})

    def edit_details(self, actor: Actor, recipient_id: int) -> None:
        stored = self.recipients[recipient_id]
        lists = dict(zip(DETAIL_FIELDS, (OCCUPATIONS, ETHNICITIES, NATIONALITIES, PRIORITY),
                         strict=True))
        new = {k: self.pick(lists[k], stored[k])
               for k in self.rng.sample(DETAIL_FIELDS, self.rng.randint(1, 2))}
        self.save_recipient(actor, recipient_id, f"/recipients/{recipient_id}/edit",
                            f"/recipients/{recipient_id}/edit", DETAIL_FIELDS, new)

    def edit_identity(self, actor: Actor, recipient_id: int) -> None:
        stored = self.recipients[recipient_id]
        new = {}
        for key in self.rng.sample(["full_name", "phone", "national_id", "insurance_number",
                                    "ward", "street"], self.rng.randint(1, 3)):
            if key == "full_name":
                new[key] = self.person(stored["gender"], stored["date_of_birth"])
            elif key == "phone":
                new[key] = "+84" + self.phone()[1:]
            elif key == "national_id":
                new[key] = self.national_id()
            elif key == "insurance_number":
                new[key] = f"HC{self.rng.randint(1, 5)}{self.rng.randint(0, 10**12 - 1):012d}"
            else:
                new[key] = self.pick(WARDS if key == "ward" else STREETS, stored[key])
        url = f"/recipients/{recipient_id}/identity"
        self.save_recipient(actor, recipient_id, url, url, IDENTITY_FORM_FIELDS, new)

    def save_recipient(self, actor, recipient_id, page, action, fields, new: dict) -> None:
        stored = self.recipients[recipient_id]
        after = stored | new
        data = self.form(actor, page) | typed_recipient({k: after[k] for k in fields})
        self.post(actor, action, data)
        changes = {k: {"old": stored[k], "new": v} for k, v in new.items() if v != stored[k]}
        assert changes  # every edit changes something
        stored.update(new)
        self.expect(actor, "recipient", recipient_id, "update", stored["facility_id"], changes)

    def stale_edit(self, actor: Actor, recipient_id: int) -> None:
        """A save carrying an outdated version is refused (409): nothing written."""
        stored = self.recipients[recipient_id]
        data = self.form(actor, f"/recipients/{recipient_id}/edit")
        data |= typed_recipient({k: stored[k] for k in DETAIL_FIELDS})
        data["occupation"] = "Thợ may"
        data["version_id"] = str(int(data["version_id"]) + 1)
        self.post(actor, f"/recipients/{recipient_id}/edit", data, status=409)
        self.refused.append(self.request_id)

    def record_dose(self, actor: Actor, recipient_id: int) -> None:
        recipient = self.recipients[recipient_id]
        data = self.form(actor, f"/recipients/{recipient_id}/doses/new")
        number = 1 + sum(1 for d in self.doses.values() if d["recipient_id"] == recipient_id)
        stored = {"recipient_id": recipient_id, "facility_id": recipient["facility_id"],
                  "entry_token": data["entry_token"], **self.dose_values(min(number, 10))}
        data |= typed_dose(stored) | {"confirm_interval": "1"}
        self.post(actor, f"/recipients/{recipient_id}/doses", data)
        dose_id = db.session.scalar(sa.select(Dose.id).where(
            Dose.entry_token == data["entry_token"]))
        self.doses[dose_id] = stored
        self.expect(actor, "dose", dose_id, "insert", stored["facility_id"],
                    {k: {"old": None, "new": v} for k, v in stored.items() if v is not None})

    def dose_values(self, number: int, current: dict | None = None) -> dict:
        reaction = self.rng.random() < 0.25
        values = {
            "vaccine_id": self.rng.choice(self.vaccine_ids), "dose_number": number,
            "given_on": self.dose_date(),
            "lot_number": f"L{self.step:03d}-{self.rng.randint(1, 999)}",
            "vaccinator": self.rng.choice(VACCINATORS), "aefi": "mild" if reaction else "none",
            "aefi_note": "Sốt nhẹ sau tiêm" if reaction else None,
        }
        if current is not None:  # a correction: change the lot and a few others
            keep = self.rng.sample(["vaccine_id", "given_on", "vaccinator", "aefi"], 2)
            for key in keep:
                values[key] = current[key]
                if key == "aefi":
                    values["aefi_note"] = current["aefi_note"]
            values["dose_number"] = current["dose_number"]
        return values

    def correct_dose(self, actor: Actor, dose_id: int) -> None:
        stored = self.doses[dose_id]
        new = self.dose_values(stored["dose_number"], stored)
        reason = f"Nhập nhầm số lô (bước {self.step})"
        data = self.form(actor, f"/recipients/doses/{dose_id}/edit")
        data |= typed_dose(new) | {"reason": reason}
        self.post(actor, f"/recipients/doses/{dose_id}/edit", data)
        changes = {k: {"old": stored[k], "new": v} for k, v in new.items() if v != stored[k]}
        stored.update(new)
        self.expect(actor, "dose", dose_id, "update", stored["facility_id"], changes)
        self.expect(actor, "dose", dose_id, "dose_correct", stored["facility_id"], None,
                    details={"reason": reason, "recipient_id": stored["recipient_id"]})

    def delete_dose(self, actor: Actor, dose_id: int) -> None:
        stored = self.doses.pop(dose_id)
        reason = f"Ghi trùng mũi tiêm (bước {self.step})"
        data = self.form(actor, f"/recipients/doses/{dose_id}/delete") | {"reason": reason}
        self.post(actor, f"/recipients/doses/{dose_id}/delete", data)
        self.expect(actor, "dose", dose_id, "delete", stored["facility_id"],
                    {k: {"old": v, "new": None} for k, v in stored.items() if v is not None})
        self.expect(actor, "dose", dose_id, "dose_delete", stored["facility_id"], None,
                    details={"reason": reason, "recipient_id": stored["recipient_id"]})

    # -- the run --------------------------------------------------------------------------

    def run(self, steps: int, hand_over) -> None:
        for step in range(steps):
            self.step = step
            if self.step == steps // 2:
                hand_over(self.rng.choice([a for a in self.actors if a.name != "sup"]))
            actor = self.rng.choice(self.actors)
            people = [i for i, r in self.recipients.items() if r["facility_id"] in actor.write]
            doses = [i for i, d in self.doses.items() if d["facility_id"] in actor.write]
            ops = [("register", None)] * (3 if len(people) < 2 else 1)
            if people:
                ops += [(op, people) for op in ("edit_details", "edit_identity", "record_dose",
                                                "record_dose", "record_dose", "stale_edit")]
            if doses:
                ops += [(op, doses) for op in ("correct_dose", "delete_dose")]
            op, targets = self.rng.choice(ops)
            args = (self.rng.choice(targets),) if targets else ()
            getattr(self, op)(actor, *args)
            self.done[op] += 1


def typed_recipient(stored: dict) -> dict:
    """Stored values as a person types them in the form."""
    out = {}
    for key, value in stored.items():
        if key == "date_of_birth":
            value = date.fromisoformat(value).strftime("%d/%m/%Y")
        elif key == "phone" and value:
            local = "0" + value[3:]
            value = f"{local[:4]} {local[4:7]} {local[7:]}"
        out[key] = value or ""
    return out


def typed_dose(stored: dict) -> dict:
    out = {k: str(stored[k]) for k in ("vaccine_id", "dose_number", "lot_number", "vaccinator",
                                         "aefi")}
    out["given_on"] = date.fromisoformat(stored["given_on"]).strftime("%d/%m/%Y")
    out["aefi_note"] = stored["aefi_note"] or ""
    return out


def current_custodian_id(account_id: int) -> int:
    return db.session.scalar(
        sa.select(Custodian.id).where(Custodian.account_id == account_id,
                                      Custodian.to_at.is_(None))
        .order_by(Custodian.from_at.desc(), Custodian.id.desc()).limit(1))


@pytest.fixture
def hand_over(app):
    """P4.3a: another person takes over an account (as the admin pages do, without them):
    the rows written afterwards must name the new holder."""
    handed = []

    def do(actor: Actor) -> None:
        account_id = actor.client.account.id
        old = db.session.get(Custodian, current_custodian_id(account_id))
        old.to_at = utcnow()
        db.session.add(Custodian(account_id=account_id, full_name="Người nhận bàn giao"))
        db.session.commit()
        assert current_custodian_id(account_id) != old.id
        handed.append((account_id, old.id))

    do.handed = handed
    return do


@pytest.mark.parametrize("seed", [3, 2024, 90210])
def test_p2_4_random_http_workload_every_change_has_exactly_one_matching_row(
        app, factory, signed_in, runner, hand_over, seed):
    place = factory.place()
    nurse_a = signed_in("data_entry", facility=place["s1"])
    nurse_b = signed_in("data_entry", facility=place["s2"])
    sup = signed_in("supervisor", facility=place["d1"])
    for client in (nurse_a, nurse_b, sup):
        fresh_otp(client)  # P3.4: identity edits and dose corrections/deletions
    s1, s1b, s2 = place["s1"].id, place["s1b"].id, place["s2"].id
    actors = [Actor("a", nurse_a, {s1}, [s1]), Actor("b", nurse_b, {s2}, [s2]),
              Actor("sup", sup, {s1, s1b}, [s1, s1b])]
    vaccine_ids = list(db.session.scalars(
        sa.select(Vaccine.id).where(Vaccine.active.is_(True)).order_by(Vaccine.id)))
    baseline = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0

    work = Workload(random.Random(seed), seed, actors, vaccine_ids)
    work.run(STEPS, hand_over)
    # the workload exercised every kind of change (a seed that does not fails here)
    assert {"register", "edit_details", "edit_identity", "record_dose", "correct_dose",
            "delete_dose"} <= set(work.done), dict(work.done)
    assert hand_over.handed

    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.id > baseline, AuditEvent.category == "data").order_by(AuditEvent.id)))
    # the lot register follows the doses in the same transaction: each of its rows belongs
    # to a request that recorded or corrected a dose, by the same account
    dose_requests = {want.request_id: want.account_id for want in work.expected
                     if want.entity == "dose"}
    lot_rows = [row for row in rows if row.entity == "dose_lot"]
    assert all(dose_requests.get(row.request_id) == row.account_id for row in lot_rows)
    actual: dict[tuple, list[AuditEvent]] = defaultdict(list)
    for row in rows:
        if row.entity != "dose_lot":
            actual[(row.request_id, row.entity, row.entity_id, row.action)].append(row)
    expected = {want.key: want for want in work.expected}
    assert len(expected) == len(work.expected)
    assert not set(actual) - set(expected), "unexpected data rows"
    assert not set(expected) - set(actual), "changes without their audit row"
    assert not {key[0] for key in actual} & set(work.refused), "a refused save was written"

    handed_after = {account_id for account_id, _old in hand_over.handed}
    for key, want in expected.items():
        (row,) = actual[key]  # exactly one
        assert (row.account_id, row.custodian_id, row.facility_id) == (
            want.account_id, want.custodian_id, want.facility_id), key
        username = next(a.client.account.username for a in actors
                        if a.client.account.id == want.account_id)
        assert row.actor == f"account:{username}"
        if want.details is not None:
            assert row.details == want.details, key
        if want.changes is None:
            continue
        if want.action == "update":
            assert row.changes == want.changes, key
        else:  # insert/delete: every value set, nothing but bookkeeping besides
            for name, change in want.changes.items():
                assert row.changes.get(name) == change, (key, name)
            assert set(row.changes) - set(want.changes) <= BOOKKEEPING, key
    # rows after the hand-over name the new holder, not the old one
    olds = {old for _account, old in hand_over.handed}
    later = [w for w in work.expected if w.account_id in handed_after
             and w.request_id >= f"wl-{seed:05d}-{STEPS // 2:03d}"]
    assert all(w.custodian_id not in olds for w in later)

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
