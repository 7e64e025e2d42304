"""Checking the trail (P2.4): one verification and one checkpoint, shared by the console
(``vaxportal audit verify`` / ``checkpoint``) and the audit page.

From the page the verification runs as a background job (``jobs.enqueue``: a trail of
millions of rows takes longer than a request may), and its result is appended to
``AUDIT_CHECKPOINT_DIR/verifications.jsonl`` (no personal data: counts, ids, times), where
the page reads the latest one.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from vaxportal import jobs
from vaxportal.audit import chain, checkpoint
from vaxportal.extensions import db
from vaxportal.timeutil import format_datetime, utcnow

RESULTS_FILE = "verifications.jsonl"
#: a verification started longer ago than this without a result is no longer "running"
RUNNING_FOR_AT_MOST = timedelta(hours=2)

REASONS = {
    "missing": lambda v: _("bản ghi #%(id)s đã bị xoá", id=v.missing_id),
    "link": lambda v: _("mã băm của bản ghi trước không khớp"),
    "content": lambda v: _("nội dung đã bị sửa"),
    "truncated": lambda v: _("bản ghi #%(id)s có trong điểm kiểm soát nhưng không còn trong "
                             "bảng", id=v.broken_id),
    "checkpoint": lambda v: _("không khớp với điểm kiểm soát đã ký"),
}


def verify_now() -> chain.Verdict:
    """The whole chain against every checkpoint, on a connection of its own."""
    with db.engine.connect() as conn:
        return chain.verify(conn)


def take_checkpoint() -> dict:
    """Sign and keep the head of the chain now (under the append lock: a consistent head)."""
    with db.engine.begin() as conn:
        chain.lock(conn)
        return checkpoint.write(checkpoint.head(conn))


def adopt_unkeyed() -> dict | None:
    """A trail written before the chain was keyed: sign the head of its intact run of rows
    with the public hash, so that ``verify`` accepts those rows (and only them, unchanged)
    and checks every later one with the key. None when there is no such row."""
    with db.engine.begin() as conn:
        chain.lock(conn)
        last_id, last_hash = chain.unkeyed_prefix(conn)
    if not last_id:
        return None
    return checkpoint.write({"count": last_id, "last_id": last_id, "last_hash": last_hash,
                             "unkeyed_until": last_id})


def message(verdict: chain.Verdict) -> str:
    """What the verification found, in the reader's language."""
    if verdict.ok:
        text = _("Đã kiểm tra %(n)s bản ghi: chuỗi nhật ký nguyên vẹn.", n=verdict.checked)
    elif verdict.reason == "signature":
        text = _("Chuỗi nhật ký bị phá vỡ: tệp điểm kiểm soát có dòng không mang chữ ký hợp "
                 "lệ.")
    elif verdict.reason == "no_checkpoint":
        text = _("Chuỗi nhật ký bị phá vỡ: không tìm thấy điểm kiểm soát nào cho %(n)s bản "
                 "ghi (tệp điểm kiểm soát đã bị xoá hoặc chưa từng được ghi).",
                 n=verdict.checked)
    else:
        text = _("Chuỗi nhật ký bị phá vỡ tại bản ghi #%(id)s (%(reason)s); %(n)s bản ghi "
                 "trước đó hợp lệ.", id=verdict.broken_id,
                 reason=REASONS[verdict.reason](verdict), n=verdict.checked)
    return f"{text}{restored_text(verdict)} {last_checkpoint_text(verdict.checkpoint_at)}"


def restored_text(verdict: chain.Verdict) -> str:
    """The last restore from a backup, which set the chain back to the backup's head."""
    if verdict.restored_at is None:
        return ""
    return " " + _("Cơ sở dữ liệu đã được khôi phục từ bản sao lưu %(file)s lúc %(at)s; các "
                   "điểm kiểm soát ghi sau bản sao lưu đó không còn áp dụng.",
                   file=verdict.restored_from, at=format_datetime(verdict.restored_at))


def last_checkpoint_text(at=None) -> str:
    at = at or checkpoint.last_time()
    if at is None:
        return _("Chưa có điểm kiểm soát nào.")
    return _("Điểm kiểm soát gần nhất: %(at)s.", at=format_datetime(at))


# -- from the audit page: a background job and its recorded result ------------------------

def start(account_id: int) -> bool:
    """Record that ``account_id`` asked for a verification, and run it in the background.
    False when one is running already (one full scan at a time is enough)."""
    if status()["running"]:
        return False
    run_id = secrets.token_hex(8)
    _append({"run": run_id, "state": "running", "by": account_id})
    jobs.enqueue("vaxportal.audit.integrity.run", run_id)
    return True


def run(run_id: str) -> None:
    """The job: verify and record the verdict (no personal data in it)."""
    verdict = verify_now()
    _append({"run": run_id, "state": "done", "checked": verdict.checked,
             "broken_id": verdict.broken_id, "reason": verdict.reason,
             "missing_id": verdict.missing_id,
             "checkpoint_at": verdict.checkpoint_at.isoformat() if verdict.checkpoint_at
             else None, "restored_from": verdict.restored_from,
             "restored_at": verdict.restored_at.isoformat() if verdict.restored_at else None})


def status() -> dict:
    """For the page: the latest result ({"at", "ok", "text"} or None) and whether a
    verification asked for since then is still running."""
    latest, running = None, False
    now = utcnow()
    for record in _read():
        at = checkpoint.parse_time(record.get("at"))
        if record.get("state") == "done":
            latest, running = record, False
        elif record.get("state") == "running" and at and now - at < RUNNING_FOR_AT_MOST:
            running = True
    result = None
    if latest is not None:
        verdict = chain.Verdict(
            latest.get("checked") or 0, latest.get("broken_id"), latest.get("reason"),
            latest.get("missing_id"), checkpoint.parse_time(latest.get("checkpoint_at")),
            checkpoint.parse_time(latest.get("restored_at")), latest.get("restored_from"))
        result = {"at": checkpoint.parse_time(latest.get("at")), "ok": verdict.ok,
                  "text": message(verdict)}
    return {"result": result, "running": running, "last_checkpoint": last_checkpoint_text()}


def _path() -> Path:
    return Path(current_app.config["AUDIT_CHECKPOINT_DIR"]) / RESULTS_FILE


def _append(record: dict) -> None:
    record = {"at": utcnow().isoformat(timespec="seconds"), **record}
    target = _path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _read() -> list[dict]:
    try:
        lines = _path().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
