"""``/verify`` and ``vaxportal certificates verify``: no sign-in, signature against the trust
list, expiry, revocation; only name, birth date and doses shown; no trace of whom."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import segno
import sqlalchemy as sa

from tests.helpers import issue
from vaxportal.audit.models import AuditEvent
from vaxportal.certificates import hcert, keys, payload
from vaxportal.certificates.services import latest_dose
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow


def _outcome(response) -> str:
    return re.search(r'data-outcome="([a-z_]+)"', response.get_data(as_text=True)).group(1)


def _tampered(hc1: str) -> str:
    """One byte of the signed payload changed, the container rebuilt around it."""
    message = hcert.unwrap(hc1)
    index = message.payload.index(b"Nguy")
    message.payload = message.payload[:index] + b"M" + message.payload[index + 1:]
    return hcert.wrap(message)


def test_verify_shows_only_name_birth_date_and_doses(nurse, vaccinated, client):
    certificate = issue(nurse, vaccinated)
    events_before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    response = client.post("/verify", data={"hc1": certificate.hc1})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and _outcome(response) == "valid"
    assert "Nguyễn Thị Đào" in page and "14/02/1985" in page
    assert "Comirnaty" in page and "23/08/2021" in page
    for secret in (vaccinated.national_id, "912345678", "Trần Hưng Đạo", certificate.uvci):
        assert secret not in page
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == events_before


def test_tampered_payload_says_invalid_signature(nurse, vaccinated, client, runner):
    bad = _tampered(issue(nurse, vaccinated).hc1)
    response = client.post("/verify", data={"hc1": bad})
    page = response.get_data(as_text=True)
    assert _outcome(response) == "invalid_signature" and "invalid signature" in page
    assert "Mguy" not in page and "14/02/1985" not in page
    result = runner.invoke(args=["certificates", "verify", bad])
    assert result.exit_code == 1 and result.output.startswith("invalid_signature")


def test_cli_verify_accepts_a_valid_certificate(nurse, vaccinated, runner):
    result = runner.invoke(args=["certificates", "verify", issue(nurse, vaccinated).hc1])
    assert result.exit_code == 0 and result.output.startswith("valid")
    assert "Nguyễn Thị Đào" in result.output and "2/2" in result.output


def test_another_signers_certificate_is_not_trusted(vaccinated, client, tmp_path):
    stranger = keys.generate(tmp_path / "x.pem", tmp_path / "x.crt", common_name="X", days=9)
    now = utcnow()
    dcc = payload.vaccination(vaccinated, latest_dose(vaccinated), uvci=payload.new_uvci(),
                              issuer="X")
    forged = hcert.encode(dcc, stranger, issued_at=now, expires_at=now + timedelta(days=9))
    assert _outcome(client.post("/verify", data={"hc1": forged})) == "unknown_key"


def test_expired_certificate_says_expired(vaccinated, client):
    now = utcnow()
    dcc = payload.vaccination(vaccinated, latest_dose(vaccinated), uvci=payload.new_uvci(),
                              issuer="X")
    old = hcert.encode(dcc, keys.signer(), issued_at=now - timedelta(days=400),
                       expires_at=now - timedelta(days=35))
    assert _outcome(client.post("/verify", data={"hc1": old})) == "expired"


def test_garbage_is_unreadable_and_keeps_what_was_typed(client):
    for text in ("HC1:", "HC1:%%%%", "hello", "HC1:" + "A" * 7990):
        response = client.post("/verify", data={"hc1": text})
        assert response.status_code == 200 and _outcome(response) == "unreadable"
    empty = client.post("/verify", data={"hc1": ""}).get_data(as_text=True)
    assert "Vui lòng dán nội dung mã QR" in empty
    long = client.post("/verify", data={"hc1": "x" * 9000})
    assert long.status_code == 200 and "Nội dung quá dài" in long.get_data(as_text=True)


def test_a_photo_of_the_qr_is_read(nurse, vaccinated, client):
    certificate = issue(nurse, vaccinated)
    photo = io.BytesIO()
    segno.make(certificate.hc1, error="q").save(photo, kind="png", scale=4)
    photo.seek(0)
    response = client.post("/verify", content_type="multipart/form-data",
                           data={"hc1": "", "photo": (photo, "qr.png")})
    assert _outcome(response) == "valid"
    not_an_image = client.post("/verify", content_type="multipart/form-data",
                               data={"photo": (io.BytesIO(b"\x89PNG junk"), "qr.png")})
    assert "Không tìm thấy mã QR" in not_an_image.get_data(as_text=True)


def test_verify_needs_csrf(client, nurse, vaccinated):
    hc1 = issue(nurse, vaccinated).hc1
    assert client.post("/verify", data={"hc1": hc1}, csrf=False).status_code == 400


def test_verify_is_rate_limited(client, app):
    app.config["CERT_VERIFY_RATE_LIMIT"] = "3 per minute"
    codes = [client.post("/verify", data={"hc1": "HC1:X"}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
