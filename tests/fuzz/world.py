"""A small province to fuzz in, built once per fuzzed form, and what each example needs of
its own: a new account signed in (so no lock-out, password or authenticator change of one
example leaks into the next), fresh objects to act on, the rate limits reset."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from datetime import date, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from tests.helpers import CHEAP_METHOD, PASSWORD, VaxClient, read_outbox
from vaxportal.auth import otp, totp
from vaxportal.auth.models import Account, AccountStatus, Custodian, UserSession
from vaxportal.extensions import db, limiter
from vaxportal.facilities import tree
from vaxportal.facilities.models import Delegation, Facility
from vaxportal.recipients.models import Dose, DuplicateCandidate, Recipient, Vaccine
from vaxportal.recipients.services import create_recipient
from vaxportal.recipients.vaccines import seed_vaccines
from vaxportal.timeutil import utcnow

#: passwords are hashed cheaply here, as in every test (tests/fixtures.py, cheap_passwords)
CHEAP_HASH = generate_password_hash(PASSWORD, CHEAP_METHOD)

_seq = itertools.count(1)


class World:
    """MIN (ministry IT, admins) → DOH → D1 → S1, S1B; DOH → D2 → S2; DOH → VT (support
    unit). The vaccine catalogue; a recipient with a dose at S1, another at S2."""

    def __init__(self, app) -> None:
        self.app = app
        app.test_client_class = VaxClient
        f = {}
        f["MIN"] = tree.add_facility("MIN", "Cục Công nghệ thông tin", "ministry")
        f["DOH"] = tree.add_facility("DOH", "Sở Y tế An Giang", "provincial_doh", f["MIN"])
        f["D1"] = tree.add_facility("D1", "TTYT Long Xuyên", "district_health_centre", f["DOH"])
        f["D2"] = tree.add_facility("D2", "TTYT Châu Đốc", "district_health_centre", f["DOH"])
        f["S1"] = tree.add_facility("S1", "Trạm Y tế Mỹ Bình", "commune_station", f["D1"])
        f["S1B"] = tree.add_facility("S1B", "Trạm Y tế Mỹ Long", "commune_station", f["D1"])
        f["S2"] = tree.add_facility("S2", "Trạm Y tế Vĩnh Mỹ", "commune_station", f["D2"])
        f["VT"] = tree.add_facility("VT", "Viettel An Giang", "support_unit", f["DOH"])
        seed_vaccines()
        db.session.commit()
        self.facility_ids = {code: facility.id for code, facility in f.items()}
        self.recipient_id = self.recipient("S1", full_name="Lê Văn Giữ S1").id
        self.dose(self.recipient_id)
        self.far_recipient = self.recipient("S2", full_name="Phạm Thị Xa")

    # -- per example ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the previous example's requests: rate-limit counters and cached rows."""
        db.session.rollback()
        db.session.expire_all()
        limiter.reset()

    def unique(self) -> int:
        return next(_seq)

    def facility(self, code: str) -> Facility:
        return db.session.get(Facility, self.facility_ids[code])

    def new_facility(self, kind: str = "commune_station", parent: str = "D1") -> Facility:
        n = next(_seq)
        facility = tree.add_facility(f"FZ{n:05d}", f"Trạm Thử {n}", kind, self.facility(parent))
        db.session.commit()
        return facility

    def account(self, role: str = "data_entry", facility: str | Facility = "S1",
                **fields) -> Account:
        n = next(_seq)
        if isinstance(facility, str):
            facility = self.facility(facility)
        values = {"username": f"fz{n}", "role": role, "facility_id": facility.id,
                  "phone": f"+8491{n:07d}", "status": AccountStatus.active,
                  "password_hash": CHEAP_HASH, "must_change_password": False,
                  "phone_verified_at": utcnow()}
        values.update(fields)
        account = Account(**values)
        db.session.add(account)
        db.session.add(Custodian(account=account, full_name="Nguyễn Thị Thử", unit=facility.name,
                                 phone=account.phone))
        db.session.commit()
        return account

    def client(self, account: Account | None = None, *, fresh: bool = True) -> VaxClient:
        """A new browser; signed in as ``account`` (past the OTP, and fresh for step-up
        when ``fresh``) unless None."""
        client = self.app.test_client()
        client.account = account
        if account is not None:
            token = secrets.token_urlsafe(32)
            now = utcnow()
            db.session.add(UserSession(
                token_hash=hashlib.sha256(token.encode()).hexdigest(), account_id=account.id,
                stage="full", otp_verified_at=now, step_up_at=now if fresh else None,
                custodian_id=account.current_custodian.id))
            db.session.commit()
            with client.session_transaction() as sess:
                sess["sid"] = token
        return client

    def other_session(self, account: Account) -> None:
        db.session.add(UserSession(token_hash=secrets.token_hex(32), account_id=account.id,
                                   stage="full", otp_verified_at=utcnow(),
                                   user_agent="Mozilla/5.0 (Windows NT 10.0) Firefox/115.0"))
        db.session.commit()

    def enrol_totp(self, account: Account) -> None:
        account.totp_secret = totp.encrypt(otp.new_totp_secret())
        db.session.commit()

    # -- data ------------------------------------------------------------------------------

    def recipient(self, facility: str = "S1", **fields) -> Recipient:
        n = next(_seq)
        values = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                  "gender": "male", "national_id": f"0890{n:08d}"}
        values.update(fields)
        recipient = create_recipient(values, self.facility_ids[facility])
        db.session.commit()
        return recipient

    def dose(self, recipient_id: int, facility: str = "S1") -> Dose:
        vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == "AZ"))
        dose = Dose(recipient_id=recipient_id, facility_id=self.facility_ids[facility],
                    vaccine_id=vaccine.id, lot_number="AZ-1", dose_number=1,
                    given_on=date(2021, 6, 1), vaccinator="Lê Thị Tiêm")
        db.session.add(dose)
        db.session.commit()
        return dose

    def duplicate_pair(self) -> DuplicateCandidate:
        """A new open pair at S1 (older open pairs closed, so this one is on the first page)."""
        db.session.execute(sa.update(DuplicateCandidate)
                           .where(DuplicateCandidate.status == "open")
                           .values(status="distinct"))
        first = self.recipient("S1", full_name="Lê Văn Trùng")
        second = self.recipient("S1", full_name="Lê Văn Trùng")
        self.dose(first.id)
        pair = DuplicateCandidate(recipient_id=second.id, other_id=first.id,
                                  facility_id=first.facility_id)
        db.session.add(pair)
        db.session.commit()
        return pair

    def delegation(self, account: Account) -> Delegation:
        today = date.today()
        delegation = Delegation(
            account_id=account.id, facility_id=self.facility_ids["S2"],
            starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=30),
            request_ref="12/SYT", request_date=today - timedelta(days=2),
            reason="Hỗ trợ nhập liệu")
        db.session.add(delegation)
        db.session.commit()
        return delegation

    # -- codes sent by SMS -----------------------------------------------------------------

    def last_secret(self, account: Account, kinds: tuple[str, ...] = (), text: str = "") -> str:
        """The secret of the newest SMS to ``account`` (of ``kinds``, naming ``text``)."""
        found = [m for m in read_outbox(self.app)
                 if m.get("to") == account.phone and (not kinds or m.get("kind") in kinds)
                 and text in m.get("body", "")]
        return found[-1]["secret"] if found else "000000"
