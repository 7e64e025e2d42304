"""Navigation and headings speak to nurses, not lawyers: policy clause ids (``P4.3c``) may
stay in help text and docs, never in the navigation, a page title or a heading (issue 14)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

CLAUSE_ID = re.compile(r"\bP[1-4](?:\.\d[a-c]?)?\b")
#: elements whose text names a page or a part of it
HEADINGS = {"nav", "title", "h1", "h2", "h3", "legend"}
#: links a walk must not follow: they change state, stream files or end the session
SKIP = re.compile(r"/(download|logout|template)\b|^/static/|^/lang")
PAGE_LIMIT = 40


class _Headings(HTMLParser):
    """Collects the text inside ``HEADINGS`` elements and the same-site links of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.texts: list[tuple[str, str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in HEADINGS:
            self.open.append(tag)
        href = dict(attrs).get("href") if tag == "a" else None
        if href and href.startswith("/") and not href.startswith("//"):
            self.links.append(urlsplit(href).path)

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self.open and data.strip():
            self.texts.append((self.open[-1], data.strip()))


def _walk(client, start: str = "/") -> dict[str, list[tuple[str, str]]]:
    """Every page reachable by GET links from ``start`` (up to ``PAGE_LIMIT``): its clause
    ids in navigation and headings."""
    seen, queue, found = set(), [start], {}
    while queue and len(seen) < PAGE_LIMIT:
        path = queue.pop(0)
        if path in seen or SKIP.search(path):
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = _Headings()
        parser.feed(response.get_data(as_text=True))
        hits = [(tag, text) for tag, text in parser.texts if CLAUSE_ID.search(text)]
        if hits:
            found[path] = hits
        queue.extend(link for link in parser.links if link not in seen)
    return found


HOMES = {"admin": "doh", "data_entry": "s1", "supervisor": "d1", "reviewer": "doh"}


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("role", sorted(HOMES))
def test_no_clause_ids_in_navigation_or_headings(signed_in, factory, role, lang):
    place = factory.place()
    client = signed_in(role, facility=place[HOMES[role]])
    client.post("/lang", data={"lang": lang, "next": "/"})
    assert _walk(client) == {}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_no_clause_ids_in_the_headings_of_the_public_pages(client, lang):
    client.post("/lang", data={"lang": lang, "next": "/"})
    assert _walk(client, "/auth/login") == {}
