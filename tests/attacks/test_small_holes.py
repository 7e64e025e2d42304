"""Smaller holes at the seams (issue 11, section 5): numbers beyond the database's range in
paths and query strings, a session id that is no number, names that look alike but are not
the same text, export and upload files others could read, step-up codes that would confirm
another action than the one their SMS named, export files holding rows the confirmed code
never named, and a session cookie sent over plain HTTP."""

from __future__ import annotations

import logging
import re

import pytest

from tests.auth.flows import html
from tests.helpers import sign_in
from vaxportal import create_app
from vaxportal.auth.models import UserSession
from vaxportal.extensions import db

BEYOND_BIGINT = str(2**63)  # 9223372036854775808: overflows every integer column
BEYOND_INTEGER = str(2**31)  # overflows PostgreSQL's INTEGER, the id columns' type
HUGE = str(10**30)
INT_PARAM = re.compile(r"<int:[^>]+>")
ANY_PARAM = re.compile(r"<[^>]+>")


# -- integers beyond the database's range ---------------------------------------------------


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        if INT_PARAM.search(rule.rule):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.rule, method


def _filled(rule: str, number: str) -> str:
    return ANY_PARAM.sub("x", INT_PARAM.sub(number, rule))


@pytest.mark.parametrize("number", [BEYOND_BIGINT, BEYOND_INTEGER, HUGE])
def test_every_int_route_refuses_a_number_beyond_the_id_range(app, signed_in, place,
                                                                      number):
    rules = list(_int_rules(app))
    assert len(rules) > 20  # every <int:...> route of the app, GET and POST
    clients = [signed_in("supervisor", facility=place["d1"]),
               signed_in("admin", facility=place["min"])]
    failures = []
    for rule, method in rules:
        for client in clients:
            response = client.open(_filled(rule, number), method=method, data={})
            # 405 when the route's other method matches the path: refused before any view
            if response.status_code not in (404, 405):
                failures.append((method, rule, client.account.role, response.status_code))
    assert not failures


@pytest.mark.parametrize("url, role", [
    ("/recipients/?page=", "supervisor"),
    ("/recipients/duplicates?page=", "supervisor"),
    ("/audit/?page=", "supervisor"),
    ("/audit/?page=", "admin"),
    ("/facilities/?page=", "admin"),
    ("/facilities/new?parent=", "admin"),
])
@pytest.mark.parametrize("number", [HUGE, BEYOND_BIGINT, "-" + HUGE])
def test_int_query_args_beyond_the_range_never_make_a_500(signed_in, place, url, role, number):
    client = signed_in(role, facility=place["min" if role == "admin" else "d1"])
    response = client.get(url + number)
    assert response.status_code in (200, 400, 404), html(response)


# -- ending one's own sessions ---------------------------------------------------------------


@pytest.mark.parametrize("session_id", ["abc", "1e3", " ", HUGE + "x", "-"])
def test_a_non_numeric_session_id_is_a_400_and_ends_no_session(nurse, new_client, session_id):
    other = new_client()
    other_row = sign_in(other, nurse.account)
    response = nurse.post("/auth/sessions", data={"session_id": session_id})
    assert response.status_code == 400, html(response)
    db.session.rollback()
    assert db.session.get(UserSession, other_row.id).ended_at is None
    assert other.get("/recipients/").status_code == 200


def test_ending_all_other_sessions_still_works_without_a_session_id(nurse, new_client):
    other = new_client()
    sign_in(other, nurse.account)
    response = nurse.post("/auth/sessions", data={})
    assert response.status_code == 303
    assert other.get("/recipients/").status_code != 200


# -- the session cookie ------------------------------------------------------------------------


def _production_app(config, **overrides):
    values = {key: value for key, value in config.items() if key != "TESTING"}
    values.pop("SESSION_COOKIE_SECURE", None)
    values.update(SMS_BACKEND="http", SMS_HTTP_URL="https://sms.example.vn/send", **overrides)
    return create_app(values)


def test_session_cookie_is_secure_by_default_outside_debug(config):
    assert _production_app(config).config["SESSION_COOKIE_SECURE"] is True


def test_session_cookie_secure_off_outside_debug_is_logged(config, caplog):
    with caplog.at_level(logging.WARNING):
        app = _production_app(config, SESSION_COOKIE_SECURE=False)
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert any("SESSION_COOKIE_SECURE" in record.getMessage() for record in caplog.records)


def test_session_cookie_secure_from_the_environment_string(config, monkeypatch):
    monkeypatch.setenv("VAXPORTAL_SESSION_COOKIE_SECURE", "false")
    assert _production_app(config).config["SESSION_COOKIE_SECURE"] is False


def test_session_cookie_not_secure_in_debug_unless_asked(config):
    assert _production_app(config, DEBUG=True).config["SESSION_COOKIE_SECURE"] is False
