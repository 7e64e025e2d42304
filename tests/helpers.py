"""Test helpers, shared by every suite: a client that sends the CSRF token like a browser,
the data factories (places, accounts, recipients, doses), signing in (the shortcut and the
real forms), reading pages, the Excel files people bring, and the database read past the
application. The fixtures built on them are in ``tests/fixtures.py``."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import re
import secrets
import zipfile
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import joinedload
from werkzeug.test import TestResponse

from tests import snapshots
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, AccountStatus, Custodian, UserSession, WrittenRequest
from vaxportal.auth.passwords import hash_password
from vaxportal.certificates.models import Certificate
from vaxportal.exports.models import ExportJob, ImportJob
from vaxportal.extensions import db
from vaxportal.facilities import tree
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.search import RegisterFilter, save_search
from vaxportal.recipients.services import RECIPIENT_FIELDS
from vaxportal.recipients.vaccines import seed_vaccines
from vaxportal.timeutil import utcnow
from vaxportal.validators import format_date_vn, local_today

PASSWORD = "Tiem-Chung#Xa9Ph"
#: the tests' password hashing: one PBKDF2 round (``tests/fixtures.py``, cheap_passwords)
CHEAP_METHOD = "pbkdf2:sha256:1"
_seq = itertools.count(1)
#: ``Factory.place``'s result per process, laid down again in later tests (tests/snapshots.py)
_SNAPSHOTS: dict[tuple, snapshots.Snapshot] = {}
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
        rows = self.PROVINCE if ministry else [row for row in self.PROVINCE if row[0] != "min"]
        key = snapshots.key("place", ministry, vaccines)
        empty = key is not None and snapshots.is_empty()
        if empty and key in _SNAPSHOTS:  # the same rows, copied: tests/snapshots.py
            snapshots.restore(_SNAPSHOTS[key])
            for _row in rows:
                next(_seq)  # as many numbers as the build takes
            return self._by_code(rows)
        made = self.tree(rows)
        if vaccines:
            seed_vaccines()
            db.session.commit()
        if empty:
            _SNAPSHOTS[key] = snapshots.take()
        return made

    @staticmethod
    def _by_code(rows) -> dict[str, Facility]:
        keys = {code: key for key, code, *_rest in rows}
        found = db.session.scalars(sa.select(Facility).where(Facility.code.in_(keys)))
        return {keys[facility.code]: facility for facility in found}

    def tree(self, rows) -> dict[str, Facility]:
        """Facilities from rows of (key, code, kind, parent key or None, name or None), each
        parent before its children → {key: facility}."""
        made: dict[str, Facility] = {}
        for key, code, kind, parent, name in rows:  # one commit for the tree (one chain append)
            made[key] = self.facility(code, kind, parent=made.get(parent), name=name, commit=False)
        db.session.commit()
        return made

    def facility(self, code: str | None = None, kind: str = "commune_station",
                 parent: Facility | None = None, name: str | None = None,
                 commit: bool = True) -> Facility:
        n = next(_seq)
        facility = tree.add_facility(code or f"F{n:05d}", name or f"Cơ sở {n}", kind, parent)
        if commit:
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


# -- recipients and doses ----------------------------------------------------------------------

_nid = itertools.count(100_001)


def next_nid(gender: str = "male", born: date = date(1980, 9, 5)) -> str:
    """A national ID of its own: province 089, the century-and-gender digit and the year of
    birth, then a running number."""
    century = 0 if born.year < 2000 else 2
    digit = century + (1 if gender == "female" else 0)
    return f"089{digit}{born.year % 100:02d}{next(_nid):06d}"


def new_recipient(facility_id: int, **fields) -> Recipient:
    """A recipient added to the session, not committed (a man born 5/9/1980 with a national
    ID of his own unless ``fields`` say otherwise)."""
    values = {"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
              "gender": "male", "facility_id": facility_id}
    values.update(fields)
    values.setdefault("national_id", next_nid(values["gender"], values["date_of_birth"]))
    recipient = Recipient(**values)
    db.session.add(recipient)
    return recipient


def add_person(facility: Facility, full_name: str, national_id: str, born=date(1980, 9, 5),
               gender="male") -> Recipient:
    """A committed recipient of ``facility``."""
    recipient = new_recipient(facility.id, full_name=full_name, national_id=national_id,
                              date_of_birth=born, gender=gender)
    db.session.commit()
    return recipient


def vaccine(code: str) -> Vaccine:
    return db.session.scalar(sa.select(Vaccine).where(Vaccine.code == code))


def new_dose(recipient: Recipient, number: int = 1, **fields) -> Dose:
    """A dose added to the session, not committed (the catalogue's first vaccine, lot LOT-n,
    given on n/6/2021 unless ``fields`` say otherwise)."""
    values = {"recipient_id": recipient.id, "facility_id": recipient.facility_id,
              "lot_number": f"LOT-{number}", "dose_number": number,
              "given_on": date(2021, 6, number), "vaccinator": "Lê Thị Tiêm"}
    values.update(fields)
    if "vaccine_id" not in values:
        values["vaccine_id"] = db.session.scalar(sa.select(Vaccine.id).order_by(Vaccine.id))
    dose = Dose(**values)
    db.session.add(dose)
    return dose


def add_dose(recipient: Recipient, code="AZ", given_on=date(2021, 6, 1), number=1,
             facility_id=None, lot="AZ-1", vaccinator="Lê Thị Tiêm") -> Dose:
    """A committed dose of vaccine ``code``."""
    dose = new_dose(recipient, number, vaccine_id=vaccine(code).id, given_on=given_on,
                    facility_id=facility_id or recipient.facility_id, lot_number=lot,
                    vaccinator=vaccinator)
    db.session.commit()
    return dose


def doses() -> list[Dose]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(Dose).options(joinedload(Dose.vaccine)).order_by(Dose.id)))


def issue(client, recipient) -> Certificate:
    """Issue a certificate through the recipient's page form; the newest certificate."""
    response = client.post(f"/certificates/recipients/{recipient.id}/issue")
    assert response.status_code == 303, response.get_data(as_text=True)
    certificate_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    return db.session.get(Certificate, certificate_id)


# -- reading the database ----------------------------------------------------------------------


def reload(obj, *options):
    """``obj`` (an account, a facility ...) read again from the database, with the
    relationships ``options`` name (``selectinload(Account.custodians)``): none loads itself."""
    db.session.expire_all()
    return db.session.get(type(obj), obj.id, options=options, populate_existing=True)


def sid(client) -> str | None:
    with client.session_transaction() as sess:
        return sess.get("sid")


def session_row(client) -> UserSession | None:
    token = sid(client)
    if not token:
        return None
    db.session.expire_all()
    digest = hashlib.sha256(token.encode()).hexdigest()
    return db.session.scalar(sa.select(UserSession).where(UserSession.token_hash == digest))


def fresh_otp(client) -> None:
    """Mark the client's session as having passed an OTP just now (P3.4 step-up)."""
    row = db.session.scalar(
        sa.select(UserSession).where(UserSession.account_id == client.account.id)
        .order_by(UserSession.id.desc())
    )
    row.step_up_at = utcnow()
    db.session.commit()


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).all()


def audit_rows(**where) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    db.session.expire_all()
    return list(db.session.scalars(stmt))


def written(account: Account) -> list[WrittenRequest]:
    return list(db.session.scalars(
        sa.select(WrittenRequest).where(WrittenRequest.account_id == account.id)
        .order_by(WrittenRequest.id)
    ))


@contextlib.contextmanager
def raw_cursor():
    """A DBAPI cursor on its own connection: "directly in the database", past the ORM and the
    engine guard (only the database's own triggers apply)."""
    db.session.remove()
    conn = db.engine.raw_connection()
    try:
        cursor = conn.cursor()
        yield cursor
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()


def raw_execute(sql: str, params: tuple = ()) -> None:
    """One statement straight to the database (``?`` placeholders on both databases)."""
    with raw_cursor() as cur:
        if db.engine.dialect.name == "postgresql":
            sql = sql.replace("?", "%s")
        cur.execute(sql, params)


@contextlib.contextmanager
def triggers_off():
    """Disable the append-only triggers for a tampering test (restored afterwards: on
    PostgreSQL the schema is shared by every test)."""
    dialect = db.engine.dialect.name
    with raw_cursor() as cur:
        if dialect == "postgresql":
            cur.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            cur.execute("DROP TRIGGER audit_event_no_update")
            cur.execute("DROP TRIGGER audit_event_no_delete")
    try:
        yield
    finally:
        from vaxportal.audit.models import DDL

        with raw_cursor() as cur:
            if dialect == "postgresql":
                cur.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
            else:
                for statement in DDL["sqlite"]:
                    cur.execute(statement)


# -- pages -------------------------------------------------------------------------------------

#: The main pages and fragments, (url, htmx?, SQL statements) as measured after the fixes of
#: issue 13: the budgets of ``tests/test_query_budget.py``; ``tests/test_query_routing.py``
#: runs the same pages. The recipient page commits its access event (P2.4) before it
#: renders, holding the audit chain's lock no longer than the append, and keeps what it read
#: (``extensions.commit_keeping_loaded``).
MAIN_PAGES = {
    "register, first page": ("/recipients/", False, 5),
    "register, page 2 (htmx)": ("/recipients/?page=2", True, 4),
    "recipient page": ("/recipients/{person}", False, 14),
    "dose form (htmx)": ("/recipients/{person}/doses/new", True, 8),
    "new recipient form": ("/recipients/new", False, 4),
    "lot register": ("/recipients/lots", False, 4),
    "export confirmation": ("/exports/new", False, 5),
    "exports list": ("/exports/", False, 9),
    "home": ("/", False, 4),
    "daily report": ("/reports/daily", False, 7),
}

#: a supervisor's own pages, (url, budget)
SUPERVISOR_PAGES = {
    "audit trail": ("/audit/", 6),
    "duplicates to review": ("/recipients/duplicates", 4),
    "daily report of the district": ("/reports/daily", 7),
}


#: a written request's fields (number, recent date, reason), as the admin pages ask for them
REQUEST = {"ref_number": "123/SYT-NVY", "ref_date": RECENT,
           "reason": "Theo công văn đề nghị của đơn vị"}

#: the register form filled in as a nurse would (every field valid)
PERSON_FORM = {
    "full_name": "Lê Thị Hồng", "date_of_birth": "05/09/1980", "gender": "female",
    "national_id": "089180123456", "insurance_number": "gd4890123456789",
    "phone": "0912 345 678", "occupation": "Giáo viên", "ethnicity": "01",
    "nationality": "VN", "priority_group": "N07", "province": "91",
    "district": "", "ward": "30307", "street": "12 Trần Hưng Đạo",
}


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, name: str) -> str:
    """The message shown beside field ``name`` ('' when none)."""
    match = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return unescape(match.group(1)) if match else ""


def input_value(page: str, name: str) -> str | None:
    """The value of the input or textarea named ``name`` ('' without one; None when the page
    has no such field)."""
    for tag in re.findall(r"<(?:input|textarea)[^>]*>(?:[^<]*</textarea>)?", page):
        if f'name="{name}"' in tag:
            if tag.startswith("<textarea"):
                return unescape(re.sub(r"^<textarea[^>]*>|</textarea>$", "", tag)).strip()
            value = re.search(r'value="([^"]*)"', tag)
            return unescape(value.group(1)) if value else ""
    return None


def hidden_inputs(page: str) -> dict[str, str]:
    """name → value of every hidden input of a page (to re-post a prompt's carried form)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


def dose_data(page: str, **overrides) -> dict:
    """The dose form as the browser would send it (hidden fields from the page)."""
    data = hidden_inputs(page)
    data.update({"vaccine_id": str(vaccine("PFIZER").id), "dose_number": "1",
                 "given_on": "01/08/2021", "lot_number": "FF1234", "vaccinator": "Lê Thị Tiêm",
                 "aefi": "none", "aefi_note": ""})
    data.update(overrides)
    return data


def dose_correction(client, dose, **overrides) -> dict:
    """The correction form of ``dose`` as the browser sends it, with a reason."""
    page = html(client.get(f"/recipients/doses/{dose.id}/edit"))
    data = hidden_inputs(page) | {
        "vaccine_id": str(dose.vaccine_id), "dose_number": "1", "given_on": "02/06/2021",
        "lot_number": "AZ-2", "vaccinator": "Lê Thị Tiêm", "aefi": "none", "aefi_note": "",
        "reason": "Nhập nhầm ngày tiêm"}
    return data | overrides


_URL_ATTRS = re.compile(
    r'\b(?:href|action|src|hx-get|hx-post|hx-put|hx-delete|hx-patch|hx-push-url|'
    r'hx-replace-url)="([^"]*)"'
)


def urls_in(response) -> list[str]:
    """Every URL a page or fragment makes the browser request, plus redirect headers."""
    found = [unescape(u) for u in _URL_ATTRS.findall(html(response))]
    for header in ("Location", "HX-Redirect", "HX-Push-Url", "HX-Replace-Url"):
        if response.headers.get(header):
            found.append(response.headers[header])
    return found


def assert_no_personal_data_in_urls(response, *secrets: str) -> None:
    from urllib.parse import unquote_plus

    from vaxportal.text import fold

    for url in urls_in(response):
        plain = fold(unquote_plus(url))
        for secret in secrets:
            assert fold(secret) not in plain, f"personal data {secret!r} in URL {url!r}"


# -- signing in through the real forms -----------------------------------------------------------
# For the suites about signing in (auth, attacks, browser journeys). ``outbox`` is the SMS
# file outbox: ``outbox()`` → list of dicts with keys to / kind / secret / body / at.

CODE_KINDS = ("login", "activation")


def sent_code(outbox, since: int, kinds=CODE_KINDS) -> str:
    """The secret of the newest SMS of ``kinds`` sent after the first ``since`` messages."""
    fresh = [m for m in outbox()[since:] if m["kind"] in kinds]
    assert fresh, f"no SMS of kind {kinds} was sent"
    return fresh[-1]["secret"]


def submit_password(client, username: str, password: str, next_url: str | None = None):
    client.get("/auth/login")
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/auth/login", data=data)


def login_through_forms(client, username: str, password: str, outbox, *,
                        code: str | None = None, next_url: str | None = None) -> TestResponse:
    """Password page, then the code page with the code just sent by SMS (or ``code``, for
    an authenticator app). Returns the answer to the code (303 when signed in)."""
    before = len(outbox())
    response = submit_password(client, username, password, next_url)
    assert response.status_code == 303, html(response)
    assert response.headers["Location"].endswith("/auth/otp"), response.headers["Location"]
    assert client.get("/auth/otp").status_code == 200
    return client.post("/auth/otp", data={"code": code or sent_code(outbox, before)})


def initial_password(outbox, username: str) -> str:
    """The password of the newest initial-password SMS naming ``username``."""
    messages = [m for m in outbox() if m["kind"] == "initial_password" and username in m["body"]]
    assert messages, f"no initial password SMS for {username}"
    return messages[-1]["secret"]


def first_sign_in(client, username: str, outbox, new_password: str) -> TestResponse:
    """The first sign-in of an issued account: the password from the initial SMS, the
    activation code, then the forced password change. Returns the answer to the change
    (303 to the authenticator-app offer)."""
    response = login_through_forms(client, username, initial_password(outbox, username), outbox)
    assert response.status_code == 303, html(response)
    assert response.headers["Location"].endswith("/auth/password"), response.headers["Location"]
    return client.post("/auth/password", data={"new_password": new_password,
                                               "confirm_password": new_password})


# -- exports and imports -----------------------------------------------------------------------


def search_id(client, **filters) -> str:
    """A stored register search of the client's account (what the register links with)."""
    sid = save_search(RegisterFilter(**filters), client.account, None)
    db.session.commit()
    return sid


def request_export(client, sid: str | None = None) -> ExportJob:
    """POST the statement page's button: a pending export and its SMS code."""
    response = client.post("/exports/new", data={"s": sid or ""})
    assert response.status_code == 303, html(response)
    job_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    return db.session.get(ExportJob, job_id)


def code_for(outbox, job: ExportJob) -> str:
    """The secret of the last SMS that names this export."""
    messages = [m for m in outbox() if job.short_ref in m["body"]]
    assert messages, f"no SMS names export {job.short_ref}"
    return messages[-1]["secret"]


def confirm(client, job: ExportJob, code: str | None, **kwargs):
    data = {} if code is None else {"code": code}
    return client.post(f"/exports/{job.id}/confirm", data=data, **kwargs)


def export_now(client, outbox, sid: str | None = None):
    """Request, confirm with the export's own code, download the file its page links to."""
    job = request_export(client, sid)
    response = confirm(client, job, code_for(outbox, job))
    assert response.status_code == 303, html(response)
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200, html(download)
    db.session.expire_all()
    return db.session.get(ExportJob, job.id), download.data


def workbook(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist()
                       if name.startswith("xl/worksheets/"))


def all_values(book) -> list:
    return [cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


HEADERS = [str(label) for _key, label, _kind in RECIPIENT_FIELDS]


def spreadsheet(rows: list[dict], headers: list[str] | None = None) -> bytes:
    """An .xlsx as people make it: Vietnamese headers on the first row, one row per person."""
    book = openpyxl.Workbook()
    sheet = book.active
    keys = [key for key, _label, _kind in RECIPIENT_FIELDS]
    sheet.append(headers or HEADERS)
    for row in rows:
        sheet.append([row.get(key) for key in keys])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed text, not a formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "danh-sach.xlsx", **fields):
    form = {"file": (io.BytesIO(data), name), **fields}
    if "facility_id" not in form:
        form["facility_id"] = str(client.account.facility_id)
    return client.post("/exports/import", data=form, content_type="multipart/form-data")


def last_import() -> ImportJob:
    db.session.expire_all()
    return db.session.scalars(sa.select(ImportJob).order_by(ImportJob.created_at.desc())).first()


# -- browser journeys (the ``ui`` fixture of tests/browser) ------------------------------------


def enter_navigates(ui) -> None:
    """Enter on the focused element; the browser loads a new page (a link, a plain form, or
    htmx's HX-Redirect after a form it posted)."""
    with ui.page.expect_navigation():
        ui.page.keyboard.press("Enter")
    ui.page.wait_for_load_state("load")
