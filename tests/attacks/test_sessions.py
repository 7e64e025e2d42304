"""Stolen and planted session cookies: a revoked (or handed-over, or signed-out) account's
old cookie opens nothing (P4.2, P4.3a), and a cookie set before sign-in never becomes a
signed-in session (session fixation)."""

from __future__ import annotations

import pytest

from tests.attacks.support import (
    CUSTODIAN,
    DATA,
    REQUEST,
    changed_tables,
    db_state,
    plant_cookie,
    step_up,
    stolen_cookie,
)
from tests.helpers import (
    PASSWORD,
    approve_pending,
    html,
    login_through_forms,
    sent_code,
    session_row,
    sid,
    submit_password,
)
from vaxportal.auth.models import AccountStatus
from vaxportal.extensions import db

LOGIN = "/auth/login"


@pytest.fixture
def holder(client, nurse, person, outbox):
    """Station S1's account signed in through the real pages (a real cookie), and one of
    its recipients."""
    recipient = person("s1", full_name="Đặng Thị Riêng Tư")
    assert login_through_forms(client, nurse.account.username, PASSWORD,
                               outbox).status_code == 303
    assert client.get(f"/recipients/{recipient.id}").status_code == 200
    return client, nurse.account, recipient


def assert_shut_out(browser, recipient) -> None:
    """Every page sends the browser to sign in and shows nothing; a write changes nothing."""
    for url in ("/", "/recipients/", f"/recipients/{recipient.id}",
                f"/recipients/{recipient.id}/edit", "/exports/", "/auth/sessions"):
        response = browser.get(url)
        assert response.status_code == 302 and LOGIN in response.headers["Location"], url
        assert recipient.full_name not in html(response)
    before = db_state()
    response = browser.post(f"/recipients/{recipient.id}/edit",
                            data={**DATA["recipients.edit"]})
    assert response.status_code == 302 and LOGIN in response.headers["Location"]
    assert changed_tables(before, db_state()) == []


LIFECYCLE = {
    "revoke": ("revoke", REQUEST, "revoked"),
    "hand_over": ("hand-over", {**REQUEST, **CUSTODIAN, "full_name": "Người Nhận Mới"},
                  "handover"),
    "reissue_password": ("reissue-password", REQUEST, "password_reissued"),
}


@pytest.mark.parametrize("action", sorted(LIFECYCLE))
def test_p4_2_p4_3a_old_cookie_after_a_lifecycle_action_is_refused(holder, admin, new_client,
                                                                  outbox, action):
    client, account, recipient = holder
    cookie = stolen_cookie(client)
    path, data, reason = LIFECYCLE[action]
    step_up(admin, outbox)
    response = admin.post(f"/facilities/accounts/{account.id}/{path}", data=data)
    assert response.status_code == 303, html(response)
    approve_pending(admin.application)  # a hand-over takes effect once approved (P2.1)
    if action == "revoke":
        db.session.rollback()
        assert db.session.get(type(account), account.id).status == AccountStatus.revoked
    thief = new_client()
    plant_cookie(thief, cookie)
    assert_shut_out(thief, recipient)
    assert_shut_out(client, recipient)  # the holder's own browser too
    assert session_row(thief).end_reason == reason


def test_p3_4_cookie_replayed_after_logout_is_refused(holder, new_client):
    client, _account, recipient = holder
    cookie = stolen_cookie(client)
    assert client.post("/auth/logout").status_code == 303
    thief = new_client()
    plant_cookie(thief, cookie)
    assert_shut_out(thief, recipient)


def test_p4_2_revoked_account_cannot_sign_in_again(holder, admin, new_client, outbox):
    _client, account, _recipient = holder
    step_up(admin, outbox)
    admin.post(f"/facilities/accounts/{account.id}/revoke", data=REQUEST)
    before = len(outbox())
    response = submit_password(new_client(), account.username, PASSWORD)
    assert response.status_code == 200 and "đã bị thu hồi" in html(response)
    assert len(outbox()) == before  # no code is sent to a revoked account


# -- session fixation -------------------------------------------------------------------------


def test_p3_4_a_session_id_planted_before_sign_in_does_not_survive(client, new_client, nurse,
                                                                   outbox):
    """The attacker writes a session id of its choosing into the victim's cookie; after the
    victim signs in, that id opens nothing and the victim's session id is a new one."""
    with client.session_transaction() as sess:
        sess["sid"] = "attacker-knows-this-token"
    planted = stolen_cookie(client)
    assert login_through_forms(client, nurse.account.username, PASSWORD,
                               outbox).status_code == 303
    assert sid(client) not in (None, "attacker-knows-this-token")
    attacker = new_client()
    plant_cookie(attacker, planted)
    response = attacker.get("/recipients/")
    assert response.status_code == 302 and LOGIN in response.headers["Location"]


def test_p3_4_attackers_own_half_open_session_does_not_become_the_victims(
        client, new_client, factory, place, nurse, outbox):
    """The attacker passes its own password, then plants that cookie (a session at the code
    step) in the victim's browser. The victim signs in there; the attacker's copy of the
    cookie stays useless, and each step of the sign-in gave a new session id."""
    attacker_account = factory.account(facility=place["s1b"], username="ke.gian")
    attacker = new_client()
    assert submit_password(attacker, attacker_account.username, PASSWORD).status_code == 303
    half_open = stolen_cookie(attacker)
    half_open_sid = sid(attacker)
    plant_cookie(client, half_open)  # e.g. through a sibling subdomain or a shared computer
    before = len(outbox())
    assert submit_password(client, nurse.account.username, PASSWORD).status_code == 303
    at_code = sid(client)
    response = client.post("/auth/otp", data={"code": sent_code(outbox, before)})
    assert response.status_code == 303
    signed_in = sid(client)
    assert len({half_open_sid, at_code, signed_in}) == 3
    assert client.get("/recipients/").status_code == 200
    replay = new_client()
    plant_cookie(replay, half_open)
    response = replay.get("/recipients/")
    assert response.status_code == 302 and LOGIN in response.headers["Location"]
    assert session_row(replay).end_reason == "replaced"
    # and the attacker's browser cannot finish the victim's sign-in
    response = attacker.post("/auth/otp", data={"code": sent_code(outbox, before)})
    assert response.status_code in (200, 303)
    assert attacker.get("/recipients/").status_code == 302


def test_p3_4_an_anonymous_cookie_is_replaced_at_sign_in(client, new_client, nurse, outbox):
    assert client.get(LOGIN).status_code == 200
    anonymous = stolen_cookie(client)  # what an attacker can get from the site for itself
    assert login_through_forms(client, nurse.account.username, PASSWORD,
                               outbox).status_code == 303
    assert stolen_cookie(client) != anonymous
    attacker = new_client()
    plant_cookie(attacker, anonymous)
    assert attacker.get("/recipients/").status_code == 302
