"""Vietnamese is the source language; every user-facing string also has its English entry."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from vaxportal import ROOT

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _msgids() -> set[str]:
    found = set()
    for directory, pattern in (("vaxportal", "**.py"), ("templates", "**.html")):
        method = "python" if pattern.endswith(".py") else "jinja2"
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / directory, method_map=[(pattern, method)], keywords=KEYWORDS,
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _english() -> dict[str, str]:
    path = Path(ROOT / "vaxportal/translations/en/LC_MESSAGES/messages.po")
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {m.id if isinstance(m.id, str) else m.id[0]:
            m.string if isinstance(m.string, str) else m.string[0]
            for m in catalog if m.id}


def test_every_message_has_an_english_translation():
    english = _english()
    missing = sorted(m for m in _msgids() if not english.get(m))
    assert not missing, f"{len(missing)} strings without English (run `make extract`): " \
        f"{missing[:10]}"


def test_english_pages_are_english(client):
    client.post("/lang", data={"lang": "en", "next": "/auth/login"})
    html = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in" in html or "Log in" in html
