"""A certificate issued by the app is a standard EU DCC: it decodes with the libraries, its
COSE signature verifies with the key of the trust list the CLI prints, and its payload
validates against the DCC JSON schema 1.3.0 and the EU value sets (vendored in dcc/)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from pathlib import Path

import base45
import cbor2
import jsonschema
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.helpers import issue
from vaxportal.certificates import payload

DCC = Path(__file__).parent / "dcc"


def _values(name: str) -> set[str]:
    return set(json.loads((DCC / f"{name}.json").read_text())["valueSetValues"])


def _cose(hc1: str):
    assert hc1.startswith("HC1:")
    message = cbor2.loads(zlib.decompress(base45.b45decode(hc1[4:])))
    assert isinstance(message, cbor2.CBORTag) and message.tag == 18  # COSE_Sign1
    return message.value


def test_issued_certificate_verifies_with_the_trust_list_and_validates(nurse, vaccinated,
                                                                       runner):
    certificate = issue(nurse, vaccinated)
    protected, _unprotected, raw_payload, signature = _cose(certificate.hc1)
    header = cbor2.loads(protected)
    assert header[1] == -7  # ES256

    trust = json.loads(runner.invoke(args=["certificates", "trust-list"]).output)
    der = base64.b64decode(trust[base64.b64encode(header[4]).decode()])
    assert header[4] == hashlib.sha256(der).digest()[:8]  # kid
    public_key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public_key.curve, ec.SECP256R1)
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", raw_payload])
    public_key.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                           int.from_bytes(signature[32:], "big")),
                      to_be_signed, ec.ECDSA(hashes.SHA256()))

    claims = cbor2.loads(raw_payload)
    assert claims[1] == "VN" and claims[4] > claims[6]
    dcc = claims[-260][1]
    schema = json.loads((DCC / "DCC.combined-schema-1.3.0.json").read_text())
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(dcc)
    entry = dcc["v"][0]
    assert entry["tg"] in _values("disease-agent-targeted")
    assert entry["vp"] in _values("vaccine-prophylaxis")
    assert entry["mp"] in _values("vaccine-medicinal-product")
    assert entry["ma"] in _values("vaccine-mah-manf")
    assert (entry["dn"], entry["sd"], entry["dt"], entry["co"]) == (2, 2, "2021-08-23", "VN")
    assert entry["ci"] == certificate.uvci
    assert dcc["nam"] == {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Đào", "gnt": "THI<DAO"}
    assert dcc["dob"] == "1985-02-14" and dcc["ver"] == "1.3.0"


def test_the_qr_holds_only_what_the_schema_requires(nurse, vaccinated):
    """National ID, phone and address never go into the QR."""
    certificate = issue(nurse, vaccinated)
    _protected, _u, raw_payload, _s = _cose(certificate.hc1)
    dcc = cbor2.loads(raw_payload)[-260][1]
    assert set(dcc) == {"ver", "nam", "dob", "v"}
    assert set(dcc["v"][0]) == {"tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"}
    for secret in (vaccinated.national_id, "912345678", "Trần Hưng Đạo", "female"):
        assert secret.encode() not in raw_payload


def test_every_catalogue_vaccine_maps_to_eu_value_sets():
    from vaxportal.certificates.valuesets import BY_CODE
    from vaxportal.recipients.vaccines import CATALOGUE

    assert {code for code, *_rest in CATALOGUE} == set(BY_CODE)
    for codes in BY_CODE.values():
        assert codes.vp in _values("vaccine-prophylaxis")
        assert codes.mp in _values("vaccine-medicinal-product")
        assert codes.ma in _values("vaccine-mah-manf")


def test_icao_9303_transliteration_of_vietnamese_names():
    assert payload.icao("Đặng Thị Ngọc Hân") == "DANG<THI<NGOC<HAN"
    assert payload.icao("Nguyễn-Ánh") == "NGUYEN<ANH"
    assert payload.person_name("Lý") == {"fn": "Lý", "fnt": "LY"}


def test_uvci_follows_the_dcc_format_with_its_check_character():
    uvci = payload.new_uvci()
    assert re.fullmatch(r"URN:UVCI:01:VN:VXP/[A-Z0-9]{20}#[A-Z0-9/:]", uvci)
    body, check = uvci.split("#")
    assert payload.luhn_mod_n(body) == check
    # the example of the eHealth Network's Luhn mod N implementation
    assert payload.luhn_mod_n("URN:UVCI:01:NL:187/37512422923") == "Z"


def test_keygen_writes_a_key_only_the_app_can_read(runner, app, tmp_path):
    app.config["CERT_SIGNING_KEY_FILE"] = str(tmp_path / "k" / "key.pem")
    app.config["CERT_SIGNING_CERT_FILE"] = str(tmp_path / "k" / "cert.pem")
    result = runner.invoke(args=["certificates", "keygen"])
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "k" / "key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert isinstance(key.curve, ec.SECP256R1)
    again = runner.invoke(args=["certificates", "keygen"])
    assert again.exit_code != 0  # never overwrites a key without --force
    assert key_file.read_bytes() == key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def test_without_a_configured_key_production_refuses_to_sign(app, tmp_path):
    from vaxportal.certificates import keys

    app.config["CERT_SIGNING_KEY_FILE"] = str(tmp_path / "none" / "key.pem")
    app.testing = False
    try:
        try:
            keys.signer(app)
        except keys.SigningKeyMissing:
            pass
        else:
            raise AssertionError("a key was generated outside debug/testing")
    finally:
        app.testing = True
    assert not (tmp_path / "none").exists()


def test_verifying_needs_only_the_certificate_file(app, tmp_path):
    """A verifying process (or one whose key is missing) still checks certificates: the
    trust list needs the signer's certificate, never its key; without either it is empty
    rather than an error page."""
    from vaxportal.certificates import keys

    signer = keys.signer(app)
    key_path, _cert_path = keys.paths(app)
    key_path.unlink()
    app.testing = False
    try:
        assert list(keys.trusted_keys(app)) == [signer.kid]
        app.config["CERT_SIGNING_CERT_FILE"] = str(tmp_path / "none" / "cert.pem")
        assert keys.trust_list(app) == {}
    finally:
        app.testing = True
