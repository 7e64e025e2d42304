"""A corrected or deleted dose revokes the certificates that carry it, in the same
transaction; the revocation list holds SHA-256 hashes of UVCIs and nothing personal."""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa

from tests.helpers import fresh_otp, hidden_inputs, issue
from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.recipients.forms import IDENTITY_FORM_FIELDS
from vaxportal.recipients.models import Dose


def _latest_dose(recipient) -> Dose:
    return db.session.scalar(sa.select(Dose).where(Dose.recipient_id == recipient.id)
                             .order_by(Dose.dose_number.desc()))


def _correct(client, dose: Dose, **changes):
    fresh_otp(client)
    page = client.get(f"/recipients/doses/{dose.id}/edit").get_data(as_text=True)
    data = hidden_inputs(page) | {
        "vaccine_id": str(dose.vaccine_id), "dose_number": str(dose.dose_number),
        "given_on": dose.given_on.strftime("%d/%m/%Y"), "lot_number": "FIXED-1",
        "vaccinator": dose.vaccinator, "aefi": "none", "aefi_note": "",
        "reason": "Nhập nhầm số lô"} | changes
    response = client.post(f"/recipients/doses/{dose.id}/edit", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)


def _verify_page(client, hc1: str) -> str:
    return client.post("/verify", data={"hc1": hc1}).get_data(as_text=True)


def _outcome(page: str) -> str:
    return re.search(r'data-outcome="([a-z_]+)"', page).group(1)


def test_dose_correction_revokes_its_certificate_for_verify_and_cli(nurse, vaccinated,
                                                                    runner, app):
    certificate = issue(nurse, vaccinated)
    assert _outcome(_verify_page(app.test_client(), certificate.hc1)) == "valid"
    _correct(nurse, _latest_dose(vaccinated))
    db.session.expire_all()
    certificate = db.session.get(Certificate, certificate.id)
    assert certificate.revoked_at is not None
    assert certificate.revoked_reason == "dose_corrected"

    listed = nurse.get("/certificates/revoked").get_json()
    assert hashlib.sha256(certificate.uvci.encode()).hexdigest() in listed["hashes"]

    page = _verify_page(app.test_client(), certificate.hc1)
    assert _outcome(page) == "revoked" and "revoked" in page
    result = runner.invoke(args=["certificates", "verify", certificate.hc1])
    assert result.exit_code == 1 and result.output.startswith("revoked")
    record = nurse.get(f"/recipients/{vaccinated.id}").get_data(as_text=True)
    assert "Đã thu hồi" in record


def test_dose_deletion_revokes_its_certificate(nurse, vaccinated, app):
    certificate = issue(nurse, vaccinated)
    dose = _latest_dose(vaccinated)
    fresh_otp(nurse)
    page = nurse.get(f"/recipients/doses/{dose.id}/delete").get_data(as_text=True)
    response = nurse.post(f"/recipients/doses/{dose.id}/delete",
                          data=hidden_inputs(page) | {"reason": "Ghi trùng mũi tiêm"})
    assert response.status_code == 303
    db.session.expire_all()
    certificate = db.session.get(Certificate, certificate.id)
    assert db.session.get(Dose, dose.id) is None
    assert certificate.revoked_reason == "dose_deleted" and certificate.dose_id is None
    assert _outcome(_verify_page(app.test_client(), certificate.hc1)) == "revoked"


def test_correcting_another_dose_leaves_the_certificate_valid(nurse, vaccinated, app):
    certificate = issue(nurse, vaccinated)
    first = db.session.scalar(sa.select(Dose).where(Dose.recipient_id == vaccinated.id,
                                                    Dose.dose_number == 1))
    _correct(nurse, first)
    assert db.session.get(Certificate, certificate.id).revoked_at is None
    assert _outcome(_verify_page(app.test_client(), certificate.hc1)) == "valid"


def test_revocation_list_holds_no_personal_data(nurse, vaccinated, client):
    certificate = issue(nurse, vaccinated)
    _correct(nurse, _latest_dose(vaccinated))
    response = client.get("/certificates/revoked")  # verifiers do not sign in
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.is_json
    assert set(response.get_json()) == {"hashType", "algorithm", "hashes"}
    for secret in (certificate.uvci, "Nguyễn", "Nguy\\u1ec5n", vaccinated.national_id):
        assert secret not in body


def _identity_data(client, recipient, **changes) -> dict[str, str]:
    """The identity form as the nurse would send it: the stored values, then the changes."""
    fresh_otp(client)
    page = client.get(f"/recipients/{recipient.id}/identity").get_data(as_text=True)
    stored = {key: getattr(recipient, key) or "" for key in IDENTITY_FORM_FIELDS}
    stored["date_of_birth"] = recipient.date_of_birth.strftime("%d/%m/%Y")
    return hidden_inputs(page) | stored | changes


def test_a_corrected_name_revokes_the_certificates_that_carry_the_old_one(nurse, vaccinated,
                                                                         app):
    certificate = issue(nurse, vaccinated)
    data = _identity_data(nurse, vaccinated, full_name="Nguyễn Thị Đào Hoa")
    response = nurse.post(f"/recipients/{vaccinated.id}/identity", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expire_all()
    certificate = db.session.get(Certificate, certificate.id)
    assert certificate.revoked_reason == "identity_corrected"
    assert _outcome(_verify_page(app.test_client(), certificate.hc1)) == "revoked"


def test_a_corrected_phone_leaves_the_certificate_valid(nurse, vaccinated, app):
    certificate = issue(nurse, vaccinated)
    data = _identity_data(nurse, vaccinated, phone="0987654321")
    assert nurse.post(f"/recipients/{vaccinated.id}/identity", data=data).status_code == 303
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).revoked_at is None
    assert _outcome(_verify_page(app.test_client(), certificate.hc1)) == "valid"
