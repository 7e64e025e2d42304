"""Error answers tell an attacker nothing: no stack trace, no personal data (not even from a
database error's parameters), in Vietnamese; and no form of any POST route, sent empty or
with rubbish, makes the server fail with a 500. (That the sign-in page never says whether an
account exists is in test_spraying.)"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from flask import Blueprint

from tests.attacks.support import DATA, leaks_traceback, step_up
from tests.helpers import html
from vaxportal.extensions import db

NATIONAL_ID = "089080123499"
NAME = "Nguyễn Thị Bí Mật"
SERVER_ERROR = "Đã có lỗi ở máy chủ"

probe = Blueprint("error_probe", __name__, url_prefix="/probe")


@probe.get("/crash")
def crash():
    raise ValueError(f"could not save {NAME} ({NATIONAL_ID})")


@probe.get("/database")
def database():
    db.session.execute(sa.text("SELECT * FROM no_such_table WHERE national_id = :nid"),
                       {"nid": NATIONAL_ID})
    return "unreachable"


@pytest.fixture
def app(app):
    app.register_blueprint(probe)
    return app


def assert_tells_nothing(response, *secrets: str) -> None:
    body = html(response)
    assert not leaks_traceback(body), body
    for secret in (NAME, NATIONAL_ID, *secrets):
        assert secret not in body and secret not in str(response.headers)


@pytest.mark.parametrize("url", ["/probe/crash", "/probe/database"])
def test_p1_a_server_error_shows_no_trace_and_no_personal_data(client, caplog, url):
    with caplog.at_level(logging.DEBUG):
        for response in (client.get(url), client.hx("GET", url)):
            assert response.status_code == 500
            assert SERVER_ERROR in html(response)
            assert_tells_nothing(response)
            assert response.headers["X-Request-ID"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert NATIONAL_ID not in logged and NAME not in logged
    assert "unhandled" in logged  # the operator still learns where it broke


@pytest.mark.parametrize("method, url, status, text", [
    ("GET", "/recipients/999999", 404, "Không tìm thấy"),
    ("GET", "/no-such-page", 404, "Không tìm thấy"),
    ("GET", "/exports/" + "0" * 32, 404, "Không tìm thấy"),
    ("GET", "/auth/logout", 405, "không được hỗ trợ"),
    ("POST", "/lang", 400, "không hợp lệ"),
])
def test_p1_error_pages_are_plain_and_vietnamese(nurse, method, url, status, text):
    response = nurse.open(url, method=method, data={"lang": NATIONAL_ID})
    assert response.status_code == status and text in html(response)
    assert_tells_nothing(response)


@pytest.fixture
def everyone(nurse, admin, signed_in, place, holdings, outbox):
    supervisor = signed_in("supervisor", facility=place["d1"])
    for client in (nurse, admin, supervisor):
        step_up(client, outbox)  # fresh: each form reaches its view
    mine = holdings(nurse, "s1")
    values = {"recipient_id": mine.recipient.id, "dose_id": mine.dose.id, "lot_id": mine.lot.id,
              "candidate_id": mine.candidate.id, "token": mine.grant, "name": "full_name",
              "facility_id": place["s1"].id, "account_id": nurse.account.id,
              "delegation_id": 1, "pending_id": 1}
    return {"nurse": nurse, "admin": admin, "supervisor": supervisor, "values": values,
            "mine": mine}


RUBBISH = {"version_id": "abc", "date_of_birth": "31/02/1990", "given_on": "99/99/9999",
           "dose_number": "-1e309", "vaccine_id": "x", "facility_id": "1' OR '1'='1",
           "gender": "\x00", "decision": "keep:abc", "s": "../../etc/passwd", "page": "-1",
           "code": "１２３４５６", "ref_date": "00/00/0000", "role": "admin", "kind": "nope",
           "lang": "xx", "session_id": "NaN", "starts_on": "01/01/10000",
           "full_name": "x" * 5000, "id_number": "٠٨٩٠٨٠١٢٣٤٥٦"}


def _who(endpoint: str) -> str:
    if endpoint.startswith("facilities."):
        return "admin"
    return "supervisor" if endpoint == "recipients.resolve_duplicate" else "nurse"


@pytest.mark.parametrize("form", ["empty", "rubbish"])
def test_no_post_route_fails_with_a_500(app, everyone, form):
    sent = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        mine = everyone["mine"]
        values = {**everyone["values"], "job_id": mine.import_job.id
                  if rule.endpoint.startswith("exports.import") else mine.export.id}
        url = rule.build({name: values[name] for name in rule.arguments})[1]
        data = {} if form == "empty" else {**DATA.get(rule.endpoint, {}), **RUBBISH}
        response = everyone[_who(rule.endpoint)].post(url, data=data)
        assert response.status_code < 500, f"{rule.endpoint} {url}: {response.status_code}"
        assert not leaks_traceback(html(response)), rule.endpoint
        sent += 1
    assert sent >= 30
