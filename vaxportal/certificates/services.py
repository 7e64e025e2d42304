"""Issuing, revoking and checking certificates. Functions add to the session; the caller
commits once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from vaxportal.audit import events
from vaxportal.certificates import hcert, keys, payload, valuesets
from vaxportal.certificates.models import Certificate, RevokedCertificate, uvci_hash
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.timeutil import utcnow


class NotIssuable(Exception):
    """The recipient has no dose, or the latest dose's vaccine has no DCC code."""


def latest_dose(recipient: Recipient) -> Dose | None:
    return db.session.scalar(
        sa.select(Dose).where(Dose.recipient_id == recipient.id)
        .options(joinedload(Dose.vaccine))
        .order_by(Dose.given_on.desc(), Dose.dose_number.desc(), Dose.id.desc()).limit(1))


def issue(recipient: Recipient, account) -> Certificate:
    """Sign a certificate for the recipient's latest dose (audited)."""
    dose = latest_dose(recipient)
    if dose is None or valuesets.for_code(dose.vaccine.code) is None:
        raise NotIssuable()
    signer = keys.signer()
    config = current_app.config
    uvci = payload.new_uvci(config["CERT_UVCI_ISSUER"])
    issued_at = utcnow().replace(microsecond=0)
    expires_at = issued_at + timedelta(days=int(config["CERT_VALIDITY_DAYS"]))
    dcc = payload.vaccination(recipient, dose, uvci=uvci, issuer=config["CERT_ISSUER"])
    certificate = Certificate(
        recipient_id=recipient.id, dose_id=dose.id, facility_id=recipient.facility_id,
        uvci=uvci, issued_by_id=account.id, issued_at=issued_at, expires_at=expires_at,
        hc1=hcert.encode(dcc, signer, issued_at=issued_at, expires_at=expires_at),
    )
    db.session.add(certificate)
    db.session.flush()
    events.record("certificate_issue", category="data", entity="certificate",
                  entity_id=certificate.id, facility_id=certificate.facility_id,
                  details={"recipient_id": recipient.id, "dose_id": dose.id})
    return certificate


def revoke_for_dose(dose: Dose, *, reason: str) -> int:
    """Revoke every live certificate that carries ``dose`` (corrected or deleted), in the
    caller's transaction; returns how many."""
    carrying = list(db.session.scalars(
        sa.select(Certificate).where(Certificate.dose_id == dose.id)))
    count = _revoke(carrying, reason)
    if reason == "dose_deleted":
        for certificate in carrying:
            certificate.dose_id = None
    return count


def revoke_for_recipient(recipient: Recipient, *, reason: str) -> int:
    """Revoke every live certificate of ``recipient`` (its name or birth date was corrected),
    in the caller's transaction; returns how many."""
    return _revoke(db.session.scalars(
        sa.select(Certificate).where(Certificate.recipient_id == recipient.id)), reason)


def _revoke(certificates, reason: str) -> int:
    count = 0
    for certificate in certificates:
        if certificate.revoked_at is None:
            certificate.revoked_at = utcnow()
            certificate.revoked_reason = reason
            db.session.add(RevokedCertificate(uvci_hash=uvci_hash(certificate.uvci)))
            count += 1
    return count


def revoked_hashes() -> list[str]:
    return list(db.session.scalars(
        sa.select(RevokedCertificate.uvci_hash).order_by(RevokedCertificate.uvci_hash)))


def is_revoked(uvci: str | None) -> bool:
    if not uvci:
        return False
    return db.session.get(RevokedCertificate, uvci_hash(uvci)) is not None


@dataclass
class Shown:
    """What the verification page and the CLI show: the outcome, and when the signature
    holds, only name, birth date and the doses."""

    outcome: hcert.Outcome
    name: str = ""
    birth_date: str = ""
    doses: list[dict] | None = None


def check(text: str) -> Shown:
    """Decode, check the signature with the trust list, the expiry and the revocation list.
    Records nothing about who was checked."""
    decoded = hcert.decode(text, keys.trusted_keys(), utcnow())
    if decoded.outcome in (hcert.Outcome.unreadable, hcert.Outcome.invalid_signature,
                           hcert.Outcome.unknown_key):
        return Shown(decoded.outcome)
    if decoded.outcome == hcert.Outcome.valid and is_revoked(decoded.uvci):
        decoded.outcome = hcert.Outcome.revoked
    return _shown(decoded)


def _shown(decoded: hcert.Decoded) -> Shown:
    dcc = decoded.dcc
    nam = dcc.get("nam") if isinstance(dcc.get("nam"), dict) else {}
    name = " ".join(str(nam.get(k) or "") for k in ("fn", "gn")).strip() or str(
        nam.get("fnt", ""))
    doses = []
    for entry in dcc.get("v") or []:
        if isinstance(entry, dict):
            doses.append({
                "vaccine": valuesets.PRODUCT_NAMES.get(entry.get("mp"), str(entry.get("mp"))),
                "number": entry.get("dn"), "series": entry.get("sd"),
                "given_on": _date(entry.get("dt")), "country": entry.get("co"),
            })
    return Shown(decoded.outcome, name=name, birth_date=_date(dcc.get("dob")), doses=doses)


def _date(value) -> str:
    """ISO -> dd/mm/yyyy (a partial birth date as it is)."""
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value or "")
