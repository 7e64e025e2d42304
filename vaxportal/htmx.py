"""The one place that knows htmx's headers: no other module reads or writes an ``HX-``
header (``tests/test_structure.py`` checks it)."""

from __future__ import annotations

from flask import make_response, redirect, render_template, request


def is_htmx() -> bool:
    """True for a request made by htmx (and not a history restore, which wants a full page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def target() -> str | None:
    """The id of the element htmx will swap the answer into."""
    return request.headers.get("HX-Target")


def trigger() -> str | None:
    """The id of the element that made the request (a form, a button)."""
    return request.headers.get("HX-Trigger")


def current_url() -> str | None:
    """The URL shown in the browser when htmx made the request."""
    return request.headers.get("HX-Current-URL")


def vary(response):
    """The answer differs for htmx (a fragment) and for a page: caches must tell them apart."""
    response.vary.add("HX-Request")
    return response


def render(page: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or only its fragment for htmx (same data, one template each)."""
    template = partial if partial and is_htmx() else page
    return make_response(render_template(template, **context), status)


def redirect_to(url: str):
    """Post/Redirect/Get that also works for htmx (a full navigation via HX-Redirect). The
    303 carries no body: every browser follows Location, and a slow line pays for no note."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = redirect(url, 303)
    response.set_data(b"")
    del response.headers["Content-Type"]
    return response


def retarget(response, selector: str, swap: str = "outerHTML"):
    response.headers["HX-Retarget"] = selector
    response.headers["HX-Reswap"] = swap
    return response


def whole_page(body: str, status: int):
    """A full page answering an htmx request (a save conflict, say): it replaces the page's
    body instead of landing inside the form that asked (static/js/app.js lets htmx swap
    a 4xx answer that names its target)."""
    response = make_response(body, status)
    if is_htmx():
        retarget(response, "body", "innerHTML")
    return response


def replace_url(response, url: str):
    """Show ``url`` in the address bar after an htmx request, without a new history entry."""
    response.headers["HX-Replace-Url"] = url
    return response
