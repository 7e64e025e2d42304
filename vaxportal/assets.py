"""Static files for a slow line: content-hashed names, cached for a year, precompressed.

At start every file under ``static/`` is copied once to ``STATIC_BUILD_DIR`` under a name
carrying the first 12 hex digits of its SHA-256 (``css/app.3f2a1b9c0d4e.css``), with a gzip
and a brotli twin made by WhiteNoise's compressor. WhiteNoise serves that folder in front of
Flask: a hashed name never changes its content, so it is ``immutable``; it picks the brotli
twin only when the browser asks for ``br``, else gzip (IE11), else the file itself.
``url_for('static', filename=...)`` hands out the hashed name, so templates stay as they are.
A name without its hash falls through to Flask's own static route (revalidated each time).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")


def init_app(app: Flask) -> None:
    source = Path(app.static_folder)
    build = Path(app.config["STATIC_BUILD_DIR"] or Path(app.instance_path) / "static")
    manifest = build_static(source, build)
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def _hashed_static_name(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            # debug (`make run`): an edited file gets its new name without a restart
            names = build_static(source, build) if app.debug else manifest
            values["filename"] = names.get(values["filename"], values["filename"])

    app.wsgi_app = StaticFiles(
        app.wsgi_app, root=str(build), prefix=app.static_url_path, autorefresh=app.debug,
        max_age=None, immutable_file_test=lambda path, url: bool(HASHED.search(url)),
        add_headers_function=_no_sniffing,
    )


class StaticFiles(WhiteNoise):
    FOREVER = 365 * 24 * 3600  # the year browsers and proxies honour (WhiteNoise says ten)


def _no_sniffing(headers, path: str, url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"


def hashed_name(relative: str, data: bytes) -> str:
    """``css/app.css`` -> ``css/app.<12 hex digits of its SHA-256>.css``."""
    stem, dot, suffix = relative.rpartition(".")
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"{stem}.{digest}.{suffix}" if dot else f"{relative}.{digest}"


def build_static(source: Path, build: Path) -> dict[str, str]:
    """Copy each file under its hashed name (once: a name is its content) and return the
    manifest ``{relative name: hashed name}``."""
    manifest = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        data = path.read_bytes()
        manifest[relative] = hashed_name(relative, data)
        target = build / manifest[relative]
        if not target.exists():
            _write_with_twins(target, data, build.with_name(build.name + ".tmp"))
    return manifest


def _write_with_twins(target: Path, data: bytes, scratch: Path) -> None:
    """The compressed twins first and the file last, each by an atomic rename, so a process
    that sees the file (several workers start at once) also sees its twins."""
    target.parent.mkdir(parents=True, exist_ok=True)
    compressor = Compressor(quiet=True)
    if compressor.should_compress(target.name):
        for suffix, packed in ((".br", compressor.compress_brotli(data)),
                               (".gz", compressor.compress_gzip(data))):
            if len(packed) < len(data):
                _replace(target.with_name(target.name + suffix), packed, scratch)
    _replace(target, data, scratch)


def _replace(path: Path, data: bytes, scratch: Path) -> None:
    """Written beside the served folder, never inside it: WhiteNoise lists that folder."""
    scratch.mkdir(parents=True, exist_ok=True)
    temporary = scratch / f"{os.getpid()}-{path.name}"
    temporary.write_bytes(data)
    os.replace(temporary, path)
