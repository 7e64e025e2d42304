"""Browser journeys: a live server in a thread and Debian's Chromium driven by Playwright.

Every journey runs twice, with JavaScript on and off (the ``js`` parameter). With it on,
each page the journey visits is checked by axe-core (no serious or critical finding) and the
page may raise no script error, console error, CSP violation or htmx failure event
(``htmx:responseError``, ``htmx:sendError``, ``htmx:swapError``) unless the journey allows
that one explicitly with ``ui.allow_error``. ``VAXPORTAL_SCREENSHOTS=1`` (``make
screenshots``) refreshes the pictures under docs/screenshots/ that the README shows.

Chromium comes from ``make browser-deps``; a missing browser fails the run, never skips it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.helpers import sent_code
from vaxportal import ROOT
from vaxportal.extensions import db

CHROMIUM = os.environ.get("VAXPORTAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs" / "screenshots"
SERIOUS = ("serious", "critical")

#: htmx's failure events, reported as console errors so that they survive a navigation and
#: fail the journey like any other script error (the field check's inherited
#: ``hx-disabled-elt`` once broke every field silently).
HTMX_FAILURES = ("htmx:responseError", "htmx:sendError", "htmx:swapError")
WATCH_HTMX = """
(function () {
  var names = NAMES;
  names.forEach(function (name) {
    document.addEventListener(name, function (evt) {
      var detail = evt.detail || {};
      var xhr = detail.xhr;
      var path = detail.pathInfo && detail.pathInfo.requestPath;
      console.error("htmx event " + name + " status " + (xhr ? xhr.status : "none") +
                    " path " + path + (detail.error ? " error " + detail.error : ""));
    });
  });
}());
""".replace("NAMES", json.dumps(list(HTMX_FAILURES)))


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app):
    """The test's app served on a free local port, in a thread of this process."""
    if db.engine.dialect.name == "sqlite":  # readers must not block the server's writes
        with db.engine.connect() as conn:
            conn.execute(sa.text("PRAGMA journal_mode=WAL"))
    db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def js(request) -> bool:
    return request.param


class Ui:
    """A page plus the checks every journey makes."""

    def __init__(self, page, js: bool, outbox):
        self.page = page
        self.js = js
        self.outbox = outbox
        self.errors: list[str] = []
        self.allowed: list[re.Pattern] = []
        self.checked: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"script error: {exc}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def allow_error(self, pattern: str) -> None:
        """Let an error the journey expects pass (e.g. an intended 4xx answer under htmx:
        ``r"status 422 path /recipients/check"``); every other one still fails the journey."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    # -- navigation -------------------------------------------------------------------
    def goto(self, path: str):
        response = self.page.goto(path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return response

    def submit(self, selector: str = "main form button[type=submit]") -> None:
        """Press a form's button and wait for the page or fragment it brings."""
        with self.page.expect_response(lambda r: r.request.method == "POST"):
            self.page.locator(selector).first.click()
        self.page.wait_for_load_state("load")
        if self.js:
            self.settle()

    def press(self, key: str = "Enter") -> None:
        """Submit the focused field's form from the keyboard, waiting like ``submit``."""
        with self.page.expect_response(lambda r: r.request.method == "POST"):
            self.page.keyboard.press(key)
        self.page.wait_for_load_state("load")
        if self.js:
            self.settle()

    def arrive(self, path: str) -> None:
        """Wait until the browser shows ``path`` (the page after a redirect) and has loaded."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_url(lambda url: urlsplit(url).path == path)
        except PlaywrightTimeout:
            raise AssertionError(f"expected {path}, still on {self.page.url}:\n"
                                 f"{self.text()}") from None
        self.page.wait_for_load_state("load")

    def settle(self) -> None:
        """Wait until htmx has no request in flight."""
        self.page.wait_for_function(
            "() => !document.querySelector('.htmx-request')", timeout=10_000)

    def text(self) -> str:
        return self.page.inner_text("body")

    def code_since(self, before: int, kinds=("login", "activation")) -> str:
        return sent_code(self.outbox, before, kinds)

    # -- checks -----------------------------------------------------------------------
    def check(self, screenshot: str | None = None) -> None:
        """axe-core on the current page (JavaScript on); a screenshot when asked for."""
        if self.js:
            from axe_playwright_python.sync_playwright import Axe

            results = Axe().run(self.page)
            bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
            assert not bad, "\n".join(
                f"{v['impact']}: {v['id']}: {v['help']} at "
                f"{[n['target'] for n in v['nodes']][:3]}" for v in bad
            ) + f"\n(page {self.page.url})"
            self.checked.append(self.page.url)
            if screenshot and os.environ.get("VAXPORTAL_SCREENSHOTS"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                self.page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)

    # -- signing in -------------------------------------------------------------------
    def sign_in(self, username: str, password: str, check: bool = False) -> None:
        """Password, then the SMS code, through the real pages (``check``: axe on both)."""
        before = len(self.outbox())
        self.goto("/auth/login")
        if check:
            self.check()
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.submit()
        assert "/auth/otp" in self.page.url, self.text()
        if check:
            self.check()
        self.page.fill("input[name=code]", self.code_since(before))
        self.submit()
        assert "/auth/" not in self.page.url, self.text()


@pytest.fixture
def ui(browser, live_server, js, outbox):
    context = browser.new_context(
        base_url=live_server, java_script_enabled=js, locale="vi-VN",
        viewport={"width": 1280, "height": 860}, accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    context.add_init_script(WATCH_HTMX)
    page = context.new_page()
    helper = Ui(page, js, outbox)
    yield helper
    context.close()
    assert not helper.unexpected_errors(), helper.unexpected_errors()
