"""P2.4: every session that ends is in the audit trail as ``session_ended`` with its reason:
idle and absolute time-outs, revocation, sign-out, and the user ending it (a lock-out ends
no session: ``tests/attacks/test_lockout_weapon.py``). The event is
committed with the change that ended the session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import RECENT, audit, session_row
from vaxportal.auth.models import AccountStatus
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

REQUEST = {"ref_number": "45/SYT-NVY", "ref_date": RECENT,
           "reason": "Đơn vị đề nghị thu hồi tài khoản"}


def ended(reason: str | None = None) -> list:
    events = audit("session_ended")
    return [e for e in events if reason is None or e.details["reason"] == reason]


def assert_recorded(event, account, row, actor) -> None:
    assert event.category == "access" and event.entity == "account"
    assert event.entity_id == str(account.id) and event.facility_id == account.facility_id
    assert event.details["session_ids"] == [row.id] and event.details["count"] == 1
    assert event.account_id == actor.id  # who ended it (the account itself on its request)


def _idle(row, account):
    row.last_seen_at = utcnow() - timedelta(minutes=31)


def _absolute(row, account):
    row.created_at = utcnow() - timedelta(hours=12, minutes=1)
    row.last_seen_at = utcnow()


def _revoked(row, account):
    account.status = AccountStatus.revoked


@pytest.mark.parametrize("reason, change", [
    ("idle", _idle), ("absolute", _absolute), ("revoked", _revoked),
])
def test_p2_4_a_session_found_ended_on_its_request_is_recorded(signed_in, reason, change):
    client = signed_in("data_entry")
    assert client.get("/").status_code == 200
    row = session_row(client)
    change(row, client.account)
    db.session.commit()
    assert client.get("/").status_code == 302
    (event,) = ended()
    assert event.details["reason"] == reason and session_row(client).end_reason == reason
    assert_recorded(event, client.account, row, actor=client.account)
    assert client.get("/").status_code == 302 and len(ended()) == 1  # recorded once


def test_p2_4_p4_2_a_revocation_records_the_sessions_it_ends(signed_in):
    holder = signed_in("data_entry")
    admin = signed_in("admin")
    session_row(admin).step_up_at = utcnow()
    db.session.commit()
    row = session_row(holder)
    response = admin.post(f"/facilities/accounts/{holder.account.id}/revoke", data=REQUEST)
    assert response.status_code == 303
    (event,) = ended("revoked")
    assert_recorded(event, holder.account, row, actor=admin.account)
    assert holder.get("/").status_code == 302 and len(ended()) == 1


def test_p2_4_sign_out_is_recorded_as_a_session_end(signed_in):
    client = signed_in("data_entry")
    row = session_row(client)
    assert client.post("/auth/logout").status_code == 303
    (event,) = ended("logout")
    assert_recorded(event, client.account, row, actor=client.account)
