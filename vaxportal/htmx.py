"""The one place that knows htmx's headers."""

from __future__ import annotations

from flask import make_response, redirect, render_template, request


def is_htmx() -> bool:
    """True for a request made by htmx (and not a history restore, which wants a full page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def target() -> str | None:
    return request.headers.get("HX-Target")


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
