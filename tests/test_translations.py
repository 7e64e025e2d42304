"""Vietnamese is the source language; every user-facing string also has its English entry,
checked against what ``pybabel extract`` finds in the tree as it is (issue 14)."""

from __future__ import annotations

import re

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from vaxportal import ROOT

CATALOGUE = ROOT / "vaxportal/translations/en/LC_MESSAGES/messages.po"
#: the options of ``make extract``, plus the lazy form of pgettext
EXTRACT = ["-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
           "-k", "lazy_pgettext:1c,2", "--ignore-dirs=node_modules .* _*", "--no-location"]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The template (.pot) ``pybabel extract`` writes for the tree today."""
    pot = tmp_path_factory.mktemp("babel") / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", *EXTRACT, "-o", str(pot),
                                str(ROOT)])
    with pot.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def english():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle)


def _key(message) -> tuple:
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def _translated(entry) -> bool:
    strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    return all(strings)


def test_every_message_has_an_english_translation(extracted, english):
    assert len(extracted) > 500  # the extraction really walked the tree
    missing = sorted(_key(m) for m in extracted if m.id and (
        english.get(m.id, m.context) is None or not _translated(english.get(m.id, m.context))))
    assert not missing, f"{len(missing)} strings without English (run `make extract`, " \
        f"then translate): {missing[:10]}"


def test_no_english_entry_is_fuzzy(extracted, english):
    fuzzy = sorted(_key(m) for m in extracted if m.id
                   and (entry := english.get(m.id, m.context)) is not None and entry.fuzzy)
    assert not fuzzy, f"{len(fuzzy)} fuzzy English entries (check, then drop the flag): " \
        f"{fuzzy[:10]}"


def test_english_pages_are_english(client):
    client.post("/lang", data={"lang": "en", "next": "/auth/login"})
    html = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in" in html or "Log in" in html


def _dd_after(html: str, label: str) -> str:
    found = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd>(.*?)</dd>", html, re.S)
    assert found, f"no <dt>{label}</dt> followed by its value"
    return found.group(1).strip()


def test_english_address_is_an_address_and_the_session_address_an_ip(signed_in, factory):
    """One Vietnamese word, two English ones: ``Địa chỉ`` of a person is "Address", of a
    signed-in browser "IP address"."""
    from datetime import date

    from vaxportal.extensions import db
    from vaxportal.recipients.services import create_recipient

    place = factory.place()
    nurse = signed_in("data_entry", facility=place["s1"])
    recipient = create_recipient({"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                                  "gender": "male", "national_id": "089080123456",
                                  "street": "12 Trần Hưng Đạo", "province": "An Giang"},
                                 place["s1"].id)
    db.session.commit()
    nurse.post("/lang", data={"lang": "en", "next": "/"})
    page = nurse.get(f"/recipients/{recipient.id}").get_data(as_text=True)
    assert _dd_after(page, "Address") == "12 Trần Hưng Đạo, An Giang"
    assert "IP address" not in page
    sessions = nurse.get("/auth/sessions").get_data(as_text=True)
    assert '<th scope="col">IP address</th>' in sessions
