"""The DCC health certificate container: CWT claims in a COSE_Sign1 (ES256), zlib, Base45,
``HC1:``. Every byte is made by the libraries (cbor2, cryptography, base45, zlib); this module
only puts the pieces in the order the EU DCC specification gives them.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from vaxportal.certificates.keys import Signer

PREFIX = "HC1:"
COSE_SIGN1_TAG = 18
ALG, KID = 1, 4  # COSE header labels
ES256 = -7
CWT_ISS, CWT_EXP, CWT_IAT, CWT_HCERT = 1, 4, 6, -260
EU_DCC_V1 = 1
MAX_TEXT = 8000  # a QR code holds at most 4296 alphanumeric characters
MAX_INFLATED = 64 * 1024


def encode(dcc: dict, signer: Signer, *, issued_at: datetime, expires_at: datetime,
           issuer_country: str = "VN") -> str:
    claims = {
        CWT_ISS: issuer_country,
        CWT_IAT: int(issued_at.timestamp()),
        CWT_EXP: int(expires_at.timestamp()),
        CWT_HCERT: {EU_DCC_V1: dcc},
    }
    payload = cbor2.dumps(claims)
    protected = cbor2.dumps({ALG: ES256, KID: signer.kid})
    der = signer.key.sign(_to_be_signed(protected, payload), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    message = cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])
    return PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(message), 9)).decode("ascii")


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    """The COSE Sig_structure of a COSE_Sign1 without external data (RFC 9052, 4.4)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


class Outcome(enum.StrEnum):
    valid = "valid"
    unreadable = "unreadable"
    invalid_signature = "invalid_signature"
    unknown_key = "unknown_key"
    expired = "expired"
    revoked = "revoked"


@dataclass
class Decoded:
    """What a verifier reads from a certificate; ``outcome`` says whether to trust it."""

    outcome: Outcome
    dcc: dict = field(default_factory=dict)
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    kid: bytes | None = None

    @property
    def uvci(self) -> str | None:
        entries = self.dcc.get("v") or [{}]
        return entries[0].get("ci") if isinstance(entries[0], dict) else None


@dataclass
class Sign1:
    protected: bytes
    unprotected: dict
    payload: bytes
    signature: bytes


def unwrap(text: str) -> Sign1:
    """``HC1:...`` -> the COSE_Sign1 parts; ValueError on anything malformed."""
    text = (text or "").strip()
    if not text.startswith(PREFIX) or len(text) > MAX_TEXT:
        raise ValueError("not an HC1 string")
    try:
        compressed = base45.b45decode(text[len(PREFIX):])
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise ValueError("too large")
        message = cbor2.loads(raw)
    except (ValueError, zlib.error, cbor2.CBORDecodeError) as exc:
        raise ValueError("unreadable") from exc
    if isinstance(message, cbor2.CBORTag):
        if message.tag != COSE_SIGN1_TAG:
            raise ValueError("not a COSE_Sign1")
        message = message.value
    if not (isinstance(message, list | tuple) and len(message) == 4):
        raise ValueError("not a COSE_Sign1")
    protected, unprotected, payload, signature = message
    if not all(isinstance(p, bytes) for p in (protected, payload, signature)):
        raise ValueError("not a COSE_Sign1")
    return Sign1(protected, dict(unprotected) if isinstance(unprotected, Mapping) else {},
                 payload, signature)


def wrap(message: Sign1) -> str:
    """The inverse of ``unwrap`` (tests use it to change one byte of a payload)."""
    tagged = cbor2.CBORTag(COSE_SIGN1_TAG, [message.protected, message.unprotected,
                                            message.payload, message.signature])
    return PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(tagged), 9)).decode("ascii")


def decode(text: str, keys: dict[bytes, ec.EllipticCurvePublicKey],
           now: datetime) -> Decoded:
    """Decode and check the signature against ``keys`` and the expiry against ``now``;
    revocation is the caller's (it needs the database)."""
    try:
        message = unwrap(text)
        header = cbor2.loads(message.protected) if message.protected else {}
        claims = cbor2.loads(message.payload)
    except (ValueError, cbor2.CBORDecodeError):
        return Decoded(Outcome.unreadable)
    if not isinstance(header, Mapping) or not isinstance(claims, Mapping):
        return Decoded(Outcome.unreadable)
    kid = header.get(KID, message.unprotected.get(KID))
    key = keys.get(kid) if isinstance(kid, bytes) else None
    if key is None:
        return Decoded(Outcome.unknown_key)
    if header.get(ALG) != ES256 or not _signature_ok(key, message):
        return Decoded(Outcome.invalid_signature, kid=kid)
    hcert = claims.get(CWT_HCERT)
    dcc = hcert.get(EU_DCC_V1) if isinstance(hcert, Mapping) else None
    if not isinstance(dcc, Mapping):
        return Decoded(Outcome.unreadable, kid=kid)
    found = Decoded(Outcome.valid, dcc=_plain(dcc), kid=kid, issued_at=_time(claims.get(CWT_IAT)),
                    expires_at=_time(claims.get(CWT_EXP)))
    if found.expires_at is None or found.expires_at <= now:
        found.outcome = Outcome.expired
    return found


def _signature_ok(key: ec.EllipticCurvePublicKey, message: Sign1) -> bool:
    if len(message.signature) != 64:
        return False
    r = int.from_bytes(message.signature[:32], "big")
    s = int.from_bytes(message.signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s),
                   _to_be_signed(message.protected, message.payload), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _plain(value):
    """cbor2's immutable maps and arrays as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _time(value) -> datetime | None:
    if not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
