"""Passwords (P4.3b): hashing, the composition and guessability rules, initial passwords."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import phonenumbers
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MIN_ZXCVBN_SCORE = 3
PHONE_RUN = 6
COMMON_FILE = Path(__file__).with_name("common_passwords.txt")

# One message per rule, each naming the rule that failed.
TOO_SHORT = _l("Mật khẩu phải có ít nhất %(n)s ký tự.", n=MIN_LENGTH)
NO_UPPER = _l("Mật khẩu phải có ít nhất một chữ in hoa.")
NO_LOWER = _l("Mật khẩu phải có ít nhất một chữ thường.")
NO_DIGIT = _l("Mật khẩu phải có ít nhất một chữ số.")
NO_SPECIAL = _l("Mật khẩu phải có ít nhất một ký tự đặc biệt (ví dụ ! @ # $ % - _).")
HAS_USERNAME = _l("Mật khẩu không được chứa tên đăng nhập.")
HAS_PHONE = _l("Mật khẩu không được chứa số điện thoại của tài khoản.")
WELL_KNOWN = _l("Mật khẩu quá phổ biến hoặc dễ đoán, vui lòng chọn mật khẩu khác.")
REUSED = _l("Mật khẩu không được trùng với các mật khẩu đã dùng gần đây.")

_LEET = str.maketrans({"@": "a", "0": "o", "1": "i", "3": "e", "$": "s"})
_TRAILING = re.compile(r"[\W\d_]+$")
# No look-alikes (0/O, 1/l/I) so an initial password read from an SMS is typed right.
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnopqrstuvwxyz"
_DIGITS = "23456789"
_SPECIALS = "!@#$%&*-_+=?"


def hash_password(pw: str) -> str:
    return generate_password_hash(pw, method="scrypt")


def verify_password(hash: str, pw: str) -> bool:
    if not hash:
        return False
    try:
        return check_password_hash(hash, pw)
    except ValueError:  # an unknown or damaged hash format
        return False


def _stem(pw: str) -> str:
    """Lower-case, trailing digits/specials removed, leetspeak undone."""
    return _TRAILING.sub("", pw.lower()).translate(_LEET)


def _forms(pw: str) -> set[str]:
    return {form for form in (pw.lower(), pw.lower().translate(_LEET), _stem(pw)) if form}


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    words: set[str] = set()
    for line in COMMON_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words |= _forms(line)
    return frozenset(words)


def is_special(c: str) -> bool:
    return not c.isalnum() and not c.isspace()


def phone_digits(phone: str | None) -> str:
    """The national digits of a phone number ("+84912345678" → "912345678")."""
    if not phone:
        return ""
    try:
        return str(phonenumbers.parse(phone, "VN").national_number)
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", phone).lstrip("0")


def _contains_phone(pw: str, digits: str) -> bool:
    if len(digits) < PHONE_RUN:
        return False
    runs = {digits[i:i + PHONE_RUN] for i in range(len(digits) - PHONE_RUN + 1)}
    return any(run in pw for run in runs)


def _composition(pw: str) -> list[str]:
    checks = [
        (len(pw) >= MIN_LENGTH, TOO_SHORT),
        (any(c.isupper() for c in pw), NO_UPPER),
        (any(c.islower() for c in pw), NO_LOWER),
        (any(c.isdigit() for c in pw), NO_DIGIT),
        (any(is_special(c) for c in pw), NO_SPECIAL),
    ]
    return [str(message) for ok, message in checks if not ok]


def _guessable(pw: str, user_inputs: list[str]) -> bool:
    if _forms(pw) & common_passwords():
        return True
    # here, not at the top: its word lists take 12 MB in every process that loads it, and only
    # a process that judges a new password needs them (a web worker's peak memory, issue 13)
    from zxcvbn import zxcvbn

    return zxcvbn(pw[:100], user_inputs=user_inputs)["score"] < MIN_ZXCVBN_SCORE


def password_problems(pw: str, *, username: str, phone: str | None = None,
                      previous_hashes: Iterable[str] = ()) -> list[str]:
    """Every rule ``pw`` breaks, as messages to show; empty when the password is acceptable.
    ``previous_hashes``: the hashes of the account's last passwords (the last 5)."""
    problems = _composition(pw)
    if username and username.lower() in pw.lower():
        problems.append(str(HAS_USERNAME))
    digits = phone_digits(phone)
    if _contains_phone(pw, digits):
        problems.append(str(HAS_PHONE))
    if _guessable(pw, [s for s in (username, phone, digits) if s]):
        problems.append(str(WELL_KNOWN))
    if any(verify_password(h, pw) for h in previous_hashes):
        problems.append(str(REUSED))
    return problems


def _candidate(length: int) -> str:
    pools = (_UPPER, _LOWER, _DIGITS, _SPECIALS)
    chars = [secrets.choice(pool) for pool in pools]
    alphabet = _UPPER + _LOWER + _DIGITS + _SPECIALS
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def generate_initial_password(length: int = 14) -> str:
    """A random password that satisfies every rule. At least 10 characters: zxcvbn scores
    every 8-character password below 3 (brute force counted as 10^length guesses)."""
    length = max(length, 10)
    while True:
        pw = _candidate(length)
        if not _composition(pw) and not _guessable(pw, []):
            return pw

