"""Reading the trail at /audit (P2.4) within each reader's scope (P2.1: admins never see
recipient values); filters, htmx fragments, pages, before/after, time zone, escaping."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from tests.helpers import audit_rows
from vaxportal.audit import events
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.timeutil import format_date, format_datetime, local, utcnow


def html(response) -> str:
    return unescape(response.get_data(as_text=True))


def row_ids(response) -> set[int]:
    return {int(i) for i in re.findall(r'href="/audit/(\d+)"', response.get_data(as_text=True))}


def data_row(recipient, action="insert") -> AuditEvent:
    (row,) = audit_rows(entity="recipient", entity_id=str(recipient.id), action=action)
    return row


@pytest.fixture
def readers(signed_in, place):
    return {
        "supervisor": signed_in("supervisor", facility=place["d1"]),
        "reviewer": signed_in("reviewer", facility=place["doh"]),
        "admin": signed_in("admin", facility=place["doh"]),
        "data_entry": signed_in("data_entry", facility=place["s1"]),
    }


@pytest.fixture
def two(person):
    """A recipient at S1 (district D1) and one at S2 (district D2), each edited once."""
    mine = person("s1", full_name="Võ Thị Mười", national_id="089180000111")
    far = person("s2", full_name="Đặng Văn Xa", national_id="089080000222")
    for recipient in (mine, far):
        recipient.occupation = "Giáo viên"
    db.session.commit()
    return mine, far


def test_p2_4_supervisor_reads_only_its_subtree(readers, two):
    mine, far = two
    client = readers["supervisor"]
    ids = row_ids(client.get("/audit/?entity=recipient"))
    assert data_row(mine).id in ids and data_row(mine, "update").id in ids
    assert data_row(far).id not in ids and data_row(far, "update").id not in ids
    assert client.get(f"/audit/{data_row(far).id}").status_code == 404
    body = html(client.get(f"/audit/{data_row(mine, 'update').id}"))
    assert "Giáo viên" in body and "Nghề nghiệp" in body  # the field's label (fields.py)


def test_p2_4_reviewer_reads_the_whole_province_with_masked_identifiers(readers, two):
    mine, far = two
    client = readers["reviewer"]
    ids = row_ids(client.get("/audit/?entity=recipient"))
    assert {data_row(mine).id, data_row(far).id} <= ids
    body = html(client.get(f"/audit/{data_row(far).id}"))
    assert "Đặng Văn Xa" in body
    assert "089080000222" not in body and "*********222" in body  # as in the register


def test_p2_1_admin_sees_no_recipient_values_and_no_data_rows(readers, two, factory, place):
    mine, far = two
    client = readers["admin"]
    events.record("login_ok", category="access", entity="account",
                  entity_id=client.account.id, account=client.account)
    db.session.commit()
    page = client.get("/audit/?")
    body = html(page)
    assert page.status_code == 200
    for value in ("Võ Thị Mười", "Đặng Văn Xa", "089180000111", "Giáo viên"):
        assert value not in body
    shown = row_ids(page)
    data_ids = {r.id for r in audit_rows(category="data")}
    assert data_ids and not shown & data_ids
    assert audit_rows(action="login_ok")[0].id in shown
    for row in (data_row(mine), data_row(far, "update")):
        assert client.get(f"/audit/{row.id}").status_code == 404
    # access to recipient data (an identity view) is a data event: not the admin's either
    events.record("view_identity", category="access", entity="recipient", entity_id=mine.id,
                  facility_id=mine.facility_id, account=readers["supervisor"].account)
    db.session.commit()
    view = audit_rows(action="view_identity")[0]
    assert client.get(f"/audit/{view.id}").status_code == 404
    assert view.id in row_ids(readers["supervisor"].get("/audit/?views=y"))


def test_p2_1_supervisor_does_not_read_security_events(readers, two):
    client = readers["supervisor"]
    events.record("login_failed", category="access", entity="account", details={"n": 1})
    db.session.commit()
    failed = audit_rows(action="login_failed")[0]
    assert failed.id not in row_ids(client.get("/audit/"))
    assert client.get(f"/audit/{failed.id}").status_code == 404
    assert readers["admin"].get(f"/audit/{failed.id}").status_code == 200


def test_p2_4_data_entry_may_not_read_the_trail_and_the_refusal_is_recorded(readers, two):
    client = readers["data_entry"]
    assert client.get("/audit/").status_code == 403
    assert client.get(f"/audit/{data_row(two[0]).id}").status_code == 403
    refusals = audit_rows(action="permission_refused")
    assert len(refusals) == 2
    assert refusals[0].account_id == client.account.id
    assert refusals[0].details == {"endpoint": "audit.index",
                                   "permission": "read_data_audit|read_security_audit"}
    assert refusals[1].details["endpoint"] == "audit.show"


def test_p2_4_other_403_answers_are_recorded_too(app, signed_in, place):
    from flask import abort

    app.add_url_rule("/_forbidden_for_test", "forbidden_for_test", lambda: abort(403))
    client = signed_in("data_entry", facility=place["s1"])
    assert client.get("/_forbidden_for_test").status_code == 403
    (row,) = audit_rows(action="forbidden")
    assert row.details == {"endpoint": "forbidden_for_test"}
    assert row.account_id == client.account.id and row.category == "access"


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/audit/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_p2_4_recipient_history_link_lists_its_rows_in_scope(readers, two, person):
    mine, far = two
    client = readers["supervisor"]
    response = client.get(f"/audit/?entity=recipient&entity_id={mine.id}")
    ids = row_ids(response)
    assert ids == {data_row(mine).id, data_row(mine, "update").id}
    assert row_ids(client.get(f"/audit/?entity=recipient&entity_id={far.id}")) == set()


def test_recipient_page_links_to_its_history(signed_in, place, two):
    supervisor = signed_in("supervisor", facility=place["d1"])
    body = supervisor.get(f"/recipients/{two[0].id}").get_data(as_text=True)
    link = f"/audit/?entity=recipient&amp;entity_id={two[0].id}"
    assert link in body


def test_filters_by_account_person_facility_action(readers, two, factory, place, acting,
                                                   session_of):
    from tests.helpers import new_recipient

    nurse = factory.account("data_entry", place["s1"], full_name="Hồ Thị Lọc",
                            username="loc.nurse")
    with acting(nurse, session_of(nurse)):
        made = new_recipient(place["s1"].id, full_name="Người Được Lọc")
        db.session.commit()
        made_id = made.id
    (made_row,) = audit_rows(entity="recipient", entity_id=str(made_id))
    client = readers["supervisor"]
    assert row_ids(client.get("/audit/?account=LOC.NURSE")) == {made_row.id}
    custodian = nurse.current_custodian.id
    page = client.get(f"/audit/?person={custodian}")
    assert row_ids(page) == {made_row.id}
    assert "Hồ Thị Lọc (loc.nurse)" in html(client.get("/audit/"))  # the person list
    s1_rows = row_ids(client.get("/audit/?facility=s1&entity=recipient"))
    assert made_row.id in s1_rows and data_row(two[0]).id in s1_rows
    assert row_ids(client.get("/audit/?facility=S1&action=update&entity=recipient")) == {
        data_row(two[0], "update").id}


def test_filter_by_date_range_in_vietnam_days(readers, two):
    client = readers["supervisor"]
    today = format_date(local(utcnow()))
    yesterday = format_date(local(utcnow()) - timedelta(days=1))
    assert data_row(two[0]).id in row_ids(client.get(
        f"/audit/?date_from={today}&date_to={today}"))
    assert row_ids(client.get(f"/audit/?date_to={yesterday}")) == set()
    wrong = html(client.get("/audit/?date_from=31/02/2024"))
    assert "chưa hợp lệ" in wrong  # shown, and ignored


def test_htmx_gets_only_the_rows_fragment(readers, two):
    client = readers["supervisor"]
    response = client.hx("get", "/audit/?entity=recipient")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="audit-rows"') and "<html" not in body
    assert "HX-Request" in response.headers.get("Vary", "")
    full = client.get("/audit/?entity=recipient").get_data(as_text=True)
    assert 'hx-get="/audit/"' in full and 'hx-target="#audit-rows"' in full
    assert 'hx-push-url="true"' in full and 'method="get"' in full


def test_pages_by_links(app, readers, place, person):
    app.config["PAGE_SIZE"] = 5
    for _ in range(4):
        person("s1")  # one insert row each
    client = readers["supervisor"]
    first = client.get("/audit/?entity=recipient")
    assert len(row_ids(first)) == 4
    for _ in range(3):
        person("s1")
    first = client.get("/audit/?entity=recipient")
    body = first.get_data(as_text=True)
    assert len(row_ids(first)) == 5
    assert 'href="/audit/?entity=recipient&amp;page=2"' in body
    second = client.get("/audit/?entity=recipient&page=2")
    assert len(row_ids(second)) == 2
    assert not row_ids(first) & row_ids(second)


def test_p2_4_before_after_view_times_in_vietnam_and_escaped(readers, person):
    recipient = person("s1", full_name="Lê <script>alert(1)</script> Văn")
    recipient.full_name = "Lê Văn Sạch"
    db.session.commit()
    row = data_row(recipient, "update")
    response = readers["supervisor"].get(f"/audit/{row.id}")
    raw = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "Lê Văn Sạch" in html(response)
    assert format_datetime(row.at) in raw  # dd/mm/yyyy HH:MM:SS, Asia/Ho_Chi_Minh
    assert row.at.utcoffset() == timedelta(0)


def test_p2_4_secrets_never_shown(readers, factory, place):
    account = factory.account("data_entry", place["s1"])
    secret_hash = account.password_hash
    row = audit_rows(entity="account", entity_id=str(account.id), action="insert")[0]
    body = html(readers["admin"].get(f"/audit/{row.id}"))
    assert "password_hash" in body and "đã thay đổi" in body
    assert secret_hash not in body


def test_coded_fields_read_as_their_labels_with_the_code(readers, person):
    """Issue 14: a supervisor reading a change sees "Tày (02)", not a bare "02"; the labels
    are the register's own (recipients/codes.py)."""
    from vaxportal.recipients import codes

    recipient = person("s1", full_name="Võ Thị Mười")
    recipient.ethnicity, recipient.priority_group = "02", "N03"
    recipient.province, recipient.ward = "91", "30307"
    db.session.commit()
    body = html(readers["supervisor"].get(f"/audit/{data_row(recipient, 'update').id}"))
    assert "Tày (02)" in body
    assert f"{codes.label('priority_group', 'N03')} (N03)" in body
    assert f"{codes.label('province', '91')} (91)" in body and "An Giang" in body
    assert f"{codes.label('ward', '30307')} (30307)" in body and "Long Xuyên" in body
