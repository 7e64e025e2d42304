"""Where the step-up meets the scope (P1, P3.4): an id outside the account's scope answers 404
before any code is asked for or sent, so a curious account cannot make the platform text it
about another facility's records; and an edit that does not say which version it changes is a
conflict, never a blind save."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.attacks.support import DATA
from tests.helpers import html
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient, Vaccine


@pytest.fixture
def far_dose(person):
    recipient = person("s2", full_name="Trần Văn Xa")
    vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == "AZ"))
    dose = Dose(recipient_id=recipient.id, facility_id=recipient.facility_id,
                vaccine_id=vaccine.id, lot_number="AZ-1", dose_number=1,
                given_on=date(2021, 6, 1), vaccinator="Lê Thị Tiêm")
    db.session.add(dose)
    db.session.commit()
    return dose


def sms_count(outbox) -> int:
    return len(outbox())


@pytest.mark.parametrize("endpoint, url", [
    ("recipients.save_identity", "/recipients/{recipient}/identity"),
    ("recipients.dose_correct", "/doses/{dose}/edit"),
    ("recipients.dose_delete", "/doses/{dose}/delete"),
])
@pytest.mark.parametrize("hx", [False, True])
def test_p3_4_outside_scope_answers_404_before_any_code_is_sent(nurse, far_dose, outbox,
                                                                endpoint, url, hx):
    url = url.format(recipient=far_dose.recipient_id, dose=far_dose.id)
    if not url.startswith("/recipients"):
        url = "/recipients" + url
    before = sms_count(outbox)
    data = dict(DATA[endpoint])
    response = nurse.hx("POST", url, data=data) if hx else nurse.post(url, data=data)
    assert response.status_code == 404, html(response)
    assert "stepup_code" not in html(response)
    assert sms_count(outbox) == before
    # a resend asked of the prompt directly is no different
    response = nurse.post(url, data=dict(data, stepup_resend="1"))
    assert response.status_code == 404
    assert sms_count(outbox) == before


@pytest.mark.parametrize("url", [
    "/facilities/accounts/{missing}/revoke",
    "/facilities/accounts/{missing}/hand-over",
    "/facilities/accounts/{missing}/reissue-password",
    "/facilities/accounts/{missing}/details",
    "/facilities/accounts/{missing}/unlock",
    "/facilities/accounts/{missing}/delegate",
    "/facilities/delegations/{missing}/end",
    "/facilities/{missing}/accounts/new",
])
def test_p3_4_admin_action_on_a_missing_object_sends_no_code(admin, outbox, url):
    before = sms_count(outbox)
    response = admin.post(url.format(missing=987654), data={"reason": "x"})
    assert response.status_code == 404, html(response)
    assert sms_count(outbox) == before


# -- optimistic locking: the version is part of the edit --------------------------------------


def test_recipient_edit_without_version_id_is_a_conflict(nurse, person):
    recipient = person("s1", occupation="Nông dân")
    response = nurse.post(f"/recipients/{recipient.id}/edit",
                          data={"occupation": "Giáo viên", "ethnicity": "",
                                "nationality": "", "priority_group": ""})
    assert response.status_code == 409, html(response)
    assert 'value="Giáo viên"' in html(response)  # what was typed is kept
    db.session.expire_all()
    assert db.session.get(Recipient, recipient.id).occupation == "Nông dân"

