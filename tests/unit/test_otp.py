import pyotp
import pytest
from cryptography.fernet import InvalidToken

from vaxportal.auth import otp

KEY = b"k" * 32
NOW = 1_700_000_015.0  # 15 s into step 56_666_667
STEP = int(NOW // 30)


def test_sms_code_is_six_random_digits():
    codes = {otp.generate_sms_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def test_code_hash_bound_to_key_and_context():
    stored = otp.hash_code("123456", key=KEY, context="login:7")
    assert stored != "123456" and len(stored) == 64
    assert otp.code_matches(stored, "123456", key=KEY, context="login:7")
    assert otp.code_matches(stored, " 123 456 ", key=KEY, context="login:7")
    assert not otp.code_matches(stored, "123457", key=KEY, context="login:7")
    assert not otp.code_matches(stored, "123456", key=KEY, context="export:7")
    assert not otp.code_matches(stored, "123456", key=b"other", context="login:7")
    assert not otp.code_matches("", "123456", key=KEY, context="login:7")


def test_secret_encryption_round_trip_and_wrong_key():
    secret = otp.new_totp_secret()
    assert len(secret) >= 16
    token = otp.encrypt_secret(secret, "config-key")
    assert secret not in token
    assert otp.decrypt_secret(token, "config-key") == secret
    with pytest.raises(InvalidToken):
        otp.decrypt_secret(token, "another-key")


def test_provisioning_uri_and_qr():
    uri = otp.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DP", "tyt.mybinh")
    assert uri.startswith("otpauth://totp/")
    assert "secret=JBSWY3DPEHPK3PXPJBSWY3DP" in uri and "issuer=vaxportal" in uri
    svg = otp.qr_svg(uri)
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<title>" in svg


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def test_current_code_accepted_and_replay_refused():
    secret = otp.new_totp_secret()
    code = code_at(secret, STEP)
    assert otp.match_totp(secret, code, last_step=None, now=NOW) == STEP
    assert otp.match_totp(secret, code, last_step=STEP, now=NOW) is None
    assert otp.match_totp(secret, code, last_step=STEP, now=NOW + 20) is None  # still in window


def test_next_step_accepted_after_use():
    secret = otp.new_totp_secret()
    code = code_at(secret, STEP + 1)
    assert otp.match_totp(secret, code, last_step=STEP, now=NOW + 30) == STEP + 1


def test_window_edges():
    secret = otp.new_totp_secret()
    for offset in (-1, 0, 1):
        assert otp.match_totp(secret, code_at(secret, STEP + offset), last_step=None,
                              now=NOW) == STEP + offset
    for offset in (-2, 2):
        code = code_at(secret, STEP + offset)
        if all(code != code_at(secret, STEP + o) for o in (-1, 0, 1)):
            assert otp.match_totp(secret, code, last_step=None, now=NOW) is None
    previous = code_at(secret, STEP - 1)
    assert otp.match_totp(secret, previous, last_step=STEP - 2, now=NOW) == STEP - 1
    assert otp.match_totp(secret, previous, last_step=STEP - 1, now=NOW) is None
    if code_at(secret, STEP + 1) != code_at(secret, STEP):
        assert otp.match_totp(secret, code_at(secret, STEP + 1), last_step=None, now=NOW,
                              window=0) is None


def test_real_clock_default():
    secret = otp.new_totp_secret()
    assert otp.match_totp(secret, pyotp.TOTP(secret).now(), last_step=None) is not None


@pytest.mark.parametrize("code", ["abcdef", "", "12345", "1234567", "12 34 5a", "١٢٣٤٥٦"])
def test_malformed_codes_refused(code):
    assert otp.match_totp(otp.new_totp_secret(), code, last_step=None, now=NOW) is None


def test_spaces_inside_a_code_allowed():
    secret = otp.new_totp_secret()
    code = code_at(secret, STEP)
    assert otp.match_totp(secret, f"{code[:3]} {code[3:]}", last_step=None, now=NOW) == STEP
