"""Browser journeys: a live server in a thread and Debian's Chromium (its headless shell) driven
by Playwright.

Every journey runs twice, with JavaScript on and off (the ``js`` parameter). With it on,
each page the journey visits is checked by axe-core (no serious or critical finding) and the
page may raise no script error, console error, CSP violation or htmx failure event
(``htmx:responseError``, ``htmx:sendError``, ``htmx:swapError``) unless the journey allows
that one explicitly with ``ui.allow_error``. ``VAXPORTAL_SCREENSHOTS=1`` (``make
screenshots``) refreshes the pictures under docs/screenshots/ that the README shows.

Chromium comes from ``make browser-deps``; a missing browser fails the run, never skips it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.browser.ui import CHROMIUM, WATCH_HTMX, Ui
from vaxportal.extensions import db


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
    # ``shutdown`` waits for the loop to look at its flag: every 50 ms, not the default 0.5 s
    # (which each journey's teardown waited out)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def js(request) -> bool:
    return request.param


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
