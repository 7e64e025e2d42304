"""Issue 7: every form fuzzed with generated input, as each role that fills it, in a full
page request and as htmx sends it: the answer (and the page it redirects to) is never a 500
and never shows a stack trace.

The fields come from the page itself (the ``<form>`` that sends to the route, hidden inputs
and buttons included), so a field added to a template is fuzzed without touching this file;
a POST route or a GET form added to the app without an entry in ``cases`` fails the first
two tests."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.fuzz.cases import CASES, GET_CASES, GET_FORM_TEMPLATES, ROLE_HOME, Case, Ctx
from tests.fuzz.forms import Field, Form, form_for
from tests.fuzz.profiles import PROFILE, STATUSES, Unhandled
from tests.fuzz.strategies import (
    extra_fields,
    good_uploads,
    kind_of,
    nasty_text,
    odd_for,
    odd_uploads,
    sendings,
    usual_values,
)
from vaxportal import ROOT

ALL_CASES = {**CASES, **GET_CASES}
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc",
                 "psycopg.", "werkzeug.debug", "jinja2.exceptions")
HX_TARGETS = st.one_of(
    st.none(), st.sampled_from(["dose-form", "recipient-form", "step-up", "results", "v-phone"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20))


def test_every_post_route_is_fuzzed(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules()
              if "POST" in (rule.methods or ()) and rule.endpoint != "static"}
    missing, stale = sorted(routes - CASES.keys()), sorted(CASES.keys() - routes)
    assert not missing, f"POST routes without a fuzz case in tests/fuzz/cases.py: {missing}"
    assert not stale, f"fuzz cases of routes that no longer exist: {stale}"


def test_every_get_form_is_fuzzed():
    root = Path(ROOT) / "templates"
    found = {str(path.relative_to(root)) for path in root.rglob("*.html")
             if re.search(r'<form[^>]*method="get"', path.read_text(encoding="utf-8"))}
    assert found == set(GET_FORM_TEMPLATES), "GET forms changed: update GET_CASES in cases.py"
    assert set(GET_FORM_TEMPLATES.values()) == set(GET_CASES)


# -- one example ---------------------------------------------------------------------------

def _sign_in(ctx: Ctx, case: Case) -> None:
    fresh = case.fresh
    if fresh is None:
        fresh = ctx.draw(st.sampled_from([True, True, False]), label="fresh OTP")
    role = case.role
    if isinstance(role, tuple):
        role = ctx.draw(st.sampled_from(role), label="role")
    if role not in (None, "otp"):
        ctx.account = ctx.world.account(role, ROLE_HOME[role])
        ctx.client = ctx.world.client(ctx.account, fresh=fresh)


def _open_page(ctx: Ctx, case: Case, endpoint: str) -> Form:
    if case.page_by is not None:
        ctx.page = case.page_by(ctx)
    else:
        url = case.page.format(**ctx.objects)
        response = ctx.client.get(url)
        assert response.status_code == 200, f"{endpoint}: GET {url} → {response.status_code}"
        ctx.page = response.get_data(as_text=True)
    target = urlsplit((case.form_target or case.action).format(**ctx.objects)).path
    form = form_for(ctx.page, target, case.method)
    assert form is not None, f"{endpoint}: no {case.method} form to {target} on {case.page}"
    return form


def _csrf(item: Field, how: str) -> st.SearchStrategy:
    """The page's own token, or none (the header carries it), or garbage."""
    own = st.just(item.values[:1])
    garbage = st.lists(nasty_text, min_size=1, max_size=2)
    return {"usual": own, "odd": st.one_of(st.just([]), garbage),
            "any": st.one_of(own, own, own, st.just([]), garbage)}[how]


def _draw_fields(ctx: Ctx, form: Form, live: dict[str, list[str]]) -> list[tuple]:
    """Values for every field of the form. An example is ``usual`` (what a person sends: the
    success paths), ``one`` odd field among usual ones (so its check runs deep in the view),
    ``typed``: the same for a number or date field, or ``many`` odd fields, missing and
    repeated ones, and unknown ones."""
    mode = ctx.draw(st.sampled_from(["usual", "one", "typed", "many"]), label="mode")
    names = list(form.fields)
    if mode == "typed":
        names = [n for n, item in form.fields.items() if kind_of(item) != "text"] or names
    odd = names[ctx.draw(st.integers(0, 255), label="odd field") % len(names)]
    pairs: list[tuple] = []
    for name, item in form.fields.items():
        how = "any" if mode == "many" else "odd" if name == odd else "usual"
        if item.kind == "file":
            good = st.lists(good_uploads, min_size=1, max_size=1)
            files = ctx.draw(good if how == "usual" else st.one_of(
                good, st.lists(odd_uploads, max_size=2)), label=name)
            pairs += [(name, content) for content in files]
            continue
        if name == "csrf_token":
            strategy = _csrf(item, how)
        else:
            strategy = sendings(usual_values(item, live.get(name, [])), odd_for(item), how)
        pairs += [(name, value) for value in ctx.draw(strategy, label=name)]
    if mode == "many":
        pairs += ctx.draw(extra_fields, label="extra fields")
    return pairs


def _send(ctx: Ctx, case: Case, url: str, pairs: list[tuple], headers: dict):
    if case.method == "get":
        return ctx.client.get(f"{url}?{urlencode(pairs)}", headers=headers)
    if not case.upload:
        return ctx.client.post(url, data=urlencode(pairs), headers=headers,
                               content_type="application/x-www-form-urlencoded")
    data = MultiDict()
    for name, value in pairs:
        if isinstance(value, tuple):
            value = (io.BytesIO(value[0]), value[1])
        elif isinstance(value, bytes):
            value = value.decode("latin-1")
        data.add(name, value)
    return ctx.client.post(url, data=data, headers=headers, content_type="multipart/form-data")


def _check(where: str, response, unhandled: Unhandled) -> None:
    body = response.get_data().decode("utf-8", "replace")  # a download is no text
    assert response.status_code < 500, f"{where} → {response.status_code}\n{unhandled.report()}"
    for marker in TRACE_MARKERS:
        assert marker not in body, f"{where}: {marker!r} in the answer"


def _redirect(response) -> str | None:
    """Where the answer sends the browser next, if within the site."""
    url = response.headers.get("HX-Redirect") or response.headers.get("Location") or ""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("endpoint", sorted(ALL_CASES))
@settings(parent=settings.get_profile(PROFILE))
@given(data=st.data())
def test_form_never_answers_500(endpoint, world, unhandled, data):
    case = ALL_CASES[endpoint]
    world.reset()
    unhandled.records.clear()
    ctx = Ctx(world, data.draw)
    _sign_in(ctx, case)
    if case.setup is not None:
        case.setup(ctx)
    if ctx.client is None:
        ctx.client = world.client(None)
    form = _open_page(ctx, case, endpoint)
    pairs = _draw_fields(ctx, form, case.live(ctx) if case.live else {})
    url = case.action.format(**ctx.objects)
    for hx in (False, True):
        headers = {}
        if hx:
            headers["HX-Request"] = "true"
            target = data.draw(HX_TARGETS, label="HX-Target")
            if target is not None:
                headers["HX-Target"] = target
        where = f"{endpoint} ({'htmx' if hx else 'full page'})"
        response = _send(ctx, case, url, pairs, headers)
        STATUSES[endpoint][response.status_code] += 1
        _check(where, response, unhandled)
        if (next_url := _redirect(response)) is not None:
            _check(f"{where}, then GET {next_url}", ctx.client.get(next_url), unhandled)
