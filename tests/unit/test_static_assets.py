"""The static assets stay fit for Internet Explorer 11.

Most checks need nothing but Python; the last one runs the real gates (tools/ie11-gates.sh:
es-check and doiuse from package-lock.json), which install them with `npm ci` if needed.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
VENDOR = STATIC / "vendor"
GATES = ROOT / "tools" / "ie11-gates.sh"
HTMX = VENDOR / "htmx-1.9.12.min.js"

# sha256 of package/dist/htmx.min.js in the npm package htmx.org@1.9.12.
HTMX_SHA256 = "449317ade7881e949510db614991e195c3a099c4c791c24dacec55f9f4a2a452"


def own_files(suffix: str) -> list[Path]:
    return sorted(p for p in STATIC.rglob(f"*{suffix}") if p.is_file() and VENDOR not in p.parents)


def without_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"(?m)^\s*//.*$", " ", text)


OWN_JS = own_files(".js")
OWN_CSS = own_files(".css")

ES2015_TOKENS = {
    "arrow function": re.compile(r"=>"),
    "template literal": re.compile(r"`"),
    "let": re.compile(r"\blet\s"),
    "const": re.compile(r"\bconst\s"),
    "class": re.compile(r"\bclass\s+[A-Za-z_$]"),
    "Promise": re.compile(r"\bPromise\b"),
    "fetch": re.compile(r"\bfetch\s*\("),
}

CSS_IE11_BREAKERS = {
    "custom property": re.compile(r"var\(\s*--"),
    "custom property definition": re.compile(r"(^|[;{\s])--[A-Za-z0-9_-]+\s*:"),
    "grid": re.compile(r"display\s*:\s*(-ms-)?(inline-)?grid"),
    "gap": re.compile(r"(^|[;{\s])(row-|column-|grid-)?gap\s*:"),
    "sticky": re.compile(r"position\s*:\s*(-webkit-)?sticky"),
    ":is/:where": re.compile(r":(is|where)\("),
}


def test_htmx_is_the_pinned_release():
    assert hashlib.sha256(HTMX.read_bytes()).hexdigest() == HTMX_SHA256


def test_htmx_licence_ships_beside_it():
    assert "Zero-Clause BSD" in (VENDOR / "htmx-LICENSE.txt").read_text(encoding="utf-8")


def test_gates_pin_the_same_htmx_hash():
    assert f'HTMX_SHA256="{HTMX_SHA256}"' in GATES.read_text(encoding="utf-8")


def test_there_is_own_js_and_css_to_check():
    assert STATIC / "js" / "app.js" in OWN_JS
    assert STATIC / "css" / "app.css" in OWN_CSS


@pytest.mark.parametrize("path", OWN_JS, ids=lambda p: str(p.relative_to(ROOT)))
def test_own_js_has_no_es2015_syntax(path):
    code = without_comments(path.read_text(encoding="utf-8"))
    found = [name for name, rx in ES2015_TOKENS.items() if rx.search(code)]
    assert not found, f"{path.name} uses {found}: Internet Explorer 11 runs ES5 only"


@pytest.mark.parametrize("path", OWN_CSS, ids=lambda p: str(p.relative_to(ROOT)))
def test_own_css_has_nothing_ie11_lacks(path):
    css = without_comments(path.read_text(encoding="utf-8"))
    found = [name for name, rx in CSS_IE11_BREAKERS.items() if rx.search(css)]
    assert not found, f"{path.name} uses {found}: not in Internet Explorer 11"


def test_ie11_gates_pass():
    result = subprocess.run(
        ["bash", str(GATES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.count("ok: ") == 3, output
