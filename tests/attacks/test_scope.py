"""Reaching past one's scope (P1, P2.1, P2.2): another facility's ids in every URL and form
that takes one (404 or a refusal, nothing shown, nothing changed), and an admin account on
every data route (403)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.attacks.support import (
    DATA,
    audit_actions,
    changed_tables,
    db_state,
    last_audit_id,
    post_form,
    step_up,
)
from tests.helpers import html, spreadsheet, upload
from vaxportal.audit.models import AuditEvent
from vaxportal.exports.models import ExportJob, ImportJob
from vaxportal.extensions import db
from vaxportal.policy import DATA_PERMS, has_perm
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.search import RegisterFilter

#: URL arguments that name recipient data or an account's own job or grant
ID_ARGS = {"recipient_id", "dose_id", "candidate_id", "token", "job_id", "certificate_id",
           "lot_id"}
#: the others: the admin's objects, audit rows (walked apart), a form field, static files
NOT_RECIPIENT_DATA = {"facility_id", "account_id", "delegation_id", "event_id", "name",
                      "filename", "pending_id"}  # pending_id: test_admin_reach.py


@pytest.fixture
def rival(signed_in, place, holdings):
    """Station S2 (district D2) and its things, made by its own account."""
    client = signed_in("data_entry", facility=place["s2"], username="tyt.vinhmy")
    return with_certificate(client, holdings(client, "s2"))


def with_certificate(client, things):
    """``things`` plus a vaccination certificate its account issued through the page."""
    response = client.post(f"/certificates/recipients/{things.recipient.id}/issue")
    assert response.status_code == 303, html(response)
    things.certificate = int(response.headers["Location"].rsplit("/", 1)[-1])
    return things


@pytest.fixture
def attackers(nurse, signed_in, place, outbox, holdings):
    """Station S1's nurse and district D1's supervisor, fresh from a step-up (so only the
    scope can stop them), each with things of their own."""
    supervisor = signed_in("supervisor", facility=place["d1"], username="ttyt.longxuyen")
    for client in (nurse, supervisor):
        step_up(client, outbox)
    return {"nurse": nurse, "supervisor": supervisor,
            "mine": with_certificate(nurse, holdings(nurse, "s1"))}


def secrets_of(things) -> list[str]:
    """What must never reach the attacker: names and ids of the rival's recipients."""
    db.session.rollback()
    people = [db.session.get(Recipient, r.id) for r in (things.recipient, things.other)]
    return [p.full_name for p in people] + [p.national_id for p in people]


def assert_nothing_shown(response, secrets: list[str], where: str) -> None:
    body = html(response) + str(response.headers)
    for secret in secrets:
        assert secret not in body, f"{where}: {secret!r} shown"


def may_use(app, account, endpoint: str) -> bool:
    """The account holds the permissions of the route: only its scope is in question."""
    perms = getattr(app.view_functions[endpoint], "required_perms", ())
    return all(has_perm(account, perm) for perm in perms)


def fill(rule, things) -> str:
    """The rule's URL with ``things``' ids."""
    values = {"recipient_id": things.recipient.id, "dose_id": things.dose.id,
              "lot_id": things.lot.id,
              "candidate_id": things.candidate.id, "token": things.grant, "name": "full_name",
              "certificate_id": things.certificate, "facility_id": things.facility.id,
              "job_id": things.import_job.id if rule.endpoint.startswith("exports.import")
              else things.export.id}
    return rule.build({name: values[name] for name in rule.arguments})[1]


def walk(app, things, keep) -> list[tuple[str, str, str]]:
    """(method, endpoint, URL) of every rule that ``keep(rule)`` selects."""
    return [(method, rule.endpoint, fill(rule, things))
            for rule in app.url_map.iter_rules() if keep(rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def id_routes(app, things) -> list[tuple[str, str, str]]:
    """Every rule taking an id of recipient data, a job or a look-up grant, and the reports
    of a facility (its figures and the people due there are recipient data)."""
    return walk(app, things, lambda rule: rule.arguments & ID_ARGS or (
        "facility_id" in rule.arguments and rule.endpoint.startswith("reports.")))


def test_every_url_argument_is_known_to_the_walk(app):
    """A new route naming something new must be added to the walks above and below."""
    known = ID_ARGS | NOT_RECIPIENT_DATA
    unknown = {(rule.rule, name) for rule in app.url_map.iter_rules()
               for name in rule.arguments if name not in known}
    assert not unknown, unknown


def test_p1_another_facilitys_ids_in_every_url_answer_404(app, attackers, rival):
    secrets = secrets_of(rival)
    before = db_state()
    for who in ("nurse", "supervisor"):
        attacker = attackers[who]
        routes = [r for r in id_routes(app, rival) if may_use(app, attacker.account, r[1])]
        assert len(routes) >= 20, routes
        for method, endpoint, url in routes:
            response = attacker.get(url) if method == "GET" else post_form(attacker, endpoint,
                                                                           url)
            assert response.status_code == 404, f"{who} {method} {url}: {response.status_code}"
            assert_nothing_shown(response, secrets, f"{who} {method} {url}")
        print(f"\n{who}: {len(routes)} requests with another facility's ids answered 404")
    assert changed_tables(before, db_state()) == []


def test_p1_the_same_urls_with_ones_own_ids_are_not_404(app, attackers):
    """The control: the walk above is about the ids, not about URLs that never work."""
    nurse = attackers["nurse"]
    for method, endpoint, url in id_routes(app, attackers["mine"]):
        if method == "GET" and may_use(app, nurse.account, endpoint):
            assert nurse.get(url).status_code in (200, 303), url


def test_p1_another_facilitys_data_audit_row_answers_404(attackers, rival, signed_in, place):
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.entity == "recipient", AuditEvent.facility_id == rival.facility.id)
        .order_by(AuditEvent.id))
    assert event is not None
    response = attackers["supervisor"].get(f"/audit/{event.id}")
    assert response.status_code == 404
    assert_nothing_shown(response, secrets_of(rival), "audit row")
    listing = attackers["supervisor"].get("/audit/?entity=recipient")
    assert listing.status_code == 200
    assert_nothing_shown(listing, secrets_of(rival), "audit list")
    # the province's reviewer, whose subtree holds S2, does read it
    reviewer = signed_in("reviewer", facility=place["doh"])
    assert reviewer.get(f"/audit/{event.id}").status_code == 200


def test_p1_register_form_refuses_another_facility(attackers, rival):
    in_s2 = sa.select(sa.func.count(Recipient.id)).where(
        Recipient.facility_id == rival.facility.id)
    count = db.session.scalar(in_s2)
    data = {**DATA["recipients.new"], "facility_id": str(rival.facility.id)}
    # a supervisor chooses among the facilities of its subtree: another one is refused
    before = db_state()
    response = attackers["supervisor"].post("/recipients/new", data=data)
    assert response.status_code == 200 and "Vui lòng chọn cơ sở quản lý" in html(response)
    assert changed_tables(before, db_state()) == []
    # a station has one facility: the posted one is ignored, the person is registered at home
    response = attackers["nurse"].post("/recipients/new", data=data)
    assert response.status_code == 303
    created = db.session.get(Recipient, int(response.headers["Location"].rsplit("/", 1)[-1]))
    assert created.facility_id == attackers["nurse"].account.facility_id
    assert db.session.scalar(in_s2) == count


def test_p1_search_for_another_facility_shows_nothing_of_it(attackers, rival):
    for attacker in (attackers["nurse"], attackers["supervisor"]):
        response = attacker.post("/recipients/", data={"q": "le van giu",
                                                       "facility_id": str(rival.facility.id)},
                                 follow_redirects=True)
        assert response.status_code == 200
        assert_nothing_shown(response, secrets_of(rival), "search")
        assert "Lê Văn Giữ S1" not in html(response)  # the filter held: not even one's own


def test_p1_another_accounts_search_id_is_ignored(attackers, rival):
    nurse = attackers["nurse"]
    for url in (f"/recipients/?s={rival.search}", f"/exports/new?s={rival.search}"):
        response = nurse.get(url)
        assert response.status_code == 200
        assert_nothing_shown(response, secrets_of(rival), url)
    response = nurse.post("/exports/new", data={"s": rival.search})
    job = db.session.get(ExportJob, response.headers["Location"].rsplit("/", 1)[-1])
    assert job.filter == RegisterFilter().to_dict()  # the rival's filter was not taken
    assert job.row_count == 2  # the nurse's own two recipients, nobody of S2


def test_p1_import_into_another_facility_is_refused(attackers, rival):
    count = sa.select(sa.func.count(ImportJob.id))
    before = db.session.scalar(count)
    for who in ("nurse", "supervisor"):
        response = upload(attackers[who], spreadsheet([{"full_name": "Người Lạ"}]),
                          facility_id=str(rival.facility.id))
        assert response.status_code == 400, who
    assert "Vui lòng chọn cơ sở nhận danh sách" in html(response)  # the supervisor's choice
    assert db.session.scalar(count) == before


def test_p1_merging_with_another_facilitys_recipient_is_refused(attackers, rival):
    supervisor, own = attackers["supervisor"], attackers["mine"].candidate
    before = db_state()
    response = supervisor.post(f"/recipients/duplicates/{own.id}",
                               data={"decision": f"keep:{rival.recipient.id}"})
    assert response.status_code == 400
    assert_nothing_shown(response, secrets_of(rival), "merge")
    assert changed_tables(before, db_state()) == []


def test_p1_a_dose_recorded_with_another_accounts_search_id_returns_to_ones_own(attackers,
                                                                               rival):
    nurse, mine = attackers["nurse"], attackers["mine"].recipient
    data = {**DATA["recipients.record_dose"], "dose_number": "1", "back": rival.search,
            "confirm_interval": "1"}
    response = nurse.post(f"/recipients/{mine.id}/doses", data=data)
    assert response.status_code == 303, html(response)
    assert rival.search not in response.headers["Location"]


# -- an admin on every data route (P2.1, P2.2) ---------------------------------------------


def data_routes(app, things) -> list[tuple[str, str, str]]:
    """Every rule whose view needs a data permission."""
    def needs_data(rule) -> bool:
        perms = getattr(app.view_functions[rule.endpoint], "required_perms", ())
        return bool(set(perms) & DATA_PERMS)

    return walk(app, things, needs_data)


def test_p2_1_p2_2_an_admin_is_refused_on_every_data_route(app, admin, attackers, outbox):
    step_up(admin, outbox)
    things = attackers["mine"]
    routes = data_routes(app, things)
    endpoints = {endpoint for _method, endpoint, _url in routes}
    assert {"recipients.index", "recipients.show", "recipients.save_identity",
            "recipients.record_dose", "recipients.duplicates", "exports.new",
            "exports.download", "exports.import_upload"} <= endpoints
    secrets = secrets_of(things)
    before, mark = db_state(), last_audit_id()
    for method, endpoint, url in routes:
        response = admin.get(url) if method == "GET" else post_form(admin, endpoint, url)
        assert response.status_code == 403, f"admin {method} {url}: {response.status_code}"
        assert "không có quyền" in html(response)
        assert_nothing_shown(response, secrets, f"{method} {url}")
    assert changed_tables(before, db_state()) == []
    assert audit_actions(mark) == ["permission_refused"] * len(routes)  # each one traced
    print(f"\nadmin: {len(routes)} requests on data routes refused with 403")


def test_p2_1_an_admin_reads_no_data_audit_row(admin, attackers):
    things = attackers["mine"]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.entity == "recipient"))
    assert admin.get(f"/audit/{event.id}").status_code == 404
    for url in ("/audit/", "/audit/?entity=recipient", f"/audit/?entity_id={things.recipient.id}"):
        response = admin.get(url)
        assert response.status_code == 200
        assert_nothing_shown(response, secrets_of(things), url)

