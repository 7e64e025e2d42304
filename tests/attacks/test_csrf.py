"""Cross-site request forgery: every POST route of ``app.url_map``, sent by a signed-in
account that may use it, with its CSRF token missing, stale, forged or taken from another
session. Each is refused with 400 and the Vietnamese message, and the database is untouched."""

from __future__ import annotations

import secrets
import time
from datetime import date

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.attacks.support import DATA, changed_tables, db_state, post_form, step_up
from tests.helpers import html
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, PendingAction

REFUSED = "thiếu mã bảo vệ"


def _token(client, secret: str, age: int = 0) -> str:
    """A CSRF token as Flask-WTF makes it: the session's raw token, signed and timed."""
    with client.session_transaction() as sess:
        raw = sess.setdefault("csrf_token", secrets.token_hex(20))

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token", signer=Backdated).dumps(raw)


def variants(app, attacker) -> dict:
    """How a forged request carries (or lacks) a token, by name."""
    limit = int(app.config["WTF_CSRF_TIME_LIMIT"])
    return {
        "no": lambda client: None,
        "stale": lambda client: _token(client, app.secret_key, age=limit + 3600),
        "forged": lambda client: _token(client, "not-the-secret-key"),
        "another_session": lambda client: _token(attacker, app.secret_key),
        "garbage": lambda client: "IjEyMyI.ZZZ.abc",
    }


@pytest.fixture
def world(app, signed_in, nurse, admin, holdings, place, factory, outbox):
    """Everything a POST route can name, and for each route the account that may use it."""
    mine = holdings(nurse, "s1")
    supervisor = signed_in("supervisor", facility=place["d1"])
    support = factory.facility("VT", "support_unit", parent=place["doh"], name="Viettel")
    helper = factory.account("data_entry", facility=support)
    delegation = Delegation(account_id=helper.id, facility_id=place["s1"].id,
                            starts_on=date(2024, 1, 1), ends_on=date(2099, 1, 1),
                            request_ref="12/SYT", request_date=date(2024, 1, 1),
                            reason="Hỗ trợ nhập liệu")
    pending = PendingAction(kind="change_details", account_id=helper.id,
                            facility_id=support.id, requested_by_id=helper.id,
                            params={"changes": {"role": "supervisor"}})
    db.session.add_all([delegation, pending])
    db.session.commit()
    for client in (nurse, admin, supervisor):  # fresh, so nothing but the token stops them
        step_up(client, outbox)
    values = {"recipient_id": mine.recipient.id, "dose_id": mine.dose.id, "lot_id": mine.lot.id,
              "candidate_id": mine.candidate.id, "token": mine.grant, "name": "full_name",
              "facility_id": place["s1"].id, "account_id": helper.id,
              "delegation_id": delegation.id, "pending_id": pending.id}
    return {"nurse": nurse, "admin": admin, "supervisor": supervisor, "mine": mine,
            "values": values, "attacker": signed_in("data_entry", facility=place["s2"])}


def who(endpoint: str) -> str:
    if endpoint.startswith("facilities."):
        return "admin"
    return "supervisor" if endpoint == "recipients.resolve_duplicate" else "nurse"


def post_routes(app, world) -> list[tuple[str, str]]:
    """(endpoint, URL) of every rule that takes POST, its arguments filled from ``world``."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        values = {}
        for name in rule.arguments:
            if name == "job_id":
                mine = world["mine"]
                values[name] = (mine.import_job.id if rule.endpoint.startswith("exports.import")
                                else mine.export.id)
            else:
                assert name in world["values"], f"{rule.rule}: no value for <{name}> yet"
                values[name] = world["values"][name]
        routes.append((rule.endpoint, rule.build(values)[1]))
    return sorted(routes)


def test_every_post_route_refuses_a_forged_request(app, world, outbox):
    routes = post_routes(app, world)
    assert len(routes) >= 30, routes
    before, sms = db_state(skip=()), len(outbox())
    for variant, make_token in variants(app, world["attacker"]).items():
        for endpoint, url in routes:
            client = world[who(endpoint)]
            response = post_form(client, endpoint, url, csrf_token=make_token(client))
            where = f"{variant} token, {endpoint} {url}"
            assert response.status_code == 400, f"{where}: {response.status_code}"
            assert REFUSED in html(response), where
        print(f"\n{variant} token: {len(routes)} POST routes refused")
    assert changed_tables(before, db_state(skip=())) == []
    assert len(outbox()) == sms  # no code, no initial password went out


def test_a_forged_token_in_the_header_is_refused_too(app, world):
    nurse = world["nurse"]
    url = f"/recipients/{world['mine'].recipient.id}/edit"
    before = db_state(skip=())
    stale = _token(nurse, app.secret_key, age=int(app.config["WTF_CSRF_TIME_LIMIT"]) + 60)
    for token in (stale, _token(world["attacker"], app.secret_key)):
        response = nurse.post(url, data=DATA["recipients.edit"], headers={"X-CSRFToken": token},
                              csrf=False)
        assert response.status_code == 400 and REFUSED in html(response)
    assert changed_tables(before, db_state(skip=())) == []
    # the same request with the session's own token goes through: the forms above were real
    assert nurse.post(url, data=DATA["recipients.edit"]).status_code == 303
    assert changed_tables(before, db_state(skip=())) != []
