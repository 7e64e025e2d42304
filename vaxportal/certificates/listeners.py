"""Certificates follow the recipients' signals (recipients never import this package): a
corrected or deleted dose, or a corrected name or birth date, revokes the certificates that
carry the old value."""

from __future__ import annotations

from vaxportal.certificates.services import revoke_for_dose, revoke_for_recipient
from vaxportal.recipients.dosing import dose_changing, recipient_changing

#: the recipient's fields a certificate carries (``nam`` and ``dob`` of the DCC payload)
CARRIED_FIELDS = frozenset({"full_name", "date_of_birth"})


def _revoke(dose, *, change: str, **_extra) -> None:
    revoke_for_dose(dose, reason=f"dose_{change}")


def _revoke_for_identity(recipient, *, fields, **_extra) -> None:
    if CARRIED_FIELDS & set(fields):
        revoke_for_recipient(recipient, reason="identity_corrected")


def connect() -> None:
    dose_changing.connect(_revoke)
    recipient_changing.connect(_revoke_for_identity)
