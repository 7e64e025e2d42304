"""Text messages: one call, ``send_sms``; the backend comes from ``SMS_BACKEND``.

- ``console`` (default): a ``[DEV SMS — not sent]`` line in the log;
- ``file:PATH``: one JSON object per line appended to PATH (tests read it back);
- ``http``: an HTTP SMS gateway (``SMS_HTTP_*`` keys).

``console`` and ``file`` write secrets in clear, so they only run in debug or testing mode.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app
from flask_babel import gettext as _

log = logging.getLogger("vaxportal.sms")
dev_log = logging.getLogger("vaxportal.sms.dev")

_PLACEHOLDER = re.compile(r"\{(to|body)\}")
DEFAULT_BODY_TEMPLATE = {"to": "{to}", "body": "{body}"}


class SmsError(RuntimeError):
    """The message could not be sent; ``str(error)`` can be shown to the user."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("Không gửi được tin nhắn SMS, vui lòng thử lại sau."))


class Backend(Protocol):
    def send(self, to: str, kind: str, body: str, secret: str | None) -> None: ...


def _tail(to: str) -> str:
    """Only the last 3 digits of a number go to the logs."""
    return "…" + re.sub(r"\D", "", to)[-3:]


class ConsoleBackend:
    def send(self, to: str, kind: str, body: str, secret: str | None) -> None:
        dev_log.warning("[DEV SMS — not sent] to=%s kind=%s: %s", to, kind, body)


class FileBackend:
    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, to: str, kind: str, body: str, secret: str | None) -> None:
        record = {"to": to, "kind": kind, "secret": secret, "body": body,
                  "at": datetime.now(UTC).isoformat()}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write in append mode: lines never interleave
        finally:
            os.close(fd)


def _as_dict(value: Any, key: str) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RuntimeError(f"{key} must be a JSON object.") from None
    if not isinstance(value, dict):
        raise RuntimeError(f"{key} must be a JSON object (a dict).")
    return value


def _substitute(value: Any, fields: dict[str, str]) -> Any:
    """Fill {to} and {body} inside the parsed template's strings (no JSON text is built)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _substitute(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, fields) for v in value]
    return value


class HttpBackend:
    def __init__(self, config: dict) -> None:
        self.url = config.get("SMS_HTTP_URL") or ""
        if not self.url.lower().startswith(("http://", "https://")):
            raise RuntimeError("SMS_BACKEND=http needs SMS_HTTP_URL (an http:// or https:// URL).")
        self.method = str(config.get("SMS_HTTP_METHOD") or "POST").upper()
        self.timeout = float(config.get("SMS_HTTP_TIMEOUT") or 10)
        self.template = _as_dict(config.get("SMS_HTTP_BODY_TEMPLATE") or DEFAULT_BODY_TEMPLATE,
                                 "SMS_HTTP_BODY_TEMPLATE")
        self.headers = {"Content-Type": "application/json; charset=utf-8",
                        **_as_dict(config.get("SMS_HTTP_HEADERS") or {}, "SMS_HTTP_HEADERS")}
        username = config.get("SMS_HTTP_USERNAME")
        if username:
            pair = f"{username}:{config.get('SMS_HTTP_PASSWORD') or ''}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")

    def send(self, to: str, kind: str, body: str, secret: str | None) -> None:
        payload = _substitute(self.template, {"to": to, "body": body})
        request = urllib.request.Request(  # noqa: S310  (scheme checked in __init__)
            self.url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers=self.headers, method=self.method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (OSError, ValueError) as error:  # URLError, timeouts, refused connections
            log.warning("SMS %s to %s failed: %s", kind, _tail(to), type(error).__name__)
            raise SmsError() from None
        if not 200 <= status < 300:
            log.warning("SMS %s to %s failed: HTTP %s", kind, _tail(to), status)
            raise SmsError()
        log.info("SMS %s to %s sent: HTTP %s", kind, _tail(to), status)


def make_backend(app: Flask) -> Backend:
    """The backend named by ``SMS_BACKEND``; refuses the clear-text ones in production."""
    name = str(app.config.get("SMS_BACKEND") or "console")
    if name == "http":
        return HttpBackend(app.config)
    if name != "console" and not name.startswith("file:"):
        raise RuntimeError(
            f"Unknown SMS_BACKEND {name!r}: use 'http', or 'console' / 'file:PATH' in development."
        )
    if not (app.debug or app.testing):
        raise RuntimeError(
            f"SMS_BACKEND={name!r} writes passwords and codes in clear and only runs in debug or "
            "testing mode. Configure SMS_BACKEND=http and SMS_HTTP_URL for a real SMS gateway."
        )
    if name == "console":
        return ConsoleBackend()
    path = name.split(":", 1)[1].strip()
    if not path:
        raise RuntimeError("SMS_BACKEND=file:PATH needs a file path after 'file:'.")
    return FileBackend(Path(path))


def init_app(app: Flask) -> None:
    app.extensions["sms"] = make_backend(app)


def send_sms(to: str, kind: str, body: str, secret: str | None = None) -> None:
    """Send ``body`` to ``to``; ``kind`` names the purpose (initial_password, login, ...).
    ``secret`` (the password or code inside ``body``) is kept by the file backend for tests.
    Raises ``SmsError`` when the gateway fails."""
    backend: Backend = current_app.extensions["sms"]
    backend.send(to, kind, body, secret)
