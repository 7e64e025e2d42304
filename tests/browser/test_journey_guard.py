"""The journeys' own guard (issue 14): an htmx request that fails (an error answer the page
does not expect, no answer at all) fails the journey, like a script error does, so a broken
field check can no longer pass unnoticed."""

from __future__ import annotations

import pytest

FAILING_REQUEST = """
() => {
  var probe = document.createElement("div");
  probe.setAttribute("hx-get", "/no-such-page");
  probe.setAttribute("hx-trigger", "load");
  document.body.appendChild(probe);
  window.htmx.process(probe);
}
"""


def _probe(ui) -> list[str]:
    ui.goto("/auth/login")
    ui.page.evaluate(FAILING_REQUEST)
    ui.page.wait_for_function(
        "() => !document.querySelector('.htmx-request') && document.querySelector('[hx-get]')")
    ui.page.wait_for_timeout(200)
    return ui.unexpected_errors()


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_an_htmx_error_answer_fails_the_journey(ui, js):
    # an answer the server's error pages never give (they aim at #flashes): a bare 500
    ui.page.route("**/no-such-page*", lambda route: route.fulfill(status=500, body="boom"))
    found = [e for e in _probe(ui) if "htmx:responseError" in e]
    assert found and "status 500" in found[0], ui.errors
    ui.allow_error("no-such-page|status of 500")  # expected here: the journey itself passes


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_an_htmx_request_without_answer_fails_the_journey(ui, js):
    ui.page.route("**/no-such-page*", lambda route: route.abort())
    found = [e for e in _probe(ui) if "htmx:sendError" in e]
    assert found, ui.errors
    ui.allow_error(r"no-such-page|net::ERR_FAILED|^console: htmx:(afterRequest|sendError)$")


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_an_unexpected_console_error_is_not_allowed_by_another_pattern(ui, js):
    ui.goto("/auth/login")
    ui.allow_error("status 404 path /no-such-page")
    ui.page.evaluate("() => console.error('something else broke')")
    ui.page.wait_for_timeout(100)
    assert ui.unexpected_errors() == ["console: something else broke"]
    ui.errors.clear()


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_the_accessibility_check_finds_a_serious_finding_also_after_a_swap(ui, js):
    """``ui.check()`` runs axe-core on the page as it is now; its script is sent once per
    document, so a check after an in-page change (an htmx swap) must still see that change."""
    ui.goto("/auth/login")
    ui.check()  # the page is clean, and axe is now in the document
    ui.page.evaluate("""() => {
      var image = document.createElement("img");  // an image without a text alternative
      image.setAttribute("src", "/static/none.png");
      document.querySelector("main").appendChild(image);
    }""")
    with pytest.raises(AssertionError, match="image-alt"):
        ui.check()
    ui.allow_error("none.png|404")
