import base64
import json
import logging
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from flask_babel import Babel

from vaxportal import sms


def make_app(*, testing: bool = True, debug: bool = False, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=testing, **config)
    app.debug = debug
    Babel(app)
    sms.init_app(app)
    return app


# file and console -------------------------------------------------------------------------


def test_file_backend_appends_one_json_line_per_message(tmp_path):
    path = tmp_path / "deep" / "dir" / "sms.jsonl"
    app = make_app(SMS_BACKEND=f"file:{path}")
    with app.app_context():
        sms.send_sms("+84912345678", "initial_password", "Mật khẩu: Ab#9xyzQ", secret="Ab#9xyzQ")
        sms.send_sms("+84912345679", "login", "Mã đăng nhập 123456", secret="123456")
    raw = path.read_text(encoding="utf-8")
    assert "Mật khẩu" in raw  # ensure_ascii=False
    lines = [json.loads(line) for line in raw.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert set(first) == {"to", "kind", "secret", "body", "at"}
    assert first["to"] == "+84912345678"
    assert first["kind"] == "initial_password"
    assert first["secret"] == "Ab#9xyzQ"
    assert first["body"] == "Mật khẩu: Ab#9xyzQ"
    at = datetime.fromisoformat(first["at"])
    assert at.utcoffset().total_seconds() == 0
    assert lines[1]["kind"] == "login"


def test_console_backend_logs_a_marked_line(caplog):
    app = make_app(SMS_BACKEND="console")
    with app.app_context(), caplog.at_level(logging.WARNING, logger="vaxportal.sms.dev"):
        sms.send_sms("+84912345678", "login", "Mã đăng nhập 654321", secret="654321")
    record = next(r for r in caplog.records if r.name == "vaxportal.sms.dev")
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "[DEV SMS — not sent]" in text
    assert "+84912345678" in text and "login" in text and "654321" in text


def test_console_is_the_default():
    app = make_app()
    assert isinstance(app.extensions["sms"], sms.ConsoleBackend)


@pytest.mark.parametrize("backend", ["console", "file:/tmp/vaxportal-sms.jsonl", None])
def test_clear_text_backends_refused_outside_debug_and_testing(backend):
    config = {"SMS_BACKEND": backend} if backend else {}
    with pytest.raises(RuntimeError, match="debug or testing"):
        make_app(testing=False, debug=False, **config)


def test_clear_text_backends_allowed_in_debug(tmp_path):
    app = make_app(testing=False, debug=True, SMS_BACKEND=f"file:{tmp_path / 's.jsonl'}")
    assert isinstance(app.extensions["sms"], sms.FileBackend)


@pytest.mark.parametrize("backend", ["smtp", "file:", "http"])
def test_misconfiguration_refused(backend):
    with pytest.raises(RuntimeError):
        make_app(SMS_BACKEND=backend)  # "http" without SMS_HTTP_URL


# http -------------------------------------------------------------------------------------


class Stub:
    """A local gateway that records requests; answers ``status`` after ``delay`` seconds."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay, self.requests = status, delay, []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                stub.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers),
                                      "body": self.rfile.read(length)})
                time.sleep(stub.delay)
                self.send_response(stub.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def http_app(url: str, **config) -> Flask:
    return make_app(testing=False, SMS_BACKEND="http", SMS_HTTP_URL=url, **config)


def test_http_backend_sends_the_substituted_template_with_auth():
    template = {"sender": "VAXPORTAL", "msisdn": "{to}", "text": "{body}",
                "meta": {"note": "to={to}"}, "n": 1}
    with Stub() as stub:
        app = http_app(stub.url, SMS_HTTP_BODY_TEMPLATE=json.dumps(template),
                       SMS_HTTP_HEADERS={"X-Api-Key": "k-123"},
                       SMS_HTTP_USERNAME="gw", SMS_HTTP_PASSWORD="pa:ss")
        body = 'Mã "đăng nhập" {to} \\ 123456'  # quotes, braces and a backslash stay data
        with app.app_context():
            sms.send_sms("+84912345678", "login", body, secret="123456")
    (request,) = stub.requests
    assert request["method"] == "POST" and request["path"] == "/send"
    sent = json.loads(request["body"].decode("utf-8"))
    assert sent == {"sender": "VAXPORTAL", "msisdn": "+84912345678", "text": body,
                    "meta": {"note": "to=+84912345678"}, "n": 1}
    headers = {k.lower(): val for k, val in request["headers"].items()}
    assert headers["x-api-key"] == "k-123"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"gw:pa:ss").decode()
    assert headers["content-type"].startswith("application/json")


def test_http_backend_method_and_dict_template():
    with Stub() as stub:
        app = http_app(stub.url, SMS_HTTP_METHOD="put",
                       SMS_HTTP_BODY_TEMPLATE={"to": "{to}", "msg": "{body}"})
        with app.app_context():
            sms.send_sms("+84912345678", "export", "xin chào")
    assert stub.requests[0]["method"] == "PUT"
    assert json.loads(stub.requests[0]["body"]) == {"to": "+84912345678", "msg": "xin chào"}
    assert "authorization" not in {k.lower() for k in stub.requests[0]["headers"]}


def test_http_error_status_raises_sms_error_without_logging_secrets(caplog):
    with Stub(status=500) as stub:
        app = http_app(stub.url)
        with (app.test_request_context(), caplog.at_level(logging.DEBUG),
              pytest.raises(sms.SmsError) as info):
            sms.send_sms("+84912345678", "login", "Mã 246810", secret="246810")
    assert str(info.value) == "Không gửi được tin nhắn SMS, vui lòng thử lại sau."
    logged = caplog.text
    assert "500" in logged and "login" in logged and "678" in logged
    assert "246810" not in logged and "912345678" not in logged


def test_http_timeout_raises_sms_error():
    with Stub(delay=2.0) as stub:
        app = http_app(stub.url, SMS_HTTP_TIMEOUT=0.5)
        with app.app_context():
            started = time.monotonic()
            with pytest.raises(sms.SmsError):
                sms.send_sms("+84912345678", "login", "Mã 111111")
            assert time.monotonic() - started < 1.8


def test_http_connection_refused_raises_sms_error():
    with Stub() as stub:
        url = stub.url
    app = http_app(url, SMS_HTTP_TIMEOUT=2)
    with app.app_context(), pytest.raises(sms.SmsError):
        sms.send_sms("+84912345678", "login", "Mã 111111")


def test_http_success_logs_only_kind_status_and_number_tail(caplog):
    with Stub(status=202) as stub:
        app = http_app(stub.url)
        with app.app_context(), caplog.at_level(logging.DEBUG, logger="vaxportal.sms"):
            sms.send_sms("+84912345678", "step_up", "Mã 135790", secret="135790")
    assert "step_up" in caplog.text and "202" in caplog.text
    assert "135790" not in caplog.text and "912345678" not in caplog.text
