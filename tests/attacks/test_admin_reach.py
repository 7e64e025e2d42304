"""An administrator never reaches recipient data through an account it controls (issue 11,
section 2; P2.1, P4.1, P4.2, P4.3a, P4.3c): written requests must be real letters, the
administrator role stays on the IT units, one live phone belongs to one live account, and
every action that gives a person access waits for a second person's approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.attacks.support import CUSTODIAN, step_up
from tests.helpers import RECENT, field_error, html, input_value
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.models import Account, AccountStatus, WrittenRequest
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, PendingAction
from vaxportal.timeutil import utcnow

LETTER = {"ref_number": "123/SYT-NVY", "ref_date": RECENT,
          "reason": "Theo công văn đề nghị của đơn vị"}


def _reload(account: Account) -> Account:
    db.session.expire_all()
    return db.session.get(Account, account.id)


def _letters(account: Account) -> list[WrittenRequest]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WrittenRequest).where(
        WrittenRequest.account_id == account.id)))


@pytest.fixture
def fresh_admin(admin, outbox):
    step_up(admin, outbox)
    return admin


# -- written requests (P4.2, P4.3c) ------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"ref_number": "-"}, "ref_number"),
    ({"ref_number": "abc"}, "ref_number"),
    ({"ref_number": "123/syt-nvy"}, "ref_number"),
    ({"ref_date": "05/09/2000"}, "ref_date"),
    ({"ref_date": "05/09/2024"}, "ref_date"),
    ({"reason": "."}, "reason"),
    ({"reason": "   ngắn    "}, "reason"),
])
def test_p4_3c_a_made_up_written_request_is_refused(fresh_admin, nurse, change, field):
    data = LETTER | change
    response = fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/reissue-password",
                                data=data)
    assert response.status_code == 200
    page = html(response)
    assert field_error(page, field), page
    assert input_value(page, "reason") == data["reason"].strip()  # nothing typed is lost
    assert input_value(page, "ref_number") == data["ref_number"]
    assert _letters(nurse.account) == []


# -- the administrator role and the phone (P4.1) ---------------------------------------------


def test_p4_1_admin_role_is_refused_on_a_commune_station(fresh_admin, place):
    response = fresh_admin.post(f"/facilities/{place['s1b'].id}/accounts/new", data={
        "username": "tyt.mylong", "role": "admin", "phone": "0912 000 444", **CUSTODIAN})
    assert response.status_code == 200
    assert field_error(html(response), "role")
    assert db.session.scalar(sa.select(Account).where(Account.username == "tyt.mylong")) is None


def test_p4_1_a_station_account_cannot_be_given_the_admin_role(fresh_admin, nurse):
    response = fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/details", data={
        **LETTER, "role": "admin", "phone": nurse.account.phone})
    assert response.status_code == 200
    assert field_error(html(response), "role")
    assert _reload(nurse.account).role == "data_entry"


def test_p4_1_a_live_phone_cannot_be_bound_to_a_second_account_at_issue(fresh_admin, nurse,
                                                                         place):
    response = fresh_admin.post(f"/facilities/{place['s1b'].id}/accounts/new", data={
        "username": "tyt.mylong", "role": "data_entry", "phone": nurse.account.phone,
        **CUSTODIAN})
    assert response.status_code == 200
    assert field_error(html(response), "phone")
    assert db.session.scalar(sa.select(Account).where(Account.username == "tyt.mylong")) is None


def test_p4_1_a_live_phone_cannot_be_taken_by_hand_over_or_phone_change(fresh_admin, nurse,
                                                                         signed_in, place):
    other = signed_in("data_entry", facility=place["s2"], username="tyt.vinhmy").account
    response = fresh_admin.post(f"/facilities/accounts/{other.id}/hand-over", data={
        **LETTER, **CUSTODIAN, "new_phone": nurse.account.phone})
    assert response.status_code == 200
    assert field_error(html(response), "new_phone")
    response = fresh_admin.post(f"/facilities/accounts/{other.id}/details", data={
        **LETTER, "role": "data_entry", "phone": nurse.account.phone})
    assert response.status_code == 200
    assert field_error(html(response), "phone")
    other = _reload(other)
    assert other.phone != nurse.account.phone and _letters(other) == []


def test_p4_1_the_database_refuses_a_second_live_account_on_one_phone(factory, nurse, place):
    """Past every form (two approvals racing, a script at the database): the partial unique
    index refuses a second live account on a live phone; a revoked account's phone is free."""
    with pytest.raises(sa.exc.IntegrityError):
        factory.account("data_entry", facility=place["s1b"], username="tyt.mylong",
                        phone=nurse.account.phone)
    db.session.rollback()
    db.session.execute(sa.update(Account).where(Account.id == nurse.account.id)
                       .values(status=AccountStatus.revoked))
    db.session.commit()
    again = factory.account("data_entry", facility=place["s1b"], username="tyt.mylong",
                            phone=nurse.account.phone)
    assert again.phone == nurse.account.phone


# -- two people for access (P2.1) ---------------------------------------------------------------


@pytest.fixture
def second_admin(signed_in, place, outbox):
    """Another administrator (a Department of Health's IT unit), with a fresh OTP."""
    client = signed_in("admin", facility=place["doh"], username="admin.syt",
                       full_name="Châu Văn Duyệt")
    step_up(client, outbox)
    return client


@pytest.fixture
def support(factory, place):
    """A support unit's data-entry account (letter item 3)."""
    unit = factory.facility("VT", "support_unit", parent=place["doh"], name="Viettel An Giang")
    return factory.account("data_entry", unit, username="viettel.ag")


def _pending(kind: str) -> PendingAction:
    db.session.expire_all()
    return db.session.scalar(sa.select(PendingAction).where(PendingAction.kind == kind)
                             .order_by(PendingAction.id.desc()))


def _initial_passwords(outbox) -> list[dict]:
    return [m for m in outbox() if m["kind"] == "initial_password"]


def _events(*actions) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.in_(actions))
                                   .order_by(AuditEvent.id)))


def test_p2_1_a_hand_over_takes_effect_only_after_another_admin_approves(
        fresh_admin, second_admin, nurse, outbox):
    account = nurse.account
    response = fresh_admin.post(f"/facilities/accounts/{account.id}/hand-over", data={
        **LETTER, **CUSTODIAN, "full_name": "Người Nhận Mới", "new_phone": "0912 000 777"})
    assert response.status_code == 303, html(response)
    account = _reload(account)
    assert account.current_custodian.full_name == "Trần Thị Nhập"
    assert account.phone != "+84912000777" and _initial_passwords(outbox) == []
    assert nurse.get("/").status_code == 200  # the holder's session goes on meanwhile
    pending = _pending("hand_over")
    # the requester cannot approve their own request, not even with a fresh code
    assert fresh_admin.post(f"/facilities/approvals/{pending.id}/approve").status_code == 404
    assert _pending("hand_over").status == "pending"
    page = html(second_admin.get("/facilities/approvals"))
    assert "Người Nhận Mới" in page and f"/facilities/approvals/{pending.id}/approve" in page
    assert "Chờ phê duyệt (1)" in page
    response = second_admin.post(f"/facilities/approvals/{pending.id}/approve")
    assert response.status_code == 303, html(response)
    account = _reload(account)
    assert account.current_custodian.full_name == "Người Nhận Mới"
    assert account.phone == "+84912000777"
    assert [m["to"] for m in _initial_passwords(outbox)] == ["+84912000777"]
    assert _pending("hand_over").status == "approved"
    request, approval = _events("request_hand_over", "approve_hand_over")
    assert request.account_id == fresh_admin.account.id and request.category == "account"
    assert approval.account_id == second_admin.account.id
    assert approval.details["pending_id"] == pending.id


def test_p2_1_an_issued_account_and_its_password_exist_only_after_approval(
        fresh_admin, second_admin, place, outbox):
    data = {"username": "tyt.mylong", "role": "data_entry", "phone": "0912 000 444",
            **CUSTODIAN}
    response = fresh_admin.post(f"/facilities/{place['s1b'].id}/accounts/new", data=data)
    assert response.status_code == 303, html(response)
    assert db.session.scalar(sa.select(Account).where(Account.username == "tyt.mylong")) is None
    assert _initial_passwords(outbox) == []
    pending = _pending("issue")
    assert second_admin.post(f"/facilities/approvals/{pending.id}/approve").status_code == 303
    db.session.expire_all()
    issued = db.session.scalar(sa.select(Account).where(Account.username == "tyt.mylong"))
    assert issued is not None and issued.facility_id == place["s1b"].id
    assert [m["to"] for m in _initial_passwords(outbox)] == ["+84912000444"]
    assert _pending("issue").account_id == issued.id


def test_p2_1_a_role_or_phone_change_waits_for_approval(fresh_admin, second_admin, nurse):
    account = nurse.account
    response = fresh_admin.post(f"/facilities/accounts/{account.id}/details", data={
        **LETTER, "role": "supervisor", "phone": account.phone})
    assert response.status_code == 303, html(response)
    assert _reload(account).role == "data_entry"
    pending = _pending("change_details")
    assert second_admin.post(f"/facilities/approvals/{pending.id}/approve").status_code == 303
    assert _reload(account).role == "supervisor"


def test_p2_1_a_delegation_is_approved_by_the_data_owner_only(fresh_admin, second_admin,
                                                              support, nurse, signed_in, place,
                                                              outbox):
    response = fresh_admin.post(f"/facilities/accounts/{support.id}/delegate", data={
        **LETTER, "facility_code": "S1", "starts_on": RECENT, "ends_on": "31/12/2099"})
    assert response.status_code == 303, html(response)
    assert db.session.scalars(sa.select(Delegation)).all() == []
    pending = _pending("delegate")
    # another admin is not the data owner; nor is another facility's account
    assert second_admin.post(f"/facilities/approvals/{pending.id}/approve").status_code == 404
    stranger = signed_in("data_entry", facility=place["s2"], username="tyt.vinhmy")
    step_up(stranger, outbox)
    assert stranger.post(f"/facilities/approvals/{pending.id}/approve").status_code == 404
    assert "viettel.ag" not in html(stranger.get("/facilities/approvals"))
    assert db.session.scalars(sa.select(Delegation)).all() == []
    # the station's own account decides, with its own fresh code
    assert "viettel.ag" in html(nurse.get("/facilities/approvals"))
    prompt = nurse.post(f"/facilities/approvals/{pending.id}/approve")
    assert prompt.status_code == 200 and 'name="stepup_code"' in html(prompt)
    assert db.session.scalars(sa.select(Delegation)).all() == []
    step_up(nurse, outbox)
    assert nurse.post(f"/facilities/approvals/{pending.id}/approve").status_code == 303
    db.session.expire_all()
    delegation = db.session.scalar(sa.select(Delegation))
    assert delegation.account_id == support.id and delegation.facility_id == place["s1"].id
    assert [e.account_id for e in _events("approve_delegate")] == [nurse.account.id]


def test_p2_1_an_approval_needs_the_approvers_own_fresh_code(fresh_admin, signed_in, place,
                                                             nurse):
    other = signed_in("admin", facility=place["doh"], username="admin.syt")  # not fresh
    fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/details", data={
        **LETTER, "role": "supervisor", "phone": nurse.account.phone})
    pending = _pending("change_details")
    prompt = other.post(f"/facilities/approvals/{pending.id}/approve")
    assert prompt.status_code == 200 and 'name="stepup_code"' in html(prompt)
    assert _reload(nurse.account).role == "data_entry"
    assert _pending("change_details").status == "pending"


def test_p2_1_a_refused_request_never_takes_effect(fresh_admin, second_admin, nurse, outbox):
    fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/hand-over", data={
        **LETTER, **CUSTODIAN, "full_name": "Người Nhận Mới"})
    pending = _pending("hand_over")
    assert second_admin.post(f"/facilities/approvals/{pending.id}/refuse").status_code == 303
    assert _pending("hand_over").status == "refused"
    assert second_admin.post(f"/facilities/approvals/{pending.id}/approve").status_code == 404
    assert _reload(nurse.account).current_custodian.full_name == "Trần Thị Nhập"
    assert _initial_passwords(outbox) == []
    assert [e.account_id for e in _events("refuse_hand_over")] == [second_admin.account.id]


def test_p2_1_an_old_request_expires_unapproved(fresh_admin, second_admin, nurse):
    fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/details", data={
        **LETTER, "role": "supervisor", "phone": nurse.account.phone})
    pending = _pending("change_details")
    pending.requested_at = utcnow() - timedelta(hours=73)  # ACCOUNT_APPROVAL_HOURS is 72
    db.session.commit()
    assert f"/approvals/{pending.id}/approve" not in html(second_admin.get("/facilities/approvals"))
    assert second_admin.post(f"/facilities/approvals/{pending.id}/approve").status_code == 303
    assert _pending("change_details").status == "expired"
    assert _reload(nurse.account).role == "data_entry"


# -- the people told (P4.2, P4.3a, P4.3c) and the SMS cap ------------------------------------


def _notices(outbox) -> dict[str, str]:
    return {m["to"]: m["body"] for m in outbox() if m["kind"] == "account_notice"}


@pytest.fixture
def district(signed_in, place):
    """D1's account: the facility supervising station S1."""
    return signed_in("supervisor", facility=place["d1"], username="ttyt.longxuyen").account


def test_p4_3a_a_hand_over_is_told_to_the_previous_holder_and_the_supervisor(
        fresh_admin, second_admin, nurse, district, outbox):
    old_phone = nurse.account.phone
    fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/hand-over", data={
        **LETTER, **CUSTODIAN, "full_name": "Người Nhận Mới", "new_phone": "0912 000 777"})
    assert _notices(outbox) == {}  # nothing happened yet
    second_admin.post(f"/facilities/approvals/{_pending('hand_over').id}/approve")
    notices = _notices(outbox)
    assert set(notices) == {old_phone, district.phone}
    assert nurse.account.username in notices[old_phone] and "123/SYT-NVY" in notices[old_phone]
    assert "Người Nhận Mới" not in notices[old_phone]


def test_p4_3c_a_phone_change_is_told_to_the_old_phone_and_the_supervisor(
        fresh_admin, second_admin, nurse, district, outbox):
    old_phone = nurse.account.phone
    fresh_admin.post(f"/facilities/accounts/{nurse.account.id}/details", data={
        **LETTER, "role": "data_entry", "phone": "0912 000 888"})
    second_admin.post(f"/facilities/approvals/{_pending('change_details').id}/approve")
    assert _reload(nurse.account).phone == "+84912000888"
    assert set(_notices(outbox)) == {old_phone, district.phone}


def test_p2_1_a_delegation_start_is_told_to_the_supervising_facility(
        fresh_admin, support, nurse, district, outbox):
    fresh_admin.post(f"/facilities/accounts/{support.id}/delegate", data={
        **LETTER, "facility_code": "S1", "starts_on": RECENT, "ends_on": "31/12/2099"})
    step_up(nurse, outbox)
    nurse.post(f"/facilities/approvals/{_pending('delegate').id}/approve")
    notices = _notices(outbox)
    assert list(notices) == [district.phone] and "viettel.ag" in notices[district.phone]


def test_p4_3c_admin_actions_send_an_account_a_capped_number_of_sms_an_hour(
        app, fresh_admin, nurse, outbox):
    url = f"/facilities/accounts/{nurse.account.id}/reissue-password"
    limit = app.config["OTP_RESEND_PER_HOUR"]
    for _n in range(limit):
        assert fresh_admin.post(url, data=LETTER).status_code == 303
    refused = fresh_admin.post(url, data=LETTER)
    assert refused.status_code == 200 and "trong một giờ qua" in html(refused)
    assert len(_initial_passwords(outbox)) == limit
    assert len(_letters(nurse.account)) == limit
