"""Step-up (P3.4): ``fresh_otp_required`` asks for a recent OTP and loses nothing typed."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pyotp
import pytest
from flask import Blueprint, jsonify, request
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from tests.helpers import PASSWORD, audit, html, login_through_forms, reload, session_row
from vaxportal.auth import totp
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

bp = Blueprint("stepup_probe", __name__, url_prefix="/probe")


@bp.post("/notes")
@login_required
@fresh_otp_required
def save_note():
    return jsonify(title=request.form.get("title"), tags=request.form.getlist("tag"))


@bp.get("/report")
@login_required
@fresh_otp_required
def report():
    return f"report {request.args.get('year')}"


@pytest.fixture
def app(app):
    app.register_blueprint(bp)
    return app


@pytest.fixture
def user(signed_in):
    """Signed in, but the OTP of the sign-in is older than the step-up window."""
    client = signed_in("data_entry")
    row = session_row(client)
    row.step_up_at = utcnow() - timedelta(seconds=301)
    db.session.commit()
    return client


TYPED = MultiDict([("title", 'Sửa "họ tên" <Nguyễn Văn An>'), ("tag", "a"), ("tag", "b & c")])


def hidden_pairs(page: str) -> list[tuple[str, str]]:
    pairs = []
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag:
            name = unescape(re.search(r'name="([^"]*)"', tag).group(1))
            value = re.search(r'value="([^"]*)"', tag)
            pairs.append((name, unescape(value.group(1)) if value else ""))
    return pairs


def step_up_code(outbox) -> str:
    messages = [m for m in outbox() if m["kind"] == "step_up"]
    assert messages, "no step-up SMS"
    return messages[-1]["secret"]


def test_p3_4_htmx_prompt_is_a_fragment_carrying_what_was_typed(user, outbox):
    response = user.hx("post", "/probe/notes", data=TYPED, headers={"HX-Target": "note-box"})
    body = html(response)
    assert response.status_code == 200 and "<html" not in body
    assert response.headers["HX-Retarget"] == "#note-box"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert 'id="note-box"' in body and 'hx-post="/probe/notes"' in body
    assert 'name="stepup_code"' in body
    carried = hidden_pairs(body)
    assert [p for p in carried if p[0] != "csrf_token"] == list(TYPED.items(multi=True))
    assert [name for name, _ in carried].count("csrf_token") == 1
    (sms,) = outbox()
    assert sms["kind"] == "step_up" and sms["to"] == user.account.phone


def test_p3_4_reposting_with_the_code_runs_the_view_with_the_typed_values(user, outbox):
    prompt = html(user.hx("post", "/probe/notes", data=TYPED, headers={"HX-Target": "box"}))
    data = MultiDict(hidden_pairs(prompt) + [("stepup_code", step_up_code(outbox))])
    response = user.hx("post", "/probe/notes", data=data, headers={"HX-Target": "box"})
    assert response.status_code == 200
    assert response.json == {"title": TYPED["title"], "tags": ["a", "b & c"]}
    assert session_row(user).step_up_at > utcnow() - timedelta(seconds=5)
    assert len(audit("step_up_ok")) == 1
    # fresh now: the next sensitive action runs at once, and no new SMS is sent
    sent = len(outbox())
    assert user.post("/probe/notes", data={"title": "x"}).json["title"] == "x"
    assert len(outbox()) == sent


def test_p3_4_a_wrong_code_keeps_the_prompt_and_the_values(user, outbox):
    prompt = html(user.post("/probe/notes", data=TYPED))
    code = step_up_code(outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = user.post("/probe/notes", data=MultiDict(hidden_pairs(prompt)
                                                        + [("stepup_code", wrong)]))
    body = html(response)
    assert "Mã không đúng" in body and "<html" in body  # JavaScript off: a full page
    assert ("title", TYPED["title"]) in hidden_pairs(body)
    assert response.json is None
    assert len(audit("step_up_failed")) == 1 and len(audit("otp_failed")) == 1


def test_p3_4_resend_in_the_prompt_keeps_the_values_and_is_limited(user, outbox):
    prompt = html(user.post("/probe/notes", data=TYPED))
    again = user.post("/probe/notes", data=MultiDict(hidden_pairs(prompt)
                                                     + [("stepup_resend", "1")]))
    assert "đã được gửi" in html(again) and len(outbox()) == 1  # not twice in a minute
    assert ("title", TYPED["title"]) in hidden_pairs(html(again))


def test_p3_4_a_get_page_returns_after_the_code(user, outbox):
    response = user.get("/probe/report?year=2021")
    body = html(response)
    assert 'action="/auth/step-up"' in body
    assert ("next", "/probe/report?year=2021") in hidden_pairs(body)
    assert outbox() == []  # a GET sends nothing by itself
    user.post("/auth/step-up", data={"next": "/probe/report?year=2021", "stepup_resend": "1"})
    response = user.post("/auth/step-up", data={"next": "/probe/report?year=2021",
                                                "stepup_code": step_up_code(outbox)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/probe/report?year=2021"
    assert html(user.get("/probe/report?year=2021")) == "report 2021"


def test_step_up_next_must_be_local(user, outbox):
    user.post("/auth/step-up", data={"next": "https://evil.example/", "stepup_resend": "1"})
    response = user.post("/auth/step-up", data={"next": "https://evil.example/",
                                                "stepup_code": step_up_code(outbox)})
    assert response.headers["Location"] == "/"


def test_p3_4_the_login_otp_counts_as_fresh(client, nurse_account, outbox):
    login_through_forms(client, nurse_account.username, PASSWORD, outbox)
    assert client.post("/probe/notes", data={"title": "t"}).json == {"title": "t", "tags": []}


def test_p3_4_freshness_ends_with_the_window(client, nurse_account, outbox):
    login_through_forms(client, nurse_account.username, PASSWORD, outbox)
    row = session_row(client)
    row.step_up_at = utcnow() - timedelta(seconds=301)
    db.session.commit()
    assert "stepup_code" in html(client.post("/probe/notes", data={"title": "t"}))


def test_p3_4_an_authenticator_code_steps_up_without_sms(user, outbox):
    secret = pyotp.random_base32()
    user.account.totp_secret = totp.encrypt(secret)
    db.session.commit()
    prompt = html(user.post("/probe/notes", data=TYPED))
    assert outbox() == [] and "ứng dụng xác thực" in prompt
    data = MultiDict(hidden_pairs(prompt) + [("stepup_code", pyotp.TOTP(secret).now())])
    assert user.post("/probe/notes", data=data).json["title"] == TYPED["title"]


def test_p3_4_step_up_refuses_the_anonymous(client):
    response = client.post("/probe/notes", data={"title": "t"})
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_p3_4_the_prompt_repost_needs_its_csrf_token(user, outbox):
    prompt = html(user.post("/probe/notes", data=TYPED))
    pairs = [p for p in hidden_pairs(prompt) if p[0] != "csrf_token"]
    response = user.post("/probe/notes", data=MultiDict(pairs + [
        ("stepup_code", step_up_code(outbox))]), csrf=False)
    assert response.status_code == 400


def test_p3_4_an_empty_code_asks_again_without_counting_a_failure(user, outbox):
    prompt = html(user.post("/probe/notes", data=TYPED))
    response = user.post("/probe/notes", data=MultiDict(hidden_pairs(prompt)
                                                        + [("stepup_code", " ")]))
    assert "Vui lòng nhập mã xác thực" in html(response) and response.json is None
    assert audit("otp_failed") == [] and reload(user.account).failed_code_count == 0


def test_the_full_page_prompt_has_its_own_main_heading(user):
    """Without JavaScript the prompt is a page of its own: one <h1> names it (screen
    readers jump by headings); the htmx fragment, inside another page, uses <h2>."""
    page = html(user.post("/probe/notes", data=TYPED))
    assert page.count("<h1>") == 1 and "<h1>Xác thực lại bằng mã OTP</h1>" in page
    fragment = html(user.hx("post", "/probe/notes", data=TYPED, headers={"HX-Target": "note-box"}))
    assert "<h1>" not in fragment and "<h2>Xác thực lại bằng mã OTP</h2>" in fragment
