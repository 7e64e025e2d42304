"""An administrator never reaches recipient data through an account it controls (issue 11,
section 2; P2.1, P4.1, P4.2, P4.3a, P4.3c): written requests must be real letters, the
administrator role stays on the IT units, one live phone belongs to one live account, and
every action that gives a person access waits for a second person's approval."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.attacks.support import CUSTODIAN, step_up
from tests.auth.flows import html
from tests.facilities.conftest import field_error, input_value
from tests.helpers import RECENT
from vaxportal.auth.models import Account, WrittenRequest
from vaxportal.extensions import db

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
