"""The forms of a page, read the way a browser reads them: ``<form>`` elements with their
``action`` and ``hx-post`` targets, and every named input, select, textarea and submit button
(hidden ones included: CSRF and entry tokens, versions, carried values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class Field:
    name: str
    kind: str  # text, hidden, password, select, textarea, submit, file, checkbox, ...
    values: list[str] = field(default_factory=list)  # as the page fills it, or the options

    def merge(self, other: Field) -> None:
        self.values += [v for v in other.values if v not in self.values]


@dataclass
class Form:
    method: str
    targets: set[str]  # paths the form sends to (action, hx-post of the form or its fields)
    fields: dict[str, Field] = field(default_factory=dict)
    multipart: bool = False

    def add(self, item: Field) -> None:
        if item.name in self.fields:
            self.fields[item.name].merge(item)
        else:
            self.fields[item.name] = item


def _path(url: str | None) -> str | None:
    return urlsplit(url).path if url else None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: Field | None = None
        self.textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            targets = {p for p in (_path(a.get("action")), _path(a.get("hx-post"))) if p}
            self.form = Form(a.get("method", "get").lower(), targets,
                             multipart="multipart" in a.get("enctype", ""))
            self.forms.append(self.form)
            return
        if self.form is None:
            return
        if a.get("hx-post"):
            self.form.targets.add(_path(a["hx-post"]))
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            self.form.add(Field(name, kind, [a.get("value", "")]))
        elif tag == "button" and name and a.get("type", "submit") == "submit":
            self.form.add(Field(name, "submit", [a.get("value", "")]))
        elif tag == "select" and name:
            self.select = Field(name, "select")
        elif tag == "option" and self.select is not None:
            self.select.values.append(a.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea = Field(name, "textarea", [""])

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea.values[0] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select" and self.select is not None and self.form is not None:
            self.form.add(self.select)
            self.select = None
        elif tag == "textarea" and self.textarea is not None and self.form is not None:
            self.textarea.values[0] = self.textarea.values[0].removeprefix("\n")
            self.form.add(self.textarea)
            self.textarea = None


def read_forms(page: str) -> list[Form]:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader.forms


def form_for(page: str, target: str, method: str = "post") -> Form | None:
    """Every field of the page's forms that send to ``target`` (a path) by ``method``,
    merged: a page may hold several such forms (one button per row)."""
    found: Form | None = None
    for form in read_forms(page):
        if form.method != method or target not in form.targets:
            continue
        if found is None:
            found = Form(method, {target}, multipart=form.multipart)
        for item in form.fields.values():
            found.add(item)
    return found
