"""Server-side sessions: logout, time-outs, "my sessions", and ending them in every process."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import PASSWORD, audit, html, login_through_forms, session_row
from vaxportal.auth import sessions
from vaxportal.auth.models import AccountStatus, UserSession
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow


def test_logout_ends_the_session_row(signed_in):
    client = signed_in("data_entry")
    row = session_row(client)
    with client.session_transaction() as sess:
        token = sess["sid"]
    response = client.post("/auth/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"
    db.session.refresh(row)
    assert row.ended_at is not None and row.end_reason == "logout"
    with client.session_transaction() as sess:  # a copied cookie no longer works
        sess["sid"] = token
    assert client.get("/").status_code == 302
    assert [(e.account_id, e.details["reason"]) for e in audit("session_ended")] == [
        (client.account.id, "logout")]


def test_logout_needs_its_csrf_token(signed_in):
    client = signed_in("data_entry")
    assert client.post("/auth/logout", csrf=False).status_code == 400
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("column, age, reason", [
    ("last_seen_at", timedelta(minutes=31), "idle"),
    ("created_at", timedelta(hours=12, minutes=1), "absolute"),
])
def test_sessions_time_out(signed_in, column, age, reason):
    client = signed_in("data_entry")
    assert client.get("/").status_code == 200
    row = session_row(client)
    setattr(row, column, utcnow() - age)
    if column == "created_at":
        row.last_seen_at = utcnow()
    db.session.commit()
    assert client.get("/").status_code == 302
    assert session_row(client).end_reason == reason


def test_p4_2_a_revoked_account_is_refused_on_its_next_request(signed_in):
    client = signed_in("data_entry")
    assert client.get("/").status_code == 200
    client.account.status = AccountStatus.revoked
    db.session.commit()
    assert client.get("/").status_code == 302
    assert session_row(client).end_reason == "revoked"


def test_p4_3a_a_handed_over_account_is_refused_on_its_next_request(signed_in):
    client = signed_in("data_entry")
    assert client.get("/auth/sessions").status_code == 200
    sessions.end_all(client.account.id, "handover")
    db.session.commit()
    response = client.get("/auth/sessions")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_my_sessions_lists_and_ends_the_others(signed_in, new_client, outbox):
    client = signed_in("data_entry")
    phone = new_client()
    login_through_forms(phone, client.account.username, PASSWORD, outbox)
    laptop = new_client()
    login_through_forms(laptop, client.account.username, PASSWORD, outbox)
    page = html(client.get("/auth/sessions"))
    assert page.count('name="session_id"') == 2 and "Phiên này" in page
    phone_row = session_row(phone)
    response = client.post("/auth/sessions", data={"session_id": phone_row.id})
    assert response.status_code == 303
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 200
    client.post("/auth/sessions")  # all the others
    assert laptop.get("/").status_code == 302 and client.get("/").status_code == 200
    assert len(audit("session_ended")) == 2


def test_my_sessions_cannot_end_someone_elses(signed_in):
    mine, theirs = signed_in("data_entry"), signed_in("data_entry")
    mine.post("/auth/sessions", data={"session_id": session_row(theirs).id})
    assert theirs.get("/").status_code == 200


def test_a_session_at_the_password_step_signs_nobody_in(client, nurse_account):
    client.post("/auth/login", data={"username": nurse_account.username, "password": PASSWORD})
    assert session_row(client).stage == "otp"
    assert client.get("/auth/sessions").status_code == 302
    count = db.session.scalar(sa.select(sa.func.count(UserSession.id)))
    assert count == 1


def _commits():
    """The commits of the (one, shared) session from now on."""
    seen = []
    sa.event.listen(db.session(), "after_commit", seen.append)
    return seen


def test_the_loader_commits_nothing_when_nothing_is_due(signed_in):
    client = signed_in("data_entry")
    commits = _commits()
    assert client.get("/auth/sessions").status_code == 200
    assert commits == []


def test_a_get_page_makes_one_commit_for_the_idle_time_out(signed_in):
    """``last_seen_at`` is written once a minute, in the request's one commit, after the page
    (the loader itself commits nothing)."""
    client = signed_in("data_entry")
    row = session_row(client)
    row.last_seen_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    commits = _commits()
    assert client.get("/auth/sessions").status_code == 200
    assert len(commits) == 1
    db.session.expire_all()
    assert utcnow() - session_row(client).last_seen_at < timedelta(minutes=1)


def test_a_view_that_commits_carries_the_touch_in_its_own_commit(signed_in):
    client = signed_in("data_entry")
    row = session_row(client)
    row.last_seen_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    commits = _commits()
    assert client.post("/auth/logout").status_code == 303
    assert len(commits) == 1


def test_an_idle_session_ends_in_the_requests_one_commit(signed_in):
    client = signed_in("data_entry")
    row = session_row(client)
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    commits = _commits()
    assert client.get("/auth/sessions").status_code == 302
    assert len(commits) == 1
    assert session_row(client).end_reason == "idle"
    assert [e.details["reason"] for e in audit("session_ended")] == ["idle"]
