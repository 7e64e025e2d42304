"""Pages that arrive fast on a slow line (issue 14): static files under content-hashed names,
cached for a year and precompressed; HTML answers compressed; personal pages still no-store.

Every request here goes over HTTP through the test client, with the Accept-Encoding a real
browser sends: Chromium asks for brotli, Internet Explorer 11 only for gzip and deflate.
"""

from __future__ import annotations

import gzip
import hashlib
import re

import brotli
import pytest

from vaxportal import ROOT
from vaxportal.assets import build_static

STATIC = ROOT / "static"
IE11 = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
        "Accept-Encoding": "gzip, deflate"}
CHROMIUM = {"Accept-Encoding": "gzip, deflate, br, zstd"}
STATIC_URL = re.compile(r'(?:href|src)="/static/([^"]+)"')


def static_urls(html: str) -> list[str]:
    return STATIC_URL.findall(html)


def source_of(name: str) -> bytes:
    """The file under static/ that a hashed name stands for, checked against its hash."""
    match = re.fullmatch(r"(.+)\.([0-9a-f]{12})\.(\w+)", name)
    assert match, f"{name} carries no content hash"
    data = (STATIC / f"{match[1]}.{match[3]}").read_bytes()
    assert hashlib.sha256(data).hexdigest()[:12] == match[2], name
    return data


def test_every_static_url_of_a_page_carries_its_content_hash(client):
    names = static_urls(client.get("/auth/login").get_data(as_text=True))
    assert {n.rsplit(".", 2)[0] for n in names} >= {
        "css/app", "js/app", "vendor/htmx-1.9.12.min", "favicon"}
    for name in names:
        source_of(name)


def test_hashed_static_files_are_cached_for_a_year_and_immutable(client):
    for name in static_urls(client.get("/auth/login").get_data(as_text=True)):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        cache = {part.strip() for part in response.headers["Cache-Control"].split(",")}
        assert cache == {"public", "max-age=31536000", "immutable"}, name
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # a name without its hash (a page cached before hashing) still works, but is revalidated
    response = client.get("/static/vendor/htmx-1.9.12.min.js")
    assert response.status_code == 200
    assert "immutable" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("headers, encoding, unpack", [
    (IE11, "gzip", gzip.decompress),
    (CHROMIUM, "br", brotli.decompress),
    ({"Accept-Encoding": "identity"}, None, lambda body: body),
], ids=["ie11-gzip", "chromium-brotli", "identity"])
def test_static_files_are_precompressed_and_unpack_to_the_same_bytes(
        client, headers, encoding, unpack):
    """IE11 never gets brotli; htmx 1.9.12 arrives byte-identical whatever the encoding."""
    for name in static_urls(client.get("/auth/login").get_data(as_text=True)):
        response = client.get(f"/static/{name}", headers=headers)
        assert response.headers.get("Content-Encoding") == encoding, name
        assert "Accept-Encoding" in response.headers["Vary"]
        assert unpack(response.get_data()) == source_of(name)


def test_html_pages_with_personal_data_are_compressed_and_stay_no_store(signed_in):
    nurse = signed_in("data_entry")
    plain = nurse.get("/recipients/").get_data()
    for headers, encoding, unpack in ((IE11, "gzip", gzip.decompress),
                                      (CHROMIUM, "br", brotli.decompress)):
        response = nurse.get("/recipients/", headers=headers)
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert response.headers["Cache-Control"] == "no-store"
        assert {"Accept-Encoding", "Cookie", "HX-Request"} <= set(response.vary)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert len(response.get_data()) < len(plain) / 2
        unpacked = unpack(response.get_data())
        # the same page (only the request id and the CSRF token's time stamp may differ)
        assert len(unpacked) == pytest.approx(len(plain), abs=64)


def test_a_changed_file_gets_a_new_name_and_the_old_one_stays(tmp_path):
    """A page cached before a release keeps working: its old names are still there."""
    source, build = tmp_path / "static", tmp_path / "build"
    (source / "css").mkdir(parents=True)
    (source / "css" / "app.css").write_text("body { color: #000; }" * 40)
    old = build_static(source, build)["css/app.css"]
    (source / "css" / "app.css").write_text("body { color: #111; }" * 40)
    new = build_static(source, build)["css/app.css"]
    assert old != new and (build / old).exists() and (build / new).exists()
    assert (build / f"{new}.gz").exists() and (build / f"{new}.br").exists()
    assert not list((tmp_path / "build.tmp").iterdir())


def test_in_debug_an_edited_file_gets_its_new_name_without_a_restart(tmp_path):
    """`make run`: a developer edits the CSS and reloads the page."""
    from flask import Flask, url_for

    from vaxportal import assets

    app = Flask("edited", static_folder=str(tmp_path / "static"),
                instance_path=str(tmp_path / "instance"))
    app.config.update(DEBUG=True, STATIC_BUILD_DIR=str(tmp_path / "build"))
    css = tmp_path / "static" / "app.css"
    css.parent.mkdir()
    css.write_text("a { color: red; }\n" * 50)
    assets.init_app(app)
    with app.test_request_context():
        before = url_for("static", filename="app.css")
    css.write_text("a { color: blue; }\n" * 50)
    with app.test_request_context():
        after = url_for("static", filename="app.css")
    assert before != after
    assert app.test_client().get(after).get_data(as_text=True) == css.read_text()


def test_an_answer_another_site_could_ask_for_with_its_own_text_is_not_compressed(signed_in):
    """BREACH: the CSRF token must never be compressed beside text another site put in the
    query string; our own pages' requests (Sec-Fetch-Site) and plain paths still are."""
    nurse = signed_in("data_entry")
    cross = nurse.get("/recipients/?page=2", headers={**CHROMIUM, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 200 and "Content-Encoding" not in cross.headers
    assert "Sec-Fetch-Site" in cross.vary
    ie11 = nurse.get("/recipients/?page=2", headers=IE11)  # IE11 says nothing of the fetch
    assert ie11.status_code == 200 and "Content-Encoding" not in ie11.headers
    own = nurse.get("/recipients/?page=2", headers={**CHROMIUM, "Sec-Fetch-Site": "same-origin"})
    assert own.headers["Content-Encoding"] == "br"
