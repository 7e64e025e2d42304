"""Issue 11, section 4: an audit trail that cannot be rewritten (P2.4).

A DBA (or anyone with write access to the database) tampers through raw SQL, with the
append-only triggers dropped or disabled: tail truncation, forged inserts computed with the
public hash function, an edit with every later hash recomputed. ``vaxportal audit verify``
and the audit page must notice each, because the chain is keyed (AUDIT_KEY, never in the
database) and its head is checkpointed, signed, outside the table. Audit rows hold search
terms, masked for the reader exactly as the register and the export mask them.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import stat
import threading

import pytest
import sqlalchemy as sa

from tests.helpers import (
    all_values,
    code_for,
    confirm,
    html,
    raw_execute,
    request_export,
    triggers_off,
    workbook,
)
from vaxportal import create_app
from vaxportal.audit import chain, events
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db


@pytest.fixture
def trail(app, place, person):
    """Some recipients and 60 access events: a trail of well over 50 rows."""
    recipients = [person("s1") for _ in range(3)]
    for n in range(60):
        recipient = recipients[n % 3]
        events.record("view_identity", category="access", entity="recipient",
                      entity_id=recipient.id, facility_id=recipient.facility_id)
    db.session.commit()
    return rows()


def rows() -> list[dict]:
    db.session.expire_all()
    with db.engine.connect() as conn:
        result = conn.execute(sa.select(AuditEvent.__table__).order_by(AuditEvent.id))
        return [dict(row) for row in result.mappings()]


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def checkpoint(runner):
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result


def checkpoint_file(app):
    return os.path.join(app.config["AUDIT_CHECKPOINT_DIR"], "checkpoints.jsonl")


def lines_of(path) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


def public_hash(row: dict) -> str:
    """What anyone who reads the code can compute: SHA-256 over the canonical row."""
    return hashlib.sha256(chain.canonical(row)).hexdigest()


def update_hashes(changed: list[dict]) -> None:
    for row in changed:
        raw_execute("UPDATE audit_event SET actor = ?, prev_hash = ?, row_hash = ? WHERE id = ?",
                    (row["actor"], row["prev_hash"], row["row_hash"], row["id"]))


# -- vaxportal audit verify -----------------------------------------------------------------

def test_p2_4_an_intact_trail_with_its_checkpoint_verifies(runner, trail):
    checkpoint(runner)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert str(len(trail)) in result.output


def test_p2_4_deleting_the_last_50_rows_fails_verify(runner, trail):
    checkpoint(runner)
    last = trail[-1]["id"]
    with triggers_off():
        raw_execute("DELETE FROM audit_event WHERE id > ?", (last - 50,))
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert f"#{last}" in result.output  # the checkpointed row that is gone


def test_p2_4_a_row_forged_with_the_public_hash_function_fails_verify(runner, trail):
    """INSERT passes the triggers; a row hashed as the code's public function would hash it
    is still found, because the chain is keyed."""
    checkpoint(runner)
    last = trail[-1]
    forged = {key: last[key] for key in chain.FIELDS}
    forged.update(id=last["id"] + 1, prev_hash=last["row_hash"], actor="account:forged",
                  action="login_ok")
    forged["row_hash"] = public_hash(forged)
    raw_execute(
        "INSERT INTO audit_event (id, at, category, action, entity, entity_id, facility_id, "
        "actor, prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (forged["id"], last["at"].replace(tzinfo=None), forged["category"], forged["action"],
         forged["entity"], forged["entity_id"], forged["facility_id"], forged["actor"],
         forged["prev_hash"], forged["row_hash"]))
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert f"#{forged['id']}" in result.output


@pytest.mark.parametrize("hasher", ["public", "keyed"])
def test_p2_4_a_row_edited_and_every_later_hash_recomputed_fails_verify(
        app, runner, trail, hasher):
    """Recomputed with the public function, the key catches it; recomputed even with the
    application's own key, the checkpoint kept outside the table catches it."""
    checkpoint(runner)
    start = len(trail) // 2
    prev_hash = trail[start - 1]["row_hash"]
    changed = []
    for row in trail[start:]:
        row = dict(row)
        if row["id"] == trail[start]["id"]:
            row["actor"] = "account:someone-else"
        row["prev_hash"] = prev_hash
        row["row_hash"] = prev_hash = (public_hash(row) if hasher == "public"
                                       else chain.digest(row))
        changed.append(row)
    with triggers_off():
        update_hashes(changed)
    result = verify(runner)
    assert result.exit_code == 1, result.output


def test_p2_4_the_chain_is_keyed_with_the_configured_audit_key(app, runner, trail):
    assert all(row["row_hash"] != public_hash(row) for row in trail)
    checkpoint(runner)
    assert verify(runner).exit_code == 0
    app.config["AUDIT_KEY"] = "another-key-of-the-same-length-as-the-test-one"
    result = verify(runner)
    assert result.exit_code == 1, result.output


def test_p2_4_audit_key_is_required_outside_debug_and_testing(tmp_path):
    with pytest.raises(RuntimeError, match="VAXPORTAL_AUDIT_KEY"):
        create_app({"SECRET_KEY": "s" * 40, "OTP_ENCRYPTION_KEY": "o" * 40,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                    "SMS_BACKEND": "http", "SMS_HTTP_URL": "https://sms.invalid/send"})


def test_p2_4_checkpoints_are_signed_json_lines_kept_private(app, runner, trail):
    checkpoint(runner)
    path = checkpoint_file(app)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    last = json.loads(lines_of(path)[-1])
    assert last["count"] == len(trail) and last["last_id"] == trail[-1]["id"]
    assert last["last_hash"] == trail[-1]["row_hash"] and last["sig"]
    assert not any(app.config["AUDIT_KEY"] in line for line in lines_of(path))


def test_p2_4_a_forged_checkpoint_line_fails_verify(app, runner, trail):
    """Whoever truncates the table and appends a checkpoint of the short table to the file
    cannot sign it."""
    checkpoint(runner)
    cut = trail[-51]
    with triggers_off():
        raw_execute("DELETE FROM audit_event WHERE id > ?", (cut["id"],))
    line = {"at": "2026-12-03T00:00:00+00:00", "count": cut["id"], "last_id": cut["id"],
            "last_hash": cut["row_hash"], "sig": "0" * 64}
    with open(checkpoint_file(app), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    assert verify(runner).exit_code == 1


def test_p2_4_deleting_the_checkpoint_file_fails_verify(app, runner, trail):
    checkpoint(runner)
    os.remove(checkpoint_file(app))
    assert verify(runner).exit_code == 1


def test_p2_4_the_first_audit_write_of_a_day_writes_a_checkpoint(app, runner, trail, clock,
                                                                 nurse):
    """No scheduler needed: whatever process writes first on a new day checkpoints the
    head it chains onto (web, worker or console alike)."""
    path = checkpoint_file(app)
    before = lines_of(path)
    head = rows()[-1]
    clock.advance(days=1)
    events.record("view_identity", category="access", entity="recipient",
                  entity_id=1, facility_id=nurse.account.facility_id)
    db.session.commit()
    lines = lines_of(path)
    assert len(lines) == len(before) + 1
    written = json.loads(lines[-1])
    assert written["last_id"] == head["id"] and written["last_hash"] == head["row_hash"]
    events.record("view_identity", category="access", entity="recipient",
                  entity_id=1, facility_id=nurse.account.facility_id)
    db.session.commit()
    assert len(lines_of(path)) == len(lines)  # once a day
    # the day's checkpoint alone proves a truncation of everything after it
    with triggers_off():
        raw_execute("DELETE FROM audit_event WHERE id > ?", (head["id"] - 5,))
    assert verify(runner).exit_code == 1


def test_p2_4_a_trail_from_before_the_key_is_adopted_once_and_stays_guarded(app, runner,
                                                                          trail):
    """An installation upgraded with an unkeyed trail: the operator signs its old rows once;
    later rows are keyed, and an old row changed afterwards (rehashed with the public
    function, as it was written) is still found."""
    prev_hash, legacy = None, []
    for row in trail:  # the trail as the previous version wrote it
        row = dict(row, prev_hash=prev_hash)
        row["row_hash"] = prev_hash = public_hash(row)
        legacy.append(row)
    with triggers_off():
        update_hashes(legacy)
    os.remove(checkpoint_file(app))
    assert verify(runner).exit_code == 1
    result = runner.invoke(args=["audit", "adopt-unkeyed"])
    assert result.exit_code == 0 and f"#{legacy[-1]['id']}" in result.output
    events.record("view_identity", category="access", entity="recipient", entity_id=1,
                  facility_id=trail[-1]["facility_id"])
    db.session.commit()
    after = verify(runner)
    assert after.exit_code == 0, after.output
    new = rows()[-1]
    assert new["id"] > legacy[-1]["id"] and new["row_hash"] == chain.digest(new)

    changed, prev_hash = [], legacy[9]["prev_hash"]
    for row in legacy[9:]:
        row = dict(row, prev_hash=prev_hash)
        if row["id"] == legacy[9]["id"]:
            row["actor"] = "account:someone-else"
        row["row_hash"] = prev_hash = public_hash(row)
        changed.append(row)
    with triggers_off():
        update_hashes(changed)
    assert verify(runner).exit_code == 1


# -- the audit page -------------------------------------------------------------------------

def flash_text(client, response) -> str:
    assert response.status_code == 303, html(response)
    assert response.headers["Location"].endswith("/audit/")
    return html(client.get(response.headers["Location"]))


@pytest.mark.parametrize("role, facility", [("supervisor", "d1"), ("reviewer", "doh")])
def test_p2_4_supervisor_and_reviewer_verify_from_the_audit_page(
        runner, signed_in, place, trail, role, facility):
    checkpoint(runner)
    client = signed_in(role, facility=place[facility])
    page = html(client.get("/audit/"))
    assert 'action="/audit/verify"' in page and 'method="post"' in page
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", page)  # the last checkpoint's time
    body = flash_text(client, client.post("/audit/verify"))
    assert "nguyên vẹn" in body
    with triggers_off():
        raw_execute("DELETE FROM audit_event WHERE id > ?", (trail[-1]["id"] - 50,))
    body = flash_text(client, client.post("/audit/verify"))
    assert "bị phá vỡ" in body and "nguyên vẹn" not in body


def test_p2_4_verification_from_the_page_runs_in_the_background(
        runner, signed_in, place, trail, monkeypatch):
    """Millions of rows take longer than a request may: the page starts a job and shows
    that it runs; the job records its verdict, which the page then shows."""
    from vaxportal import jobs

    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args: queued.append((path, args)))
    checkpoint(runner)
    client = signed_in("reviewer", facility=place["doh"])
    body = flash_text(client, client.post("/audit/verify"))
    assert "Đang kiểm tra" in body and "nguyên vẹn" not in body
    assert client.post("/audit/verify").status_code == 303  # one full scan at a time
    ((path, args),) = queued
    jobs._call(path, args)  # what the worker does
    body = html(client.get("/audit/"))
    assert "Đang kiểm tra" not in body
    assert re.search(r"Đã kiểm tra \d+ bản ghi: chuỗi nhật ký nguyên vẹn", body)


def test_p2_4_verify_from_the_page_needs_csrf_and_the_right_role(signed_in, place, admin,
                                                                 nurse, trail):
    supervisor = signed_in("supervisor", facility=place["d1"])
    assert supervisor.post("/audit/verify", csrf=False).status_code == 400
    assert admin.post("/audit/verify").status_code == 403
    assert nurse.post("/audit/verify").status_code == 403
    assert supervisor.get("/audit/verify").status_code == 405


# -- search terms in audit rows are masked like the screen (P1, P2.4) -----------------------

def test_p2_4_reviewer_sees_the_same_masked_national_id_in_register_export_and_audit(
        signed_in, place, person, outbox):
    nid = "089080123456"
    recipient = person("s2", national_id=nid, full_name="Đỗ Thị Che")
    reviewer = signed_in("reviewer", facility=place["doh"])
    register = html(reviewer.get(f"/recipients/{recipient.id}"))
    assert nid not in register
    shown = re.search(r"\*+" + nid[-3:], register).group(0)

    search = reviewer.post("/recipients/", data={"q": nid})
    assert search.status_code == 303, html(search)
    sid = search.headers["Location"].rsplit("s=", 1)[-1]
    job = request_export(reviewer, sid)
    done = confirm(reviewer, job, code_for(outbox, job))
    assert done.status_code == 303, html(done)
    data = reviewer.get(f"/exports/{job.id}/download").data  # the file its page links to
    assert shown in all_values(workbook(data))

    requested = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "export_requested", AuditEvent.entity_id == job.id))
    assert requested.details["filter"]["q"] == nid  # stored whole, shown masked
    for event_id in (requested.id, db.session.scalar(sa.select(AuditEvent.id).where(
            AuditEvent.entity == "recipient", AuditEvent.entity_id == str(recipient.id),
            AuditEvent.action == "insert"))):
        page = html(reviewer.get(f"/audit/{event_id}"))
        assert nid not in page, event_id
        assert shown in page, event_id


def test_p2_4_checkpoints_also_go_to_the_configured_recipients(app, runner, trail, outbox):
    """A copy out of reach of whoever controls this server: by SMS and by HTTP POST."""
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (the standard library's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    app.config.update(AUDIT_CHECKPOINT_SMS="+84900000001",
                      AUDIT_CHECKPOINT_URL=f"http://127.0.0.1:{server.server_port}/cp")
    try:
        checkpoint(runner)
        thread.join(10)
    finally:
        server.server_close()
    (sent,) = [m for m in outbox() if m["kind"] == "audit_checkpoint"]
    assert sent["to"] == "+84900000001" and f"#{trail[-1]['id']}" in sent["body"]
    assert received and received[0]["last_hash"] == trail[-1]["row_hash"]
    assert received[0]["sig"] == json.loads(lines_of(checkpoint_file(app))[-1])["sig"]
