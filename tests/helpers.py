"""Test helpers: a client that sends the CSRF token like a browser, and data factories."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from vaxportal.auth.models import Account, AccountStatus, Custodian, UserSession
from vaxportal.auth.passwords import hash_password
from vaxportal.extensions import db
from vaxportal.facilities import tree
from vaxportal.facilities.models import Facility
from vaxportal.recipients.vaccines import seed_vaccines
from vaxportal.timeutil import utcnow
from vaxportal.validators import format_date_vn, local_today

PASSWORD = "Tiem-Chung#Xa9Ph"
_seq = itertools.count(1)
#: a written request's date recent enough for WRITTEN_REQUEST_MAX_AGE_DAYS (dd/mm/yyyy)
RECENT_DATE = local_today() - timedelta(days=7)
RECENT = format_date_vn(RECENT_DATE)


class VaxClient(FlaskClient):
    """Sends the CSRF token in the X-CSRFToken header, as the app's JavaScript does, unless
    ``csrf=False`` is passed (to prove that a POST without it is refused)."""

    def csrf_token(self) -> str:
        with self.session_transaction() as sess:
            raw = sess.setdefault("csrf_token", secrets.token_hex(20))
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def open(self, *args, csrf: bool = True, **kwargs):
        method = kwargs.get("method", "GET").upper()
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def hx(self, method: str, url: str, **kwargs):
        """A request as htmx sends it."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers["HX-Request"] = "true"
        return self.open(url, method=method.upper(), headers=headers, **kwargs)


class Factory:
    #: the small province most suites test in: (key, code, kind, parent key, name)
    PROVINCE = (
        ("min", "MIN", "ministry", None, "Cục Công nghệ thông tin"),
        ("doh", "DOH", "provincial_doh", "min", "Sở Y tế An Giang"),
        ("d1", "D1", "district_health_centre", "doh", "TTYT Long Xuyên"),
        ("d2", "D2", "district_health_centre", "doh", "TTYT Châu Đốc"),
        ("s1", "S1", "commune_station", "d1", "Trạm Y tế Mỹ Bình"),
        ("s1b", "S1B", "commune_station", "d1", "Trạm Y tế Mỹ Long"),
        ("s2", "S2", "commune_station", "d2", "Trạm Y tế Vĩnh Mỹ"),
    )

    def __init__(self, app):
        self.app = app

    def place(self, *, ministry: bool = False, vaccines: bool = True) -> dict[str, Facility]:
        """MIN (the ministry's IT department, with ``ministry=True``) → DOH → D1 → S1, S1B;
        DOH → D2 → S2; and the vaccine catalogue. Keys as in ``PROVINCE``."""
        made: dict[str, Facility] = {}
        for key, code, kind, parent, name in self.PROVINCE:
            if key != "min" or ministry:
                made[key] = self.facility(code, kind, parent=made.get(parent), name=name)
        if vaccines:
            seed_vaccines()
            db.session.commit()
        return made

    def facility(self, code: str | None = None, kind: str = "commune_station",
                 parent: Facility | None = None, name: str | None = None) -> Facility:
        n = next(_seq)
        facility = tree.add_facility(code or f"F{n:05d}", name or f"Cơ sở {n}", kind, parent)
        db.session.commit()
        return facility

    def account(self, role: str = "data_entry", facility: Facility | None = None,
                username: str | None = None, password: str = PASSWORD,
                status: str = AccountStatus.active, phone: str | None = None,
                must_change_password: bool = False, full_name: str = "Nguyễn Thị Thử") -> Account:
        n = next(_seq)
        facility = facility or self.facility()
        account = Account(
            username=username or f"user{n}", role=role, facility_id=facility.id,
            phone=phone or f"+8490{n:07d}", status=status,
            password_hash=hash_password(password), must_change_password=must_change_password,
            phone_verified_at=utcnow(),
        )
        db.session.add(account)
        db.session.add(Custodian(account=account, full_name=full_name, unit=facility.name,
                                 phone=account.phone))
        db.session.commit()
        return account


def sign_in(client: FlaskClient, account: Account) -> UserSession:
    """Open a full server-side session for ``account`` without the forms (a shortcut for
    tests that are not about signing in; the auth tests go through the real pages)."""
    token = secrets.token_urlsafe(32)
    row = UserSession(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                      account_id=account.id, stage="full", otp_verified_at=utcnow(),
                      custodian_id=account.current_custodian.id)
    db.session.add(row)
    db.session.commit()
    with client.session_transaction() as sess:
        sess["sid"] = token
    return row


def read_outbox(app) -> list[dict]:
    backend = app.config["SMS_BACKEND"]
    path = Path(backend.split(":", 1)[1])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def form_values(html: str, name: str) -> list[str]:
    """Values of inputs named ``name`` in an HTML page."""
    pattern = rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"'
    return re.findall(pattern, html)


# -- two people for access (P2.1) ---------------------------------------------------------------


def approve_pending(app) -> list:
    """The second person approves every open account request, as the approvals page does:
    another admin for issues, hand-overs and role or phone changes; for a delegation the
    delegated facility's own account (made when the facility has none). For tests about
    what an action does, not about its approval (tests/attacks/test_admin_reach.py)."""
    from vaxportal.facilities.models import PendingAction

    db.session.expire_all()
    pending = db.session.scalars(sa.select(PendingAction).where(
        PendingAction.status == "pending").order_by(PendingAction.id)).all()
    responses = []
    for action in pending:
        response = _approver(app, action).post(f"/facilities/approvals/{action.id}/approve")
        assert response.status_code == 303, response.get_data(as_text=True)
        responses.append(response)
    db.session.expire_all()
    return responses


def _approver(app, action) -> FlaskClient:
    factory = Factory(app)
    if action.kind == "delegate":
        account = db.session.scalar(sa.select(Account).where(
            Account.facility_id == action.facility_id, Account.status != AccountStatus.revoked,
            Account.role.in_(("data_entry", "supervisor"))).limit(1))
        if account is None:
            account = factory.account("data_entry", db.session.get(Facility, action.facility_id),
                                      full_name="Chủ dữ liệu")
    else:
        account = db.session.scalar(sa.select(Account).where(Account.username == "second.admin"))
        if account is None:
            account = factory.account("admin", factory.facility(kind="provincial_doh"),
                                      username="second.admin", full_name="Quản Trị Hai")
    app.test_client_class = VaxClient
    client = app.test_client()
    row = sign_in(client, account)
    row.step_up_at = utcnow()
    db.session.commit()
    return client
