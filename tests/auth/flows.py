"""Signing in through the real forms, for every suite that needs it (auth tests, the attack
suite, browser journeys). ``outbox`` is the SMS file outbox: ``outbox()`` → list of dicts
with keys to / kind / secret / body / at."""

from __future__ import annotations

from werkzeug.test import TestResponse

CODE_KINDS = ("login", "activation")


def html(response) -> str:
    return response.get_data(as_text=True)


def sent_code(outbox, since: int, kinds=CODE_KINDS) -> str:
    """The secret of the newest SMS of ``kinds`` sent after the first ``since`` messages."""
    fresh = [m for m in outbox()[since:] if m["kind"] in kinds]
    assert fresh, f"no SMS of kind {kinds} was sent"
    return fresh[-1]["secret"]


def submit_password(client, username: str, password: str, next_url: str | None = None):
    client.get("/auth/login")
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/auth/login", data=data)


def login_through_forms(client, username: str, password: str, outbox, *,
                        code: str | None = None, next_url: str | None = None) -> TestResponse:
    """Password page, then the code page with the code just sent by SMS (or ``code``, for
    an authenticator app). Returns the answer to the code (303 when signed in)."""
    before = len(outbox())
    response = submit_password(client, username, password, next_url)
    assert response.status_code == 303, html(response)
    assert response.headers["Location"].endswith("/auth/otp"), response.headers["Location"]
    assert client.get("/auth/otp").status_code == 200
    return client.post("/auth/otp", data={"code": code or sent_code(outbox, before)})


def initial_password(outbox, username: str) -> str:
    """The password of the newest initial-password SMS naming ``username``."""
    messages = [m for m in outbox() if m["kind"] == "initial_password" and username in m["body"]]
    assert messages, f"no initial password SMS for {username}"
    return messages[-1]["secret"]


def first_sign_in(client, username: str, outbox, new_password: str) -> TestResponse:
    """The first sign-in of an issued account: the password from the initial SMS, the
    activation code, then the forced password change. Returns the answer to the change
    (303 to the authenticator-app offer)."""
    response = login_through_forms(client, username, initial_password(outbox, username), outbox)
    assert response.status_code == 303, html(response)
    assert response.headers["Location"].endswith("/auth/password"), response.headers["Location"]
    return client.post("/auth/password", data={"new_password": new_password,
                                               "confirm_password": new_password})
