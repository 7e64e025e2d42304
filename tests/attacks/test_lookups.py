"""Looking up another facility's people (P1): a duplicate check outside the account's scope
names only the facility and offers the cross-facility look-up (exact ID, reason, audited);
the field check and registration are throttled per account; an import dry run leaves in the
audit the keyed hashes of the IDs it found outside scope."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import date

import pytest
import sqlalchemy as sa

from tests.attacks.support import last_audit_id
from tests.helpers import html, last_import, spreadsheet, upload
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient

FAR_ID = "089075300301"
FAR = {"full_name": "Trần Văn Xa", "date_of_birth": date(1975, 3, 4), "gender": "male",
       "national_id": FAR_ID}
#: what a curious nurse types: the far person's ID with another name and birth date
PROBE = {"full_name": "Ai Đó", "date_of_birth": "01/01/1990", "gender": "female",
         "national_id": FAR_ID}
SECRETS = ("Trần Văn Xa", "Tran Van Xa", "04/03/1975")


@pytest.fixture
def far(person):
    """A person of station S2 (district D2): outside the nurse's scope."""
    return person("s2", **FAR)


def events_since(since: int, action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.id > since, AuditEvent.action == action).order_by(AuditEvent.id)))


def assert_only_the_facility(body: str, place) -> None:
    for secret in SECRETS:
        assert secret not in body, f"{secret!r} echoed"
    assert place["s2"].name in body


def lookup_offer(body: str) -> tuple[str, dict]:
    """The offered look-up form: its action and its inputs (the ID pre-filled)."""
    match = re.search(r'<form[^>]*action="(/recipients/lookup)"[^>]*>(.*?)</form>', body, re.S)
    assert match, "no cross-facility look-up offered"
    inputs = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', match.group(2)))
    assert 'method="post"' in match.group(0)
    return match.group(1), inputs


# -- the field check and the register form outside scope -----------------------------------


def test_p1_field_check_outside_scope_names_only_the_facility(nurse, far, place, person):
    since = last_audit_id()
    response = nurse.hx("POST", "/recipients/new/validate/national_id", data=PROBE)
    body = html(response)
    assert response.status_code == 200
    assert "Số CCCD/CMND này đã được đăng ký" in body
    assert_only_the_facility(body, place)
    assert f"/recipients/{far.id}" not in body
    action, inputs = lookup_offer(body)
    assert FAR_ID not in action and inputs.get("id_number") == FAR_ID
    assert [e.entity_id for e in events_since(since, "view_minimal")] == [str(far.id)]
    # in scope the helpful warning stays: name, birth date and a link to the record
    own = person("s1", full_name="Lê Thị Gần", national_id="089080300302")
    body = html(nurse.hx("POST", "/recipients/new/validate/national_id",
                         data=dict(PROBE, national_id=own.national_id)))
    assert "Lê Thị Gần" in body and f'href="/recipients/{own.id}"' in body


@pytest.mark.parametrize("hx", [False, True])
def test_p1_register_with_an_outside_id_names_only_the_facility(nurse, far, place, hx):
    post = nurse.hx if hx else (lambda method, url, **kw: nurse.open(url, method=method, **kw))
    response = post("POST", "/recipients/new", data=PROBE)
    body = html(response)
    assert response.status_code == 200
    assert "Số CCCD/CMND này đã được đăng ký" in body
    assert_only_the_facility(body, place)
    assert 'value="Ai Đó"' in body and 'value="01/01/1990"' in body  # what was typed stays
    _action, inputs = lookup_offer(body)
    assert inputs.get("id_number") == FAR_ID
    assert db.session.scalar(sa.select(sa.func.count(Recipient.id))) == 1


@pytest.mark.parametrize("hx", [False, True])
def test_p1_name_and_birth_date_match_outside_scope_names_only_the_facility(nurse, far, place,
                                                                           hx):
    typed = {"full_name": "tran van xa", "date_of_birth": "04/03/1975", "gender": "male"}
    post = nurse.hx if hx else (lambda method, url, **kw: nurse.open(url, method=method, **kw))
    body = html(post("POST", "/recipients/new", data=typed))
    assert "Có thể trùng" in body
    assert "Trần Văn Xa" not in body and "Tran Van Xa" not in body  # the stored spelling
    assert place["s2"].name in body
    assert 'name="confirm_duplicate" value="1"' in body


def test_p1_the_offered_look_up_needs_a_reason_and_is_audited(nurse, far, place):
    body = html(nurse.post("/recipients/new", data=PROBE))
    action, inputs = lookup_offer(body)
    inputs.pop("csrf_token", None)
    refused = nurse.post(action, data=inputs)
    assert "Vui lòng nêu lý do" in html(refused)
    assert f'value="{FAR_ID}"' in html(refused)  # the ID stays, by POST
    since = last_audit_id()
    found = nurse.post(action, data=dict(inputs, reason="Tiêm mũi nhắc tại trạm"))
    assert "Trần Văn Xa" in html(found)
    event, = events_since(since, "cross_facility_lookup")
    assert event.details["reason"] == "Tiêm mũi nhắc tại trạm"
    assert event.details["found"] == [far.id]


# -- throttled per account -------------------------------------------------------------------


@pytest.fixture
def config(config):
    config["FIELD_CHECK_RATE_LIMIT"] = "3 per minute"
    config["REGISTER_RATE_LIMIT"] = "3 per minute"
    config["LOOKUP_RATE_LIMIT"] = "3 per minute"
    return config


def test_p3_4_field_check_throttled_per_account_whatever_the_address(nurse, far, signed_in,
                                                                     place):
    since = last_audit_id()
    for n in range(3):
        response = nurse.hx("POST", "/recipients/new/validate/national_id", data=PROBE,
                            environ_base={"REMOTE_ADDR": f"10.1.0.{n + 1}"})
        assert response.status_code == 200
    throttled = nurse.hx("POST", "/recipients/new/validate/national_id", data=PROBE,
                         environ_base={"REMOTE_ADDR": "10.1.0.9"})
    assert throttled.status_code == 429
    assert "Trạm Y tế Vĩnh Mỹ" not in html(throttled)
    assert len(events_since(since, "view_minimal")) == 3  # the throttled probe never looked
    # other fields are checked as before; another account has its own allowance
    assert nurse.hx("POST", "/recipients/new/validate/full_name",
                    data=PROBE).status_code == 200
    other = signed_in("data_entry", facility=place["s1b"])
    assert other.hx("POST", "/recipients/new/validate/national_id",
                    data=PROBE).status_code == 200


def test_p3_4_registration_throttled_per_account_keeps_what_was_typed(nurse, far):
    since = last_audit_id()
    for n in range(3):
        response = nurse.post("/recipients/new", data=PROBE,
                              environ_base={"REMOTE_ADDR": f"10.2.0.{n + 1}"})
        assert response.status_code == 200
    throttled = nurse.post("/recipients/new", data=PROBE,
                           environ_base={"REMOTE_ADDR": "10.2.0.9"})
    body = html(throttled)
    assert throttled.status_code == 429
    assert "Trạm Y tế Vĩnh Mỹ" not in body
    assert 'value="Ai Đó"' in body and f'value="{FAR_ID}"' in body
    assert "quá nhiều" in body
    assert len(events_since(since, "view_minimal")) == 3
    assert nurse.get("/recipients/new").status_code == 200  # the form itself is not counted


# -- the import dry run ---------------------------------------------------------------------


def keyed(app, nid: str) -> str:
    """The hash an auditor holding AUDIT_KEY computes for an ID (never SECRET_KEY's)."""
    key = hmac.new(app.config["AUDIT_KEY"].encode(), b"vaxportal audit national-id",
                   hashlib.sha256).digest()
    return hmac.new(key, b"national_id:" + nid.encode(), hashlib.sha256).hexdigest()


def test_p2_4_import_dry_run_audits_keyed_hashes_of_ids_outside_scope(app, nurse, far, person):
    own = person("s1", full_name="Lê Thị Gần", national_id="089080300303")
    rows = [
        {"full_name": "Ai Đó", "date_of_birth": "01/01/1990", "gender": "Nữ",
         "national_id": FAR_ID},
        {"full_name": "Lê Thị Gần", "date_of_birth": "05/09/1980", "gender": "Nữ",
         "national_id": own.national_id},
        {"full_name": "Người Mới", "date_of_birth": "02/02/1992", "gender": "Nam",
         "national_id": "089092300304"},
    ]
    since = last_audit_id()
    assert upload(nurse, spreadsheet(rows)).status_code == 303
    job = last_import()
    assert job.status == "checked" and job.duplicate_rows == 2
    event, = events_since(since, "import_checked")
    assert event.entity_id == str(job.id) and event.category == "access"
    assert event.details["outside_scope_ids"] == [keyed(app, FAR_ID)]
    assert event.details["sha256"] == job.file_sha256
    assert FAR_ID not in json.dumps(event.details)
    assert hashlib.sha256(FAR_ID.encode()).hexdigest() not in json.dumps(event.details)


def test_p1_cross_facility_look_up_throttled_per_account_keeps_what_was_typed(nurse, far):
    """The audited look-up by exact ID has its own allowance per account: a signed-in account
    cannot walk the ID space through it, whatever address it comes from."""
    since = last_audit_id()
    typed = {"id_number": FAR_ID, "reason": "Tiêm mũi nhắc tại trạm"}
    for n in range(3):
        response = nurse.post("/recipients/lookup", data=typed,
                              environ_base={"REMOTE_ADDR": f"10.3.0.{n + 1}"})
        assert response.status_code == 200
    throttled = nurse.post("/recipients/lookup", data=typed,
                           environ_base={"REMOTE_ADDR": "10.3.0.9"})
    body = html(throttled)
    assert throttled.status_code == 429
    assert "quá nhiều lượt" in body and f'value="{FAR_ID}"' in body
    assert "Trần Văn Xa" not in body  # nothing was looked up
    assert len(events_since(since, "cross_facility_lookup")) == 3
