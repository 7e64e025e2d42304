"""The browser suite's page helper (``Ui``: navigation, axe-core checks, signing in through
the real pages) and what it watches for (htmx failure events); the fixtures that make it are
in ``tests/browser/conftest.py``."""

from __future__ import annotations

import json
import os
import re
import shutil
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.helpers import sent_code
from vaxportal import ROOT

#: Chromium's headless shell (``make browser-deps``): the same engine as the browser, without
#: the full browser's windowing and services, at less than half its CPU per journey
CHROMIUM = (os.environ.get("VAXPORTAL_CHROMIUM") or shutil.which("chromium-headless-shell")
            or "/usr/bin/chromium-headless-shell")
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


def _axe_violations(page) -> list[dict]:
    """axe-core's findings on the page. Its script (half a megabyte) is sent only to a
    document that lacks it: after an htmx swap the document still has it."""
    from axe_playwright_python.base import AXE_SCRIPT

    if page.evaluate("() => typeof window.axe === 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    return page.evaluate("() => axe.run({resultTypes: ['violations']})")["violations"]


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

    def apply_filter(self, path: str, form: str = "main form.report-filter") -> None:
        """Press a filter form's button (a report's "Xem", the audit trail's search): htmx
        swaps the panel (a GET fragment of ``path``) where JavaScript runs, the browser loads
        the page where it does not."""
        button = self.page.locator(f"{form} button[type=submit]")
        if self.js:
            with self.page.expect_response(
                    lambda r: r.request.method == "GET" and path in r.url):
                button.click()
            self.settle()
        else:
            with self.page.expect_navigation():
                button.click()

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
        """Wait until htmx has no request in flight (asked every 50 ms: Playwright's default,
        every animation frame, makes the page draw a frame for each question)."""
        self.page.wait_for_function(
            "() => !document.querySelector('.htmx-request')", timeout=10_000, polling=50)

    def text(self) -> str:
        return self.page.inner_text("body")

    def url_shows(self, text: str) -> bool:
        """Whether ``text`` (any case) is in the page's address, decoded: its path or a
        query value other than the stored search's random id (``?s=``), in which a few
        letters turn up by chance (once "dao", in a run's 2,000th journey)."""
        parts = urlsplit(self.page.url)
        values = [value for key, value in parse_qsl(parts.query) if key != "s"]
        return any(text.lower() in unquote(part).lower() for part in [parts.path, *values])

    def code_since(self, before: int, kinds=("login", "activation")) -> str:
        return sent_code(self.outbox, before, kinds)

    # -- checks -----------------------------------------------------------------------
    def check(self, screenshot: str | None = None) -> None:
        """axe-core on the current page (JavaScript on); a screenshot when asked for."""
        if self.js:
            bad = [v for v in _axe_violations(self.page) if v.get("impact") in SERIOUS]
            assert not bad, "\n".join(
                f"{v['impact']}: {v['id']}: {v['help']} at "
                f"{[n['target'] for n in v['nodes']][:3]}" for v in bad
            ) + f"\n(page {self.page.url})"
            self.checked.append(self.page.url)
            if screenshot and os.environ.get("VAXPORTAL_SCREENSHOTS"):
                # a full-page screenshot resizes the page through an inline style, which
                # our CSP refuses: Chromium's report of it is the camera's, not the page's
                self.allow_error(r"^console: Applying inline style violates")
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
