"""Flask-Limiter throttles the sign-in endpoints per address and per username (Redis as its
storage in the PostgreSQL run); the 429 page is in Vietnamese."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, audit, html, submit_password

WRONG = "Wrong#Pass99"


@pytest.fixture
def config(config):
    config["LOGIN_RATE_LIMIT"] = "3 per minute"
    config["OTP_RATE_LIMIT"] = "4 per minute"
    return config


def test_p3_4_login_throttled_per_username_with_a_vietnamese_page(client, new_client, factory):
    factory.account(username="target1")
    for n in range(3):  # from three addresses
        response = new_client().post("/auth/login", data={"username": "target1",
                                                          "password": WRONG},
                                     environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"})
        assert response.status_code == 200
    response = new_client().post("/auth/login", data={"username": "TARGET1 ",
                                                      "password": PASSWORD},
                                 environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 429
    assert "Bạn đã thử quá nhiều lần" in html(response)
    assert len(audit("login_failed")) == 3  # the throttled try never ran


def test_p3_4_login_throttled_per_address(new_client, factory):
    client = new_client()
    for n in range(3):
        assert client.post("/auth/login", data={"username": f"someone{n}",
                                                "password": WRONG}).status_code == 200
    assert client.post("/auth/login", data={"username": "someone9",
                                            "password": WRONG}).status_code == 429
    assert client.get("/auth/login").status_code == 200  # the page itself still opens


def test_p3_4_code_step_throttled(client, nurse_account, outbox):
    submit_password(client, nurse_account.username, PASSWORD)
    for _ in range(4):
        assert client.post("/auth/otp", data={"code": "000000"}).status_code in (200, 303)
    assert client.post("/auth/otp", data={"code": "000000"}).status_code == 429
