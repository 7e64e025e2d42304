"""Issuing from a recipient's page (the data-entry account of the recipient's facility,
audited), the printable page, and the record's list of certificates."""

from __future__ import annotations

from datetime import date

import segno
import sqlalchemy as sa

from tests.helpers import add_dose, issue
from vaxportal.audit.models import AuditEvent
from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose


def _certificates() -> list[Certificate]:
    return list(db.session.scalars(sa.select(Certificate)))


def test_issue_from_the_record_is_audited_and_listed(nurse, vaccinated):
    page = nurse.get(f"/recipients/{vaccinated.id}").get_data(as_text=True)
    assert f'action="/certificates/recipients/{vaccinated.id}/issue"' in page
    certificate = issue(nurse, vaccinated)
    assert certificate.issued_by_id == nurse.account.id
    assert db.session.get(Dose, certificate.dose_id).dose_number == 2  # the latest dose
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "certificate_issue"))
    assert event.entity_id == str(certificate.id) and event.account_id == nurse.account.id
    insert = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.entity == "certificate", AuditEvent.action == "insert"))
    assert insert is not None and "HC1:" not in str(insert.changes)
    record = nurse.get(f"/recipients/{vaccinated.id}").get_data(as_text=True)
    assert certificate.uvci in record and f"/certificates/{certificate.id}" in record


def test_printable_page_is_a5_bilingual_with_a_large_qr(nurse, vaccinated):
    certificate = issue(nurse, vaccinated)
    response = nurse.get(f"/certificates/{certificate.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "/static/css/certificate." in page and 'class="qr-code"' in page
    assert "Ngày sinh" in page and "Date of birth" in page
    assert "14/02/1985" in page and certificate.uvci in page
    assert vaccinated.national_id not in page and "912345678" not in page
    assert "style=" not in page and "<script>" not in page  # CSP: nothing inline
    css = nurse.get("/static/css/certificate.css").get_data(as_text=True)
    assert "size: A5" in css


def test_a_reprint_encodes_the_qr_once(nurse, vaccinated, monkeypatch):
    """The signed text of a certificate never changes: showing it again reuses its QR."""
    certificate = issue(nurse, vaccinated)
    encoded = []
    make = segno.make
    monkeypatch.setattr(segno, "make", lambda *a, **k: encoded.append(a[0]) or make(*a, **k))
    first = nurse.get(f"/certificates/{certificate.id}").get_data(as_text=True)
    again = nurse.get(f"/certificates/{certificate.id}").get_data(as_text=True)
    assert encoded == [certificate.hc1]
    qr = first[first.index("<svg"):first.index("</svg>")]
    assert qr and qr in again


def test_recipient_without_a_dose_gets_no_certificate(nurse, person):
    recipient = person()
    response = nurse.post(f"/certificates/recipients/{recipient.id}/issue")
    assert response.status_code == 303
    assert _certificates() == []
    assert "Chưa thể cấp chứng nhận" in nurse.get(response.headers["Location"]).get_data(
        as_text=True)


def test_p2_2_admin_and_other_roles_cannot_issue(signed_in, place, vaccinated):
    for role, facility in (("admin", place["doh"]), ("supervisor", place["d1"]),
                           ("reviewer", place["doh"])):
        client = signed_in(role, facility=facility)
        assert client.post(f"/certificates/recipients/{vaccinated.id}/issue").status_code == 403
    assert _certificates() == []


def test_p1_another_facilitys_recipient_answers_404(nurse, person):
    stranger = person("s2")
    add_dose(stranger, "PFIZER", date(2021, 8, 2), lot="PFIZER-1")
    assert nurse.post(f"/certificates/recipients/{stranger.id}/issue").status_code == 404
    assert _certificates() == []


def test_p1_another_facilitys_certificate_answers_404(signed_in, place, nurse, vaccinated):
    certificate = issue(nurse, vaccinated)
    other = signed_in("data_entry", facility=place["s2"])
    assert other.get(f"/certificates/{certificate.id}").status_code == 404


def test_issue_without_csrf_is_refused(nurse, vaccinated):
    response = nurse.post(f"/certificates/recipients/{vaccinated.id}/issue", csrf=False)
    assert response.status_code == 400
    assert _certificates() == []
