"""The foundation from outside: configuration, health check, headers, errors, language."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback

import pytest
import sqlalchemy as sa
from flask import request

from vaxportal import ROOT, create_app, failures, jobs


def test_environment_overrides_defaults(monkeypatch, config):
    monkeypatch.setenv("VAXPORTAL_PAGE_SIZE", "7")
    monkeypatch.setenv("VAXPORTAL_RATELIMIT_STORAGE_URI", "memory://")
    app = create_app(config)
    assert app.config["PAGE_SIZE"] == 7


def test_refuses_to_start_without_secret_outside_debug(tmp_path, monkeypatch):
    monkeypatch.delenv("VAXPORTAL_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="VAXPORTAL_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                    "SMS_BACKEND": "http", "SMS_HTTP_URL": "http://127.0.0.1:9/"})


def test_console_sms_refused_outside_debug_and_testing(tmp_path):
    with pytest.raises(RuntimeError):
        create_app({"SECRET_KEY": "x" * 40, "OTP_ENCRYPTION_KEY": "y" * 40,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                    "SMS_BACKEND": "console"})


def test_postgres_uri_uses_psycopg3(config):
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_postgres_plans_each_statement_for_its_own_values(config):
    """A generic plan of a prepared statement read a province's export chunk in 1.7 s
    instead of 60 ms: every PostgreSQL connection plans for the values it is given, and
    connect options the operator set are kept."""
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db"})
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"]["options"] == "-c plan_cache_mode=force_custom_plan"
    assert options["pool_pre_ping"] is True
    given = {"connect_args": {"options": "-c statement_timeout=5000", "connect_timeout": 3}}
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db",
                               "SQLALCHEMY_ENGINE_OPTIONS": given})
    connect_args = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert connect_args == {"options": "-c statement_timeout=5000 "
                                       "-c plan_cache_mode=force_custom_plan",
                            "connect_timeout": 3}
    assert given == {"connect_args": {"options": "-c statement_timeout=5000",
                                      "connect_timeout": 3}}  # the caller's dict untouched


@pytest.mark.postgres
def test_postgres_connections_plan_for_their_values(app, db):
    assert db.session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "db": "ok"}


def test_healthz_503_when_database_unreachable(config, tmp_path):
    bad = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": bad})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"


def test_login_page_is_vietnamese_with_security_headers(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Đăng nhập" in html
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "HX-Request" in headers["Vary"]
    assert "Strict-Transport-Security" not in headers


def test_hsts_behind_https(client):
    response = client.get("/auth/login", base_url="https://localhost")
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(client):
    """A client cannot claim HTTPS or another address by sending the proxy's headers."""
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_behind_a_configured_proxy_scheme_and_client_address_come_from_it(config):
    config.update(PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1)
    app = create_app(config)
    seen = []
    app.before_request(lambda: seen.append(request.remote_addr))
    client = app.test_client()
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https",
                                                  "X-Forwarded-For": "203.0.113.7"})
    assert "max-age" in response.headers["Strict-Transport-Security"]
    assert seen == ["203.0.113.7"]


def test_htmx_and_css_served_locally(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert re.search(r'src="/static/vendor/htmx-1\.9\.12\.min\.[0-9a-f]{12}\.js"', html)
    assert "http://" not in html.split("<body")[0] and "https://" not in html.split("<body")[0]
    assert client.get("/static/vendor/htmx-1.9.12.min.js").status_code == 200


def test_404_page_vietnamese_without_details(client):
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Không tìm thấy" in html
    assert "Traceback" not in html


def test_500_page_hides_the_error_and_rolls_back(app, client, caplog):
    secret = "079123456789-Nguyễn Văn Bí Mật"

    @app.get("/__boom")
    def boom():
        raise RuntimeError(secret)

    response = client.get("/__boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Đã có lỗi ở máy chủ" in html
    assert secret not in html and "Traceback" not in html
    assert secret not in caplog.text  # personal data never reaches the log
    assert "RuntimeError" in caplog.text


def test_htmx_error_is_a_fragment_for_the_flash_region(client):
    """htmx would drop a 4xx answer: it comes as a message aimed at the flash region, so the
    form being filled in stays untouched (static/js/app.js lets it swap)."""
    response = client.hx("GET", "/khong-co-trang-nay")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'role="alert"' in body
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Reswap"] == "innerHTML"


def test_csp_allows_only_self(client):
    csp = client.get("/auth/login").headers["Content-Security-Policy"]
    sources = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert sources["default-src"] == ["'self'"]
    for directive, values in sources.items():
        assert set(values) <= {"'self'", "'none'"}, (directive, values)


def test_language_switch_to_english_and_back(client):
    response = client.post("/lang", data={"lang": "en", "next": "/auth/login"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/auth/login")
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    client.post("/lang", data={"lang": "vi", "next": "/auth/login"})
    assert '<html lang="vi">' in client.get("/auth/login").get_data(as_text=True)


def test_language_switch_refuses_open_redirect(client):
    response = client.post("/lang", data={"lang": "en", "next": "//evil.example/x"})
    assert response.status_code == 303
    assert "evil.example" not in response.headers["Location"]


def test_post_without_csrf_token_refused(client):
    response = client.post("/lang", data={"lang": "en"}, csrf=False)
    assert response.status_code == 400
    assert "mã bảo vệ" in response.get_data(as_text=True)


def test_schema_has_core_tables(app, db):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert {"facility", "account", "custodian", "user_session", "otp_challenge"} <= tables


@pytest.mark.sqlite
def test_sqlite_file_is_in_write_ahead_log_mode(app, db):
    """Readers and the writer of a SQLite file do not wait on each other: under gunicorn -w 2
    on the province's file, a search storing its terms while another read the register
    failed with "database is locked" in the rollback journal's mode (docs/benchmarks.md)."""
    assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30_000


#: libraries of one use, loaded by the process that needs them (docs/architecture.md)
LOADED_WHERE_USED = ("openpyxl", "PIL", "zxcvbn", "rq", "flask_migrate", "alembic", "mako",
                     "pygments")

FRESH_APP = """
import sys
from vaxportal import create_app
create_app({"SECRET_KEY": "k", "OTP_ENCRYPTION_KEY": "k", "AUDIT_KEY": "k",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///%s", "SMS_BACKEND": "http",
            "SMS_HTTP_URL": "http://127.0.0.1:9/", "EXPORT_DIR": "%s"})
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_web_worker_starts_without_the_libraries_of_one_use(tmp_path):
    """Issue 13, a web worker's peak memory (150 MB): openpyxl with Pillow (8 MB), zxcvbn
    (12 MB), RQ (8 MB) and Flask-Migrate with Alembic, Mako and Pygments (11 MB) sit in a
    process only once it reads an upload, judges a new password, talks to the queue or runs
    the console script. An app made in production configuration, in a fresh interpreter,
    has none of them."""
    script = FRESH_APP % (tmp_path / "app.sqlite3", tmp_path / "exports")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "flask" in loaded  # the app was made
    assert not loaded & set(LOADED_WHERE_USED), sorted(loaded & set(LOADED_WHERE_USED))


def _fail_with(text: str) -> None:
    """A background job whose error's message holds personal data (``jobs`` calls it)."""
    raise RuntimeError(text)


def test_a_failed_background_job_logs_no_personal_data(app, caplog, monkeypatch):
    """A job's error is logged by its type and frames, never its message, whether it runs
    in a thread or in ``vaxportal worker`` (where RQ would keep the message in its record of
    the failure: the worker raises one that names the type only)."""
    secret = "079123456789-Nguyễn Văn Bí Mật"
    path = f"{__name__}._fail_with"
    jobs._run_in_thread(app, path, (secret,))
    monkeypatch.setattr(jobs, "_worker_app", app)
    monkeypatch.setattr(jobs, "_worker_pid", os.getpid())
    with pytest.raises(failures.JobFailed) as caught:
        jobs.run_in_worker(path, secret)
    assert str(caught.value) == "RuntimeError" and caught.value.__suppress_context__
    assert secret not in "".join(traceback.format_exception(caught.value))
    assert secret not in caplog.text
    failed = [r.getMessage() for r in caplog.records if "background job" in r.getMessage()]
    assert len(failed) == 2 and all("failed: RuntimeError\n" in m for m in failed)
    assert all("_fail_with" in m for m in failed)
