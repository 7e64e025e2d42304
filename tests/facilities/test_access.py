"""Who may use the facilities pages: admins only (P2.3), each change behind the admin's own
fresh OTP (P3.4), no recipient data on them and no way to act as another account
(P2.1, P2.2)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import REQUEST, html
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, Custodian, WrittenRequest
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, Facility
from vaxportal.validators import local_today


@pytest.fixture
def objects(factory, province, holder):
    """Ids to fill every facilities URL with."""
    helper = factory.account("data_entry", province["VT"], username="viettel.ag")
    delegation = Delegation(account_id=helper.id, facility_id=province["S2"].id,
                            starts_on=local_today(), ends_on=local_today() + timedelta(days=9),
                            request_ref="1/VT", request_date=local_today(), reason="hỗ trợ")
    db.session.add(delegation)
    db.session.commit()
    return {"facility_id": province["S2"].id, "account_id": helper.id,
            "delegation_id": delegation.id}


#: the approvals of pending account actions (P2.1) are not admin-only: a delegation is
#: decided by the delegated facility's own account (tests/attacks/test_admin_reach.py, and the
#: authorization matrix)
DECISIONS = {"facilities.approvals_list", "facilities.approve", "facilities.refuse"}


def _routes(app, method: str) -> list[str]:
    return sorted(rule.endpoint for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("facilities.") and method in rule.methods
                  and rule.endpoint not in DECISIONS)


def _url(app, endpoint: str, objects: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **{name: objects[name] for name in rule.arguments})


POSTS = {
    "facilities.create_facility": {"code": "NEW", "name": "Cơ sở mới", "kind": "cdc"},
    "facilities.issue": {"username": "moi.tk", "role": "data_entry", "phone": "0912345678",
                         "full_name": "Người Mới", "gender": "male", "unit": "Trạm",
                         "position": "Y sĩ", "email": "moi@example.vn",
                         "custodian_phone": "0912345678"},
    "facilities.hand_over": REQUEST | {"full_name": "Người Mới", "gender": "male",
                                       "unit": "Trạm", "position": "Y sĩ",
                                       "email": "moi@example.vn",
                                       "custodian_phone": "0912345678"},
    "facilities.revoke": REQUEST,
    "facilities.reissue_password": REQUEST,
    "facilities.change_details": REQUEST | {"role": "data_entry", "phone": "0912345678"},
    "facilities.unlock": REQUEST,
    "facilities.delegate": REQUEST | {"facility_code": "S1", "starts_on": "01/01/2030",
                                      "ends_on": "02/01/2030"},
    "facilities.end_delegation": REQUEST,
}


def _state() -> tuple:
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(model))
              for model in (Facility, Account, Custodian, WrittenRequest, Delegation)]
    ended = db.session.scalar(sa.select(sa.func.count(Delegation.id))
                              .where(Delegation.ended_at.is_not(None)))
    accounts = db.session.execute(sa.select(Account.id, Account.status, Account.phone,
                                            Account.password_hash, Account.version_id)).all()
    return (*counts, ended, sorted(accounts))


def test_every_post_is_covered(app):
    assert sorted(POSTS) == _routes(app, "POST")


@pytest.mark.parametrize("role", ["data_entry", "supervisor", "reviewer"])
def test_p2_3_non_admin_roles_get_403_on_every_facilities_route(app, signed_in, province,
                                                               objects, role):
    client = signed_in(role, facility=province["D1"])
    for endpoint in _routes(app, "GET"):
        assert client.get(_url(app, endpoint, objects)).status_code == 403, endpoint
    before = _state()
    for endpoint in _routes(app, "POST"):
        response = client.post(_url(app, endpoint, objects), data=POSTS[endpoint])
        assert response.status_code == 403, endpoint
    assert _state() == before


def test_facilities_routes_need_sign_in(app, client, objects):
    for endpoint in _routes(app, "GET"):
        response = client.get(_url(app, endpoint, objects))
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_admin_opens_every_facilities_page(app, admin, objects):
    for endpoint in _routes(app, "GET"):
        assert admin.get(_url(app, endpoint, objects)).status_code == 200, endpoint


@pytest.mark.parametrize("endpoint", sorted(POSTS))
def test_p3_4_every_change_needs_the_admins_fresh_otp(app, signed_in, province, objects,
                                                      outbox, endpoint):
    stale = signed_in("admin", facility=province["MIN"])  # signed in, no recent step-up
    before = _state()
    response = stale.post(_url(app, endpoint, objects), data=POSTS[endpoint])
    page = html(response)
    assert response.status_code == 200 and 'name="stepup_code"' in page
    assert _state() == before
    assert not [m for m in outbox() if m["kind"] == "initial_password"]
    # what was typed rides along in the prompt, to be posted again with the code
    for name, value in POSTS[endpoint].items():
        assert f'name="{name}" value="{value}"' in page, name


def test_p3_4_change_goes_through_once_the_otp_is_fresh(app, signed_in, province, objects):
    from tests.helpers import fresh_otp

    admin = signed_in("admin", facility=province["MIN"])
    url = _url(app, "facilities.revoke", objects)
    assert admin.post(url, data=REQUEST).status_code == 200
    fresh_otp(admin)
    assert admin.post(url, data=REQUEST).status_code == 303


def test_a_post_without_its_csrf_token_is_refused(app, admin, objects):
    before = _state()
    response = admin.post(_url(app, "facilities.revoke", objects), data=REQUEST, csrf=False)
    assert response.status_code == 400
    assert _state() == before


def test_p2_1_admin_pages_show_no_recipient_data(app, admin, province, objects, holder):
    from vaxportal.recipients.services import create_recipient

    create_recipient({"full_name": "Phạm Thị Riêng Tư", "date_of_birth": date(1990, 1, 2),
                      "gender": "female", "national_id": "089190001234",
                      "phone": "0988777666"}, province["S1"].id)
    db.session.commit()
    pages = [admin.get(f"/facilities/?root={province['D1'].id}"),
             admin.get(f"/facilities/{province['S1'].id}"),
             admin.get(f"/facilities/accounts/{holder.account.id}")]
    for page in pages:
        body = html(page)
        assert page.status_code == 200
        assert "Riêng Tư" not in body and "089190001234" not in body
        assert "0988777666" not in body and "+84988777666" not in body
    assert admin.get("/recipients/").status_code == 403  # and no data route lets it in


def test_p2_1_there_is_no_way_to_act_as_another_account(app, admin, holder):
    words = ("impersonat", "act-as", "act_as", "login-as", "login_as", "become", "switch-user",
             "su/")
    for rule in app.url_map.iter_rules():
        text = f"{rule.rule} {rule.endpoint}".lower()
        assert not any(word in text for word in words), rule.rule
    page = html(admin.get(f"/facilities/accounts/{holder.account.id}"))
    assert "/auth/" not in page.split("<main", 1)[1]  # no sign-in link to another account


def test_p2_4_actions_are_recorded_with_the_acting_admin(app, admin, objects):
    admin.post(_url(app, "facilities.revoke", objects), data=REQUEST)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "revoke"))
    assert event.actor == "account:admin.cntt" and event.category == "account"
    assert event.session_id is not None and event.request_id
