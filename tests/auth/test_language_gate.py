"""P4.3b: until the initial password is changed nothing else is reachable, except the
language switch (the forced change must be readable in the language the user reads)."""

from __future__ import annotations

from tests.helpers import PASSWORD, html, login_through_forms
from vaxportal.i18n import LANG_COOKIE


def switch(client, lang: str, next_url: str):
    return client.post("/lang", data={"lang": lang, "next": next_url})


def lang_cookie(client) -> str | None:
    cookie = client.get_cookie(LANG_COOKIE)
    return cookie.value if cookie else None


def test_p4_3b_the_language_switch_works_during_the_forced_password_change(
        client, factory, outbox):
    account = factory.account(username="tram.moi", must_change_password=True)
    response = login_through_forms(client, account.username, PASSWORD, outbox)
    assert response.headers["Location"].endswith("/auth/password")
    assert client.get("/").headers["Location"].endswith("/auth/password")  # the gate holds

    response = switch(client, "en", "/auth/password")
    assert response.status_code == 303 and response.headers["Location"] == "/auth/password"
    assert lang_cookie(client) == "en"
    page = html(client.get("/auth/password"))
    assert "Change password" in page and "Đổi mật khẩu" not in page

    assert switch(client, "vi", "/auth/password").headers["Location"] == "/auth/password"
    assert lang_cookie(client) == "vi"
    assert "Đổi mật khẩu" in html(client.get("/auth/password"))
    assert client.get("/auth/sessions").headers["Location"].endswith("/auth/password")
