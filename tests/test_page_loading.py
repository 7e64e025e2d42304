"""A template runs no SQL (``vaxportal/renderguard.py``) and no relationship loads itself
(``lazy="raise_on_sql"``): each view's query loads what its page shows. Every main page and
fragment, as each role, with rows of every kind on it; a statement while rendering is an error
in tests, so the page answers 500."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import render_template_string
from sqlalchemy.orm import joinedload

from tests.helpers import VaxClient, sign_in
from vaxportal import renderguard
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account
from vaxportal.exports.models import ExportJob
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, PendingAction
from vaxportal.recipients.models import Dose, DoseLot, DuplicateCandidate, Recipient, Vaccine
from vaxportal.recipients.services import create_recipient
from vaxportal.renderguard import SqlInTemplate
from vaxportal.validators import local_today

ROLES = ("admin", "data_entry", "supervisor", "reviewer")
HOME = {"admin": "min", "data_entry": "s1", "supervisor": "d1", "reviewer": "doh"}


def _recipients(station) -> tuple[Recipient, Dose]:
    first, twin, other = (
        create_recipient({"full_name": name, "date_of_birth": date(1975, 1, 2),
                          "gender": "female", "national_id": nid}, station.id)
        for name, nid in (("Trần Văn Riêng", "089080300001"), ("Lê Thị Song", "089080300002"),
                          ("Lê Thị Song", "089080300003")))
    vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == "AZ"))
    dose = Dose(recipient_id=first.id, facility_id=station.id, vaccine_id=vaccine.id,
                lot_number="AZ-1", dose_number=1, given_on=date(2021, 6, 1),
                vaccinator="Lê Thị Tiêm")
    lot = DoseLot(facility_id=station.id, lot_number="AZ-1", vaccine_id=vaccine.id,
                  first_used_on=date(2021, 6, 1), last_used_on=date(2021, 6, 1))
    db.session.add_all([dose, lot, DuplicateCandidate(recipient_id=other.id, other_id=twin.id,
                                                      facility_id=station.id)])
    return first, dose


def _account_rows(place, accounts) -> None:
    support = accounts["data_entry"]
    db.session.add(Delegation(account_id=support.id, facility_id=place["s1b"].id,
                              starts_on=local_today(), ends_on=local_today() + timedelta(days=9),
                              request_ref="12/UBND", request_date=local_today(),
                              reason="Hỗ trợ nhập liệu"))
    db.session.add(PendingAction(kind="delegate", account_id=support.id,
                                 facility_id=place["s1b"].id, requested_by_id=support.id,
                                 ref_number="13/UBND", ref_date=local_today(),
                                 reason="Hỗ trợ nhập liệu cho trạm",
                                 params={"starts_on": local_today().isoformat(),
                                         "ends_on": local_today().isoformat()}))


@pytest.fixture
def world(app, factory):
    place = factory.place(ministry=True)
    accounts = {role: factory.account(role, place[HOME[role]]) for role in ROLES}
    recipient, dose = _recipients(place["s1"])
    _account_rows(place, accounts)
    db.session.commit()
    app.test_client_class = VaxClient
    clients = {}
    for role, account in accounts.items():
        clients[role] = app.test_client()
        sign_in(clients[role], account)
    export = clients["data_entry"].post("/exports/new", data={"s": ""})
    assert export.status_code == 303
    job = db.session.scalar(sa.select(ExportJob))
    event = db.session.scalar(sa.select(AuditEvent.id).where(
        AuditEvent.entity == "recipient", AuditEvent.entity_id == str(recipient.id)))
    delegation = db.session.scalar(sa.select(Delegation))
    return {"clients": clients, "delegation": delegation, "accounts": accounts, "place": place,
            "recipient": recipient, "dose": dose, "job": job, "event": event}


def _pages(w) -> list[str]:
    r, d, a = w["recipient"].id, w["dose"].id, w["accounts"]["data_entry"].id
    return [
        "/", "/auth/sessions", "/auth/totp",
        "/recipients/", f"/recipients/{r}", f"/recipients/{r}/edit",
        f"/recipients/{r}/identity", f"/recipients/{r}/doses/new",
        f"/recipients/doses/{d}/edit", f"/recipients/doses/{d}/delete",
        "/recipients/duplicates", "/recipients/lookup", "/recipients/lots", "/recipients/new",
        "/audit/", f"/audit/{w['event']}",
        "/exports/", "/exports/new", f"/exports/{w['job'].id}", "/exports/import",
        "/facilities/", f"/facilities/{w['place']['s1'].id}", "/facilities/approvals",
        f"/facilities/accounts/{a}", f"/facilities/{w['place']['s1b'].id}/accounts/new",
        *(f"/facilities/accounts/{a}/{action}" for action in (
            "hand-over", "details", "revoke", "reissue-password", "unlock", "delegate")),
        f"/facilities/delegations/{w['delegation'].id}/end",
        "/facilities/new",
        "/reports/daily", f"/reports/f/{w['place']['s1'].id}/daily",
    ]


def test_no_page_loads_a_relationship_while_it_renders(world):
    """Each role, each page as a full page and as the fragment htmx asks for."""
    answers = {
        (role, htmx, url): world["clients"][role].get(url, headers=headers).status_code
        for role in ROLES for htmx, headers in (("page", {}), ("fragment", {"HX-Request": "1"}))
        for url in _pages(world)
    }
    assert [key for key, status in answers.items() if status == 500] == []
    rendered = {(htmx, url) for (_r, htmx, url), status in answers.items() if status == 200}
    assert {url for _h, url in rendered} == set(_pages(world))  # each page shown to someone


def test_a_relationship_the_query_did_not_load_is_an_error_anywhere(app, world):
    """``lazy="raise_on_sql"``: in a template and in a view's code alike."""
    with app.test_request_context():
        db.session.expire_all()
        dose = db.session.get(Dose, world["dose"].id)
        with pytest.raises(sa.exc.InvalidRequestError, match="raise_on_sql"):
            render_template_string("{{ dose.vaccine.name }}", dose=dose)
        with pytest.raises(sa.exc.InvalidRequestError, match="raise_on_sql"):
            dose.vaccine.name  # noqa: B018
        loaded = db.session.get(Dose, dose.id, options=[joinedload(Dose.vaccine)],
                                populate_existing=True)
        assert render_template_string("{{ dose.vaccine.code }}", dose=loaded) == "AZ"


def test_sql_in_a_template_is_an_error(app, world):
    """What no relationship sees: a property that queries, a query helper."""
    with app.test_request_context():
        db.session.expire_all()
        account = db.session.get(Account, world["accounts"]["data_entry"].id)
        with pytest.raises(SqlInTemplate):
            render_template_string("{{ account.current_custodian.full_name }}",
                                   account=account)
        assert account.current_custodian is not None  # the same query in a view is allowed
        with pytest.raises(SqlInTemplate):
            render_template_string("{{ count() }}", count=lambda: db.session.scalar(
                sa.select(sa.func.count(Dose.id))))
        with renderguard.permitted():  # one the template makes on purpose, named
            assert render_template_string("{{ count() }}", count=lambda: db.session.scalar(
                sa.select(sa.func.count(Dose.id)))) == "1"
