"""Certificates follow the recipients' dose signal (recipients never import this package)."""

from __future__ import annotations

from vaxportal.certificates.services import revoke_for_dose
from vaxportal.recipients.dosing import dose_changing


def _revoke(dose, *, change: str, **_extra) -> None:
    revoke_for_dose(dose, reason=f"dose_{change}")


def connect() -> None:
    dose_changing.connect(_revoke)
