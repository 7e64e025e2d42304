"""The world of the authorization matrix: two provinces, a principal of every role, and in
each scope one object for every URL converter of the app.

Own scope: province DOH-A → district D1 → station S1 (the data-entry principal's station, the
supervisor's district, the reviewer's province). Other scope: province DOH-B → district D2 →
station S2, outside the subtree of every principal. Admins (at the ministry) have no data
scope at all and manage the whole tree.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from tests.helpers import next_nid, read_outbox, sign_in, spreadsheet
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, UserSession
from vaxportal.exports.models import ExportJob, ImportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, PendingAction
from vaxportal.recipients.models import CrossLookup, Dose, DuplicateCandidate, Vaccine
from vaxportal.recipients.services import create_recipient
from vaxportal.timeutil import utcnow
from vaxportal.validators import local_today

ROLES = ("admin", "data_entry", "supervisor", "reviewer")
PRINCIPALS = ("anonymous", *ROLES)


@dataclass
class Principal:
    """One column of the matrix: a client and, when signed in, its account and session."""

    name: str
    client: object
    account: Account | None = None
    session_id: int | None = None
    sign_ins: int = 0

    @property
    def signed_in(self) -> bool:
        return self.account is not None

    def sign_in(self) -> None:
        row = sign_in(self.client, self.account)
        self.session_id = row.id
        self.sign_ins += 1

    def _row(self) -> UserSession:
        return db.session.get(UserSession, self.session_id)

    def ensure_signed_in(self) -> str | None:
        """A case that ended the session (sign out, or a page that drops the cookie) must not
        change the next case: sign in again when the cookie or its row is gone. Returns a
        problem when the cookie lost its token but the server-side row is still open (the
        user is told the session is over while a copy of the cookie still works)."""
        if not self.signed_in:
            return None
        with self.client.session_transaction() as sess:
            token = sess.get("sid")
        row = self._row()
        db.session.refresh(row)
        same = token is not None and hashlib.sha256(token.encode()).hexdigest() == row.token_hash
        problem = None
        if not same and row.ended_at is None:
            problem = "the cookie was dropped but its session row is still open"
        if not same or row.ended_at is not None:
            self.sign_in()
        return problem

    def set_fresh(self, fresh: bool) -> None:
        """A recent OTP (within STEP_UP_WINDOW_SECONDS) or none: the step-up state."""
        row = self._row()
        row.step_up_at = utcnow() if fresh else None
        db.session.commit()


@dataclass
class Scope:
    """The objects of one scope, one per URL converter (and per kind of job)."""

    facility: object
    recipient: object
    dose: object
    candidate: object
    account: Account
    delegation: Delegation
    data_event: int
    names: list[str] = field(default_factory=list)
    #: delegations to this scope's facility waiting for its own account's approval (P2.1):
    #: one to approve, one to refuse
    pending: object = None
    pending_spare: object = None


@dataclass
class World:
    principals: dict[str, Principal]
    own: Scope
    other: Scope
    security_event: int
    #: per account id: {"export": id, "export_spare": id, "export_done": id, "import": id,
    #: "import_confirm": id, "import_discard": id, "lookup": token}
    holdings: dict[int, dict[str, str]]
    other_account: Account


def upload(client, facility_id: int, tag: str) -> str:
    """An import through the page (its dry run runs at once): one valid row, one bad row, so
    the job has a report."""
    data = spreadsheet([
        {"full_name": f"Đỗ Thị Nhập {tag}", "date_of_birth": "02/03/1990", "gender": "Nữ",
         "national_id": next_nid()},
        {"full_name": "", "date_of_birth": "not a date", "gender": "?"},
    ])
    response = client.post("/exports/import", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), f"{tag}.xlsx"),
                                 "facility_id": str(facility_id)})
    assert response.status_code == 303, response.get_data(as_text=True)
    job_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert db.session.get(ImportJob, job_id).status == JobStatus.checked
    return job_id


def request_export(client) -> str:
    response = client.post("/exports/new", data={"s": ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def _finished_export(app, client) -> str:
    job_id = request_export(client)
    ref = job_id[:8].upper()
    code = [m for m in read_outbox(app) if ref in m["body"]][-1]["secret"]
    response = client.post(f"/exports/{job_id}/confirm", data={"code": code})
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ExportJob, job_id).status == JobStatus.done
    return job_id


def holdings_of(app, principal: Principal, own_recipient, *, imports: bool = True,
              exports: bool = True) -> dict[str, str]:
    """Export and import jobs and a look-up grant of one account, made through its pages
    (except the grant: a row, as the look-up page would leave it)."""
    client, account = principal.client, principal.account
    held: dict[str, str] = {}
    if exports:
        held["export_done"] = _finished_export(app, client)
        held["export"] = request_export(client)
        held["export_spare"] = request_export(client)
    if imports:
        for key in ("import", "import_confirm", "import_discard"):
            held[key] = upload(client, account.facility_id, f"{account.username}-{key}")
    token = secrets.token_urlsafe(16)
    db.session.add(CrossLookup(id=token, account_id=account.id, recipient_id=own_recipient.id,
                               reason="Tiêm mũi nhắc"))
    db.session.commit()
    held["lookup"] = token
    return held


def scope_of(factory, facility, tag: str, support) -> Scope:
    name = f"Trần Văn Riêng {tag}"
    twin = f"Lê Thị Song {tag}"
    first = create_recipient({"full_name": name, "date_of_birth": date(1980, 9, 5),
                              "gender": "male", "national_id": next_nid()}, facility.id)
    second = create_recipient({"full_name": twin, "date_of_birth": date(1975, 1, 2),
                               "gender": "female", "national_id": next_nid()}, facility.id)
    third = create_recipient({"full_name": twin, "date_of_birth": date(1975, 1, 2),
                              "gender": "female", "national_id": next_nid()}, facility.id)
    vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == "AZ"))
    dose = Dose(recipient_id=first.id, facility_id=facility.id, vaccine_id=vaccine.id,
                lot_number="AZ-1", dose_number=1, given_on=date(2021, 6, 1),
                vaccinator="Lê Thị Tiêm")
    candidate = DuplicateCandidate(recipient_id=third.id, other_id=second.id,
                                   facility_id=facility.id)
    delegation = Delegation(account_id=support.id, facility_id=facility.id,
                            starts_on=local_today(), ends_on=local_today() + timedelta(days=9),
                            request_ref=f"12/{tag}", request_date=local_today(),
                            reason="Hỗ trợ nhập liệu")
    db.session.add_all([dose, candidate, delegation])
    db.session.commit()
    account = factory.account("data_entry", facility, username=f"target.{tag.lower()}",
                              full_name=f"Người Giữ {tag}")
    data_event = db.session.scalar(
        sa.select(AuditEvent.id).where(AuditEvent.entity == "recipient",
                                       AuditEvent.entity_id == str(first.id),
                                       AuditEvent.category == "data"))
    assert data_event is not None
    pending, spare = (PendingAction(kind="delegate", account_id=support.id,
                                    facility_id=facility.id, requested_by_id=support.id,
                                    ref_number=f"13/{tag}", ref_date=local_today(),
                                    reason="Hỗ trợ nhập liệu cho trạm",
                                    params={"starts_on": local_today().isoformat(),
                                            "ends_on": local_today().isoformat()})
                      for _n in range(2))
    db.session.add_all([pending, spare])
    db.session.commit()
    return Scope(facility=facility, recipient=first, dose=dose, candidate=candidate,
                 account=account, delegation=delegation, data_event=data_event,
                 names=[name, twin, first.national_id, second.national_id],
                 pending=pending, pending_spare=spare)


def session_of(account: Account) -> UserSession:
    return db.session.scalar(sa.select(UserSession).where(UserSession.account_id == account.id)
                             .order_by(UserSession.id.desc()).limit(1))
