"""The suite's factories as fixtures (a pytest plugin: ``pytest_plugins`` in tests/conftest.py).

Places: ``place``, the small province of ``Factory.PROVINCE`` (MIN, the ministry's IT
department, only where a suite's ``ministry_in_place`` says so). Accounts: ``factory.account``
of any role, ``signed_in(role, facility)`` for a client past password and OTP, and the
station's nurse, not signed in (``nurse_account``) or signed in (``nurse``); ``supervisor``
(D1) and ``reviewer`` (DOH), signed in. Recipients and doses: ``person(facility_key,
**fields)`` and ``tests.helpers.add_dose``. Another browser: ``new_client()``.

Passwords are hashed cheaply in every test (scrypt costs a quarter of a second per account
and per sign-in); a test about the real hashing is marked ``real_password_hashing``.
"""

from __future__ import annotations

import functools

import flask
import pytest
from jinja2 import BytecodeCache
from werkzeug.routing.rules import Rule
from werkzeug.security import generate_password_hash

from tests.engines import reuse_engines
from tests.helpers import CHEAP_METHOD, Factory, VaxClient, new_recipient, read_outbox, sign_in
from vaxportal.auth import passwords, signin
from vaxportal.extensions import db

NURSE = {"username": "tyt.mybinh", "full_name": "Trần Thị Nhập"}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_password_hashing: the application's own scrypt hashing (P4.3b), "
        "not the suite's cheap stand-in")
    _reuse_url_builders()
    _share_compiled_templates()
    reuse_engines()


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates kept in memory for the whole run. Each test's app has an
    environment of its own, and compiling a template (parse, generate Python, compile) costs
    tens of milliseconds: without this every test compiles again every template it renders.
    A bucket's key is the template's name and its source's checksum, so an edited template
    is compiled anew."""

    def __init__(self) -> None:
        self.code: dict[tuple[str, str], bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self.code.get((bucket.key, bucket.checksum))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.code[(bucket.key, bucket.checksum)] = bucket.bytecode_to_string()


def _share_compiled_templates() -> None:
    cache = _CompiledTemplates()
    create = flask.Flask.create_jinja_environment

    @functools.wraps(create)
    def with_shared_cache(self):
        env = create(self)
        env.bytecode_cache = cache
        return env

    flask.Flask.create_jinja_environment = with_shared_cache


def _reuse_url_builders() -> None:
    """Every test makes its own app, and Werkzeug compiles two URL-building functions for each
    of the app's 400 routes (Python source built and compiled: most of ``create_app``'s
    time). The function depends only on the rule, so the suite compiles each one once per
    process and binds it to every app's rule as Werkzeug does."""
    compile_builder = Rule._compile_builder
    compiled: dict[tuple, object] = {}

    @functools.wraps(compile_builder)
    def once(self, append_unknown: bool = True):
        domain = self.host if self.map.host_matching else self.subdomain
        key = (self.rule, domain, self.merge_slashes, tuple(self._trace),
               repr(sorted((self.defaults or {}).items())),
               tuple((name, type(c), getattr(c, "regex", None))
                     for name, c in sorted(self._converters.items())),
               append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = once


def _cheap_hash(password: str, method: str = "scrypt", salt_length: int = 16) -> str:
    return generate_password_hash(password, CHEAP_METHOD)


@pytest.fixture(autouse=True)
def cheap_passwords(request, monkeypatch):
    """Hashing at full cost would spend most of the suite's time in scrypt: tests hash with
    one PBKDF2 round instead, except those marked ``real_password_hashing``."""
    if request.node.get_closest_marker("real_password_hashing"):
        return
    monkeypatch.setattr(passwords, "generate_password_hash", _cheap_hash)
    dummy = _cheap_hash("no-such-account")
    monkeypatch.setattr(signin, "_dummy_hash", lambda: dummy)


# -- factories and clients ---------------------------------------------------------------------


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


@pytest.fixture
def new_client(app):
    """``new_client()`` → another browser (a VaxClient with its own cookies)."""
    app.test_client_class = VaxClient
    return app.test_client


@pytest.fixture
def signed_in(app, factory, new_client):
    """``signed_in(role, facility=None, **account_fields)`` → a client already past password
    and OTP (``client.account`` is its account)."""

    def make(role: str = "data_entry", facility=None, **kwargs):
        return signed_in_as(new_client(), factory.account(role=role, facility=facility,
                                                          **kwargs))

    return make


def signed_in_as(client, account):
    sign_in(client, account)
    client.account = account
    return client


@pytest.fixture
def outbox(app):
    """The SMS messages sent so far (list of dicts), read fresh on each call."""
    return lambda: read_outbox(app)


# -- places ------------------------------------------------------------------------------------


@pytest.fixture
def ministry_in_place() -> bool:
    """Whether ``place`` has the ministry's IT department (MIN, home of admins) above the DOH;
    a suite whose admins act on the province overrides this fixture."""
    return False


@pytest.fixture
def place(factory, ministry_in_place):
    """DOH → district D1 → stations S1, S1B; DOH → district D2 → station S2 (and MIN above
    the DOH with ``ministry_in_place``); the vaccine catalogue. Keys as in
    ``Factory.PROVINCE``."""
    return factory.place(ministry=ministry_in_place)


@pytest.fixture
def station(place):
    """Station S1 (Trạm Y tế Mỹ Bình, under district D1 beside S1B), the nurse's."""
    return place["s1"]


# -- accounts ----------------------------------------------------------------------------------


@pytest.fixture
def nurse_account(factory, place):
    """Station S1's data-entry account (password ``tests.helpers.PASSWORD``), not signed in."""
    return factory.account("data_entry", facility=place["s1"], **NURSE)


@pytest.fixture
def nurse(nurse_account, new_client):
    """Station S1's data-entry account, signed in (not fresh for step-up)."""
    return signed_in_as(new_client(), nurse_account)


@pytest.fixture
def supervisor(signed_in, place):
    """District D1's supervisor, signed in."""
    return signed_in("supervisor", facility=place["d1"])


@pytest.fixture
def reviewer(signed_in, place):
    """The DOH's reviewer, signed in."""
    return signed_in("reviewer", facility=place["doh"], full_name="Lê Văn Duyệt")


# -- recipients --------------------------------------------------------------------------------


@pytest.fixture
def person(place):
    """``person("s2", full_name=...)`` → a committed recipient of that facility (a man born
    5/9/1980 with a national ID of his own unless the fields say otherwise)."""

    def make(facility: str = "s1", **fields):
        recipient = new_recipient(place[facility].id, **fields)
        db.session.commit()
        return recipient

    return make
