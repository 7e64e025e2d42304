"""The DCC 1.3.0 vaccination payload: only what the schema requires (name, birth date, one
vaccination entry). National ID, phone, address and everything else stay out."""

from __future__ import annotations

import re
import secrets

from vaxportal.certificates import valuesets
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.text import fold

SCHEMA_VERSION = "1.3.0"
COUNTRY = "VN"
#: the Luhn mod N alphabet of the DCC UVCI check character
_LUHN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"
_OPAQUE = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the phone


def icao(name: str) -> str:
    """ICAO 9303 transliteration: A-Z and '<' only (Vietnamese diacritics folded, Đ -> D,
    spaces and hyphens -> '<')."""
    upper = fold(name).upper()
    return re.sub(r"[^A-Z<]", "", re.sub(r"[\s\-]+", "<", upper))[:80]


def split_name(full_name: str) -> tuple[str, str]:
    """Vietnamese order: the family name first, the given names after it."""
    words = full_name.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def person_name(full_name: str) -> dict:
    family, given = split_name(full_name)
    name = {"fn": family[:80], "fnt": icao(family)}
    if given:
        name.update(gn=given[:80], gnt=icao(given))
    return name


def new_uvci(prefix: str = "VXP") -> str:
    """``URN:UVCI:01:VN:<issuer>/<opaque>#<check>`` (eHealth Network UVCI, option 3: an
    opaque identifier; the check character is Luhn mod N over the whole string)."""
    opaque = "".join(secrets.choice(_OPAQUE) for _ in range(20))
    body = f"URN:UVCI:01:{COUNTRY}:{prefix}/{opaque}"
    return f"{body}#{luhn_mod_n(body)}"


def luhn_mod_n(text: str) -> str:
    n = len(_LUHN)
    factor, total = 2, 0
    for char in reversed([c for c in text if c in _LUHN]):
        addend = factor * _LUHN.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return _LUHN[(n - total % n) % n]


def vaccination(recipient: Recipient, dose: Dose, *, uvci: str, issuer: str) -> dict:
    codes = valuesets.for_code(dose.vaccine.code)
    if codes is None:
        raise LookupError(dose.vaccine.code)
    return {
        "ver": SCHEMA_VERSION,
        "nam": person_name(recipient.full_name),
        "dob": recipient.date_of_birth.isoformat(),
        "v": [{
            "tg": valuesets.TARGET_COVID19,
            "vp": codes.vp,
            "mp": codes.mp,
            "ma": codes.ma,
            "dn": dose.dose_number,
            "sd": max(dose.vaccine.doses_in_series, dose.dose_number),
            "dt": dose.given_on.isoformat(),
            "co": COUNTRY,
            "is": issuer[:80],
            "ci": uvci,
        }],
    }
