"""The document signer: an ECDSA P-256 key and its self-signed certificate (PEM files).

The key is read from ``CERT_SIGNING_KEY_FILE`` (a file readable only by the app), never from
the database. Without configured files, debug and testing runs generate a pair under
``instance/``; anywhere else a missing key is an error the operator must fix
(``vaxportal certificates keygen``).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, current_app

from vaxportal.timeutil import utcnow


class SigningKeyMissing(RuntimeError):
    """No document-signer key is configured (production must configure one)."""


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def kid(self) -> bytes:
        return key_id(self.certificate)


def key_id(certificate: x509.Certificate) -> bytes:
    """The DCC key id: the first 8 bytes of the SHA-256 of the DER certificate."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()[:8]


def paths(app: Flask) -> tuple[Path, Path]:
    instance = Path(app.instance_path)
    key = app.config.get("CERT_SIGNING_KEY_FILE") or instance / "cert_signing_key.pem"
    cert = app.config.get("CERT_SIGNING_CERT_FILE") or instance / "cert_signing_cert.pem"
    return Path(key), Path(cert)


def generate(key_path: Path, cert_path: Path, *, common_name: str, days: int) -> Signer:
    """A new P-256 key (written 0600) and a self-signed document-signer certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    key_path.chmod(0o600)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Signer(key, certificate)


def signer(app: Flask | None = None) -> Signer:
    """The configured signer; generated under instance/ only in debug or testing."""
    app = app or current_app._get_current_object()
    key_path, cert_path = paths(app)
    if not (key_path.exists() and cert_path.exists()):
        if not (app.debug or app.testing):
            raise SigningKeyMissing(
                "VAXPORTAL_CERT_SIGNING_KEY_FILE / VAXPORTAL_CERT_SIGNING_CERT_FILE are not "
                "readable. Create them with `vaxportal certificates keygen`.")
        return generate(key_path, cert_path, common_name=app.config["CERT_SIGNER_NAME"],
                         days=int(app.config["CERT_SIGNER_DAYS"]))
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SigningKeyMissing("The document-signer key must be an ECDSA P-256 key.")
    return Signer(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


def trust_list(app: Flask | None = None) -> dict[str, str]:
    """``{kid (base64): DER certificate (base64)}`` of the certificates verifiers trust: the
    current signer's and any older ones named in ``CERT_TRUSTED_CERT_FILES``."""
    app = app or current_app._get_current_object()
    current = _current_certificate(app)
    certificates = [current] if current is not None else []
    for extra in app.config.get("CERT_TRUSTED_CERT_FILES") or ():
        certificates.append(x509.load_pem_x509_certificate(Path(extra).read_bytes()))
    return {
        base64.b64encode(key_id(c)).decode(): base64.b64encode(
            c.public_bytes(serialization.Encoding.DER)).decode()
        for c in certificates
    }


def _current_certificate(app: Flask) -> x509.Certificate | None:
    """The signer's certificate: verifying needs only this file, never the key."""
    _key_path, cert_path = paths(app)
    if cert_path.exists():
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    if app.debug or app.testing:
        return signer(app).certificate
    return None


def trusted_keys(app: Flask | None = None) -> dict[bytes, ec.EllipticCurvePublicKey]:
    """kid -> public key, from the trust list."""
    keys = {}
    for kid, der in trust_list(app).items():
        certificate = x509.load_der_x509_certificate(base64.b64decode(der))
        keys[base64.b64decode(kid)] = certificate.public_key()
    return keys
