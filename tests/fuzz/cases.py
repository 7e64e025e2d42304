"""Every form of the app, keyed by the endpoint it POSTs to: who fills it, the page that
holds it, where it posts, what must exist first, and live values (the code just sent by SMS,
the account's own password) so that the fuzzer also reaches the success paths.

A POST route without an entry here fails ``test_every_post_route_is_fuzzed``."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

from hypothesis import strategies as st

from tests.fuzz.strategies import person_workbook
from tests.fuzz.world import World
from tests.helpers import PASSWORD, VaxClient
from vaxportal.exports.models import ExportJob, ImportJob
from vaxportal.extensions import db
from vaxportal.facilities.models import PendingAction
from vaxportal.recipients.services import FIELD_KEYS


@dataclass
class Ctx:
    """One example: the world, the drawing function, the signed-in browser, its objects."""

    world: World
    draw: Callable
    account: object = None
    client: VaxClient | None = None
    objects: dict = field(default_factory=dict)
    page: str = ""  # the HTML holding the form


#: where each role's account sits in the fuzzing province
ROLE_HOME = {"admin": "MIN", "supervisor": "D1", "reviewer": "DOH", "data_entry": "S1"}


@dataclass(frozen=True)
class Case:
    role: str | tuple[str, ...] | None  # who fills the form (a tuple: drawn); None: nobody
    page: str  # URL of the page holding the form ({name} from the example's objects)
    action: str  # URL the form sends to
    method: str = "post"
    fresh: bool | None = True  # the session passed an OTP just now; None: drawn (step-up)
    setup: Callable[[Ctx], None] | None = None  # makes ctx.objects (and may sign in)
    page_by: Callable[[Ctx], str] | None = None  # the page comes from a POST, say
    form_target: str | None = None  # the path to find the form by, when not ``action``
    live: Callable[[Ctx], dict[str, list[str]]] | None = None
    upload: bool = False


# -- set-ups -------------------------------------------------------------------------------

def _audit_person(ctx: Ctx) -> dict[str, list[str]]:
    """A record id the reader finds (the success path: a redirect with an opaque id)."""
    return {"record_id": [str(ctx.world.recipient_id)]}


def _recipient(ctx: Ctx) -> None:
    ctx.objects["recipient"] = ctx.world.recipient_id


def _dose(ctx: Ctx) -> None:
    ctx.objects["dose"] = ctx.world.dose(ctx.world.recipient_id).id


def _lot(ctx: Ctx) -> None:
    """A lot on S1's register (one for every example, so its form stays on the first page)."""
    import sqlalchemy as sa

    from vaxportal.recipients.models import DoseLot, Vaccine

    vaccine_id = db.session.scalar(sa.select(Vaccine.id).where(Vaccine.code == "AZ"))
    lot = db.session.scalar(sa.select(DoseLot).where(DoseLot.lot_number == "AZ-FUZZ"))
    if lot is None:
        lot = DoseLot(facility_id=ctx.world.facility_ids["S1"], lot_number="AZ-FUZZ",
                      vaccine_id=vaccine_id, last_used_on=date(2021, 6, 1))
        db.session.add(lot)
        db.session.commit()
    ctx.objects["lot"] = lot.id


def _dosed(ctx: Ctx) -> None:
    """A recipient with a dose: the record shows the certificate's issue button."""
    _recipient(ctx)
    ctx.world.dose(ctx.world.recipient_id)


def _home(ctx: Ctx) -> None:
    """The reports of the account's own facility (their form sends to it)."""
    ctx.objects["home"] = ctx.account.facility_id


def _unconfirmed(ctx: Ctx) -> None:
    """The account's own station with today's report not yet confirmed (an earlier example
    may have confirmed it: the button shows only until then)."""
    import sqlalchemy as sa

    from vaxportal.reports.models import DailyReportConfirmation

    ctx.objects["home"] = ctx.account.facility_id
    for row in db.session.scalars(sa.select(DailyReportConfirmation).where(
            DailyReportConfirmation.facility_id == ctx.account.facility_id)):
        db.session.delete(row)
    db.session.commit()


def _overdue(ctx: Ctx) -> None:
    """S1 has a person overdue for dose 2 (made once): its due list shows the export form."""
    import sqlalchemy as sa

    from vaxportal.recipients.models import Recipient

    name = "Trễ Hẹn Mũi Hai"
    if db.session.scalar(sa.select(Recipient.id).where(Recipient.full_name == name)) is None:
        ctx.world.dose(ctx.world.recipient("S1", full_name=name).id)
    ctx.objects["s1"] = ctx.world.facility_ids["S1"]


def _pair(ctx: Ctx) -> None:
    ctx.objects["candidate"] = ctx.world.duplicate_pair().id


def _merged_pair(ctx: Ctx) -> None:
    """A pair merged by the same supervisor in another, fresh browser: its page shows the
    undo form."""
    from vaxportal.recipients.models import Recipient

    pair = ctx.world.duplicate_pair()
    versions = {side: db.session.get(Recipient, rid).version_id
                for side, rid in (("recipient", pair.recipient_id), ("other", pair.other_id))}
    response = ctx.world.client(ctx.account, fresh=True).post(
        f"/recipients/duplicates/{pair.id}/merge",
        data={"keep": str(pair.other_id), "recipient_version": str(versions["recipient"]),
              "other_version": str(versions["other"])})
    assert response.status_code == 303, response.get_data(as_text=True)
    ctx.objects["candidate"] = pair.id


def _password_passed(ctx: Ctx) -> None:
    """The password page done through the form: a session waiting for its SMS code."""
    ctx.account = ctx.world.account("data_entry")
    ctx.client = ctx.world.client(None)
    ctx.client.get("/auth/login")
    response = ctx.client.post("/auth/login", data={"username": ctx.account.username,
                                                    "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)


def _login_target(ctx: Ctx) -> None:
    ctx.account = ctx.world.account("data_entry")
    ctx.objects["username"] = ctx.account.username
    ctx.client = ctx.world.client(None)


def _forced_or_not(ctx: Ctx) -> None:
    if ctx.draw(st.booleans(), label="must change password"):
        ctx.account.must_change_password = True
        db.session.commit()


def _two_sessions(ctx: Ctx) -> None:
    ctx.world.other_session(ctx.account)


def _with_totp(ctx: Ctx) -> None:
    ctx.world.enrol_totp(ctx.account)


def _language(ctx: Ctx) -> None:
    ctx.objects["page"] = "/auth/sessions"
    if ctx.draw(st.booleans(), label="signed out"):
        ctx.client = ctx.world.client(None)
        ctx.objects["page"] = "/auth/login"


def _field_name(ctx: Ctx) -> None:
    name = ctx.draw(st.one_of(st.sampled_from(FIELD_KEYS), st.text(min_size=1, max_size=20)),
                    label="field")
    ctx.objects["name"] = quote(name, safe="")


def _grant_page(ctx: Ctx) -> str:
    """The look-up's answer (a POST response) holds the dose form of the grant."""
    response = ctx.client.post("/recipients/lookup", data={
        "id_number": ctx.world.far_recipient.national_id, "reason": "Tiêm mũi nhắc tại trạm"})
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    marker = "/recipients/lookup/"
    start = page.index(marker) + len(marker)
    ctx.objects["token"] = page[start:page.index("/doses", start)]
    return page


def _export(ctx: Ctx) -> None:
    response = ctx.client.post("/exports/new", data={"s": ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    ctx.objects["job"] = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def _import(ctx: Ctx) -> None:
    data = person_workbook(ctx.world.unique())  # a file never imported before
    response = ctx.client.post("/exports/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO(data), "danh-sach.xlsx"),
        "facility_id": str(ctx.account.facility_id)})
    assert response.status_code == 303, response.get_data(as_text=True)
    ctx.objects["job"] = db.session.scalars(
        db.select(ImportJob.id).where(ImportJob.account_id == ctx.account.id)
        .order_by(ImportJob.created_at.desc())).first()


def _new_facility(ctx: Ctx) -> None:
    ctx.objects["facility"] = ctx.world.new_facility().id


def _target(ctx: Ctx) -> None:
    """A station's account to act on, at a station of its own."""
    ctx.objects["target"] = ctx.world.account("data_entry", ctx.world.new_facility()).id


def _support_target(ctx: Ctx) -> None:
    ctx.objects["target"] = ctx.world.account("data_entry", "VT").id


def _delegation(ctx: Ctx) -> None:
    support = ctx.world.account("data_entry", "VT")
    ctx.objects["delegation"] = ctx.world.delegation(support).id


def _pending(ctx: Ctx) -> None:
    """A role change requested by someone else, waiting for this admin's decision (P2.1)."""
    target = ctx.world.account("data_entry", ctx.world.new_facility())
    pending = PendingAction(kind="change_details", account_id=target.id,
                            facility_id=target.facility_id, requested_by_id=target.id,
                            ref_number="12/SYT-NVY", ref_date=date.today(),
                            reason="Theo công văn đề nghị của đơn vị",
                            params={"changes": {"role": "supervisor", "phone": target.phone}})
    db.session.add(pending)
    db.session.commit()
    ctx.objects["pending"] = pending.id


# -- live values ---------------------------------------------------------------------------

def _credentials(ctx: Ctx) -> dict[str, list[str]]:
    return {"username": [ctx.account.username], "password": [PASSWORD]}


def _login_code(ctx: Ctx) -> dict[str, list[str]]:
    return {"code": [ctx.world.last_secret(ctx.account, ("login", "activation"))]}


def _step_up_code(ctx: Ctx) -> dict[str, list[str]]:
    return {"stepup_code": [ctx.world.last_secret(ctx.account, ("step_up",))]}


def _export_code(ctx: Ctx) -> dict[str, list[str]]:
    job = db.session.get(ExportJob, ctx.objects["job"])
    return {"code": [ctx.world.last_secret(ctx.account, text=job.short_ref)]}


def _own_password(ctx: Ctx) -> dict[str, list[str]]:
    return {"current_password": [PASSWORD]}


# -- the table -----------------------------------------------------------------------------

ACCOUNT = "/facilities/accounts/{target}"

CASES: dict[str, Case] = {
    # sign-in and the account's own pages
    "auth.login": Case(None, "/auth/login", "/auth/login", setup=_login_target,
                       live=_credentials),
    "auth.otp": Case("otp", "/auth/otp", "/auth/otp", setup=_password_passed, live=_login_code),
    "auth.resend": Case("otp", "/auth/otp", "/auth/otp/resend", setup=_password_passed),
    "auth.password": Case("data_entry", "/auth/password", "/auth/password",
                          setup=_forced_or_not, live=_own_password),
    "auth.logout": Case("data_entry", "/", "/auth/logout"),
    "audit.verify": Case(("supervisor", "reviewer"), "/audit/", "/audit/verify"),
    "audit.person": Case(("supervisor", "reviewer"), "/audit/", "/audit/person",
                         live=_audit_person),
    "auth.end_sessions": Case("data_entry", "/auth/sessions", "/auth/sessions",
                              setup=_two_sessions),
    "auth.step_up": Case("data_entry", "/auth/step-up?next=/recipients/", "/auth/step-up",
                         fresh=False, live=_step_up_code),
    "auth.totp": Case("data_entry", "/auth/totp", "/auth/totp", fresh=None),
    "auth.totp_remove": Case("data_entry", "/auth/totp", "/auth/totp/remove", fresh=None,
                             setup=_with_totp),
    "core.set_language": Case("data_entry", "{page}", "/lang", setup=_language),
    # the register
    "recipients.search": Case(("data_entry", "supervisor", "reviewer"), "/recipients/",
                              "/recipients/"),
    "recipients.new": Case("data_entry", "/recipients/new", "/recipients/new"),
    "recipients.validate_field": Case("data_entry", "/recipients/new",
                                      "/recipients/new/validate/{name}", setup=_field_name,
                                      form_target="/recipients/new/validate/full_name"),
    "recipients.edit": Case("data_entry", "/recipients/{recipient}/edit",
                            "/recipients/{recipient}/edit", setup=_recipient),
    "recipients.save_identity": Case("data_entry", "/recipients/{recipient}/identity",
                                     "/recipients/{recipient}/identity", fresh=None,
                                     setup=_recipient, live=_step_up_code),
    "recipients.record_dose": Case("data_entry", "/recipients/{recipient}/doses/new",
                                   "/recipients/{recipient}/doses", setup=_recipient),
    "recipients.dose_correct": Case("data_entry", "/recipients/doses/{dose}/edit",
                                    "/recipients/doses/{dose}/edit", fresh=None, setup=_dose),
    "recipients.dose_delete": Case("data_entry", "/recipients/doses/{dose}/delete",
                                   "/recipients/doses/{dose}/delete", fresh=None,
                                   setup=_dose),
    "recipients.lot_expiry": Case("data_entry", "/recipients/lots",
                                  "/recipients/lots/{lot}/expiry", setup=_lot),
    "recipients.resolve_duplicate": Case("supervisor", "/recipients/duplicates",
                                         "/recipients/duplicates/{candidate}",
                                         setup=_pair),
    "recipients.merge_duplicate": Case("supervisor", "/recipients/duplicates/{candidate}",
                                       "/recipients/duplicates/{candidate}/merge",
                                       fresh=None, setup=_pair, live=_step_up_code),
    "recipients.undo_merge": Case("supervisor", "/recipients/duplicates/{candidate}",
                                  "/recipients/duplicates/{candidate}/undo", fresh=None,
                                  setup=_merged_pair, live=_step_up_code),
    "recipients.lookup": Case("data_entry", "/recipients/lookup", "/recipients/lookup"),
    "recipients.lookup_dose": Case("data_entry", "", "/recipients/lookup/{token}/doses",
                                   page_by=_grant_page),
    # vaccination certificates: issue from the record; anyone checks one at /verify
    "certificates.issue": Case("data_entry", "/recipients/{recipient}",
                               "/certificates/recipients/{recipient}/issue", setup=_dosed),
    "verify.verify": Case(None, "/verify", "/verify", upload=True),
    # exports and imports
    "exports.request_code": Case(("data_entry", "reviewer"), "/exports/new", "/exports/new"),
    "exports.confirm": Case("data_entry", "/exports/{job}", "/exports/{job}/confirm",
                            setup=_export, live=_export_code),
    "exports.resend_code": Case("data_entry", "/exports/{job}", "/exports/{job}/code",
                                setup=_export),
    "exports.cancel": Case("data_entry", "/exports/{job}", "/exports/{job}/cancel",
                           setup=_export),
    # reports: targets (supervisors), the due list's export request
    "reports.target_save": Case("supervisor", "/reports/targets", "/reports/targets"),
    "reports.target_import": Case("supervisor", "/reports/targets", "/reports/targets/import",
                                  upload=True),
    "reports.due_export": Case(("data_entry", "supervisor", "reviewer"),
                               "/reports/f/{s1}/due?status=overdue",
                               "/reports/f/{s1}/due/export", setup=_overdue),
    "reports.daily_confirm": Case("data_entry", "/reports/f/{home}/daily",
                                  "/reports/f/{home}/daily/confirm", setup=_unconfirmed),
    # an aggregate table of the dashboard to Excel (the page's first button: coverage)
    "reports.table_export": Case(("data_entry", "supervisor", "reviewer"), "/reports/f/{home}",
                                 "/reports/f/{home}/export", setup=_home),
    "exports.import_upload": Case("data_entry", "/exports/import", "/exports/import",
                                  upload=True),
    "exports.import_confirm": Case("data_entry", "/exports/import/{job}",
                                   "/exports/import/{job}/confirm", setup=_import),
    "exports.import_discard": Case("data_entry", "/exports/import/{job}",
                                   "/exports/import/{job}/discard", setup=_import),
    # facilities and accounts (admin, behind the admin's own step-up)
    "facilities.create_facility": Case("admin", "/facilities/new", "/facilities/new",
                                       fresh=None),
    "facilities.issue": Case("admin", "/facilities/{facility}/accounts/new",
                             "/facilities/{facility}/accounts/new",
                             fresh=None, setup=_new_facility),
    "facilities.hand_over": Case("admin", ACCOUNT + "/hand-over", ACCOUNT + "/hand-over",
                                 fresh=None, setup=_target),
    "facilities.revoke": Case("admin", ACCOUNT + "/revoke", ACCOUNT + "/revoke",
                              fresh=None, setup=_target),
    "facilities.reissue_password": Case("admin", ACCOUNT + "/reissue-password",
                                        ACCOUNT + "/reissue-password",
                                        fresh=None, setup=_target),
    "facilities.change_details": Case("admin", ACCOUNT + "/details", ACCOUNT + "/details",
                                      fresh=None, setup=_target),
    "facilities.unlock": Case("admin", ACCOUNT + "/unlock", ACCOUNT + "/unlock",
                              fresh=None, setup=_target),
    "facilities.delegate": Case("admin", ACCOUNT + "/delegate", ACCOUNT + "/delegate",
                                fresh=None, setup=_support_target),
    "facilities.end_delegation": Case("admin", "/facilities/delegations/{delegation}/end",
                                      "/facilities/delegations/{delegation}/end",
                                      fresh=None, setup=_delegation),
    # two people for access (P2.1): another admin's request, decided here
    "facilities.approve": Case("admin", "/facilities/approvals",
                               "/facilities/approvals/{pending}/approve", fresh=None,
                               setup=_pending),
    "facilities.refuse": Case("admin", "/facilities/approvals",
                              "/facilities/approvals/{pending}/refuse", setup=_pending),
}


#: forms sent by GET (filters: nothing is written, but the values reach queries)
GET_CASES: dict[str, Case] = {
    "audit.index": Case(("supervisor", "reviewer", "admin"), "/audit/", "/audit/",
                        method="get"),
    "facilities.index": Case("admin", "/facilities/", "/facilities/", method="get"),
    "reports.facility": Case(("data_entry", "supervisor", "reviewer"), "/reports/",
                             "/reports/f/{home}", method="get", setup=_home),
    "reports.due_list": Case(("data_entry", "supervisor", "reviewer"), "/reports/f/{s1}/due",
                             "/reports/f/{s1}/due", method="get", setup=_overdue),
    "reports.facility_daily": Case(("data_entry", "supervisor", "reviewer"), "/reports/daily",
                                   "/reports/f/{home}/daily", method="get", setup=_home),
}
#: the template of each GET form → its case (a new GET form must be added to both)
GET_FORM_TEMPLATES = {"audit/index.html": "audit.index",
                      "facilities/index.html": "facilities.index",
                      "reports/index.html": "reports.facility",
                      "reports/due.html": "reports.due_list",
                      "reports/daily.html": "reports.facility_daily"}
