"""Checkpoints of the audit chain (P2.4): its head, signed and kept outside the database.

A checkpoint is one JSON line ``{"at", "count", "last_id", "last_hash", "sig"}`` appended to
``AUDIT_CHECKPOINT_DIR/checkpoints.jsonl`` (created 0600). ``sig`` is an HMAC-SHA256 under a
key derived from ``AUDIT_KEY``, which the database never holds, so whoever can rewrite the
table can neither sign a checkpoint of the rewritten table nor make an old one match it.

When one is written:
* ``vaxportal audit checkpoint``, at any time (cron it where the operator wants more);
* the first audit write of each day (Vietnam's day) in any process, web, worker or console
  alike: ``chain.append`` checkpoints the committed head it is about to chain onto, under
  the append lock. No scheduler is needed, so it holds on every process model.

A restore mark is a checkpoint written by ``vaxportal restore`` (``RESTORE_KEYS`` signed with
it): the database went back to a backup, so the checkpoints written before the mark past the
backup's head describe rows of the abandoned timeline and no longer apply (``in_force``);
those up to the head still do, and the mark itself is the restored head. ``verify`` names
the restore in its answer, so a restore is never silent.

Each checkpoint is also sent to ``AUDIT_CHECKPOINT_SMS`` and/or ``AUDIT_CHECKPOINT_URL`` when
configured (a copy out of reach of whoever controls this server). Processes that write the
trail must share the directory, like ``EXPORT_DIR``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.engine import Connection

from vaxportal import jobs
from vaxportal.audit.models import AuditEvent
from vaxportal.sms import send_sms
from vaxportal.timeutil import LOCAL_TZ, local, utcnow

log = logging.getLogger(__name__)

FILE_NAME = "checkpoints.jsonl"
#: ``unkeyed_until``: only in the checkpoint of ``vaxportal audit adopt-unkeyed``
SIGNED = ("at", "count", "last_id", "last_hash", "unkeyed_until")
#: only in a restore mark (``vaxportal restore``): the backup file's name and when it was made;
#: signed when present, so the checkpoints written before restores existed keep their
#: signatures
RESTORE_KEYS = ("restored_from", "backup_at")
TABLE = AuditEvent.__table__

#: path -> when the local day after that of the last checkpoint this process knows of begins
#: (until then no checkpoint is due: every audited transaction asks)
_quiet_until: dict[str, datetime] = {}


def derived_key(purpose: bytes) -> bytes:
    """A key for one purpose (the chain, the checkpoints), derived from AUDIT_KEY."""
    return _derive(current_app.config["AUDIT_KEY"], purpose)


@lru_cache(maxsize=8)
def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), b"vaxportal audit " + purpose,
                    hashlib.sha256).digest()


def signature(record: dict) -> str:
    keys = SIGNED + tuple(key for key in RESTORE_KEYS if key in record)
    body = json.dumps({key: record.get(key) for key in keys}, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    return hmac.new(derived_key(b"checkpoint"), body, hashlib.sha256).hexdigest()


def is_signed(record: dict) -> bool:
    sig = record.get("sig")
    return isinstance(sig, str) and hmac.compare_digest(sig, signature(record))


def path() -> Path:
    return Path(current_app.config["AUDIT_CHECKPOINT_DIR"]) / FILE_NAME


def read_all() -> list[dict]:
    """Every line of the file, in order ({} for a line that is not a JSON object)."""
    try:
        lines = path().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = {}
        records.append(record if isinstance(record, dict) else {})
    return records


def is_restore(record: dict) -> bool:
    return record.get("restored_from") is not None


def in_force(records: list[dict]) -> list[dict]:
    """The checkpoints that describe the table now, in order: each restore mark drops the
    earlier checkpoints past its head (rows of the timeline the restore abandoned)."""
    kept: list[dict] = []
    for record in records:
        if is_restore(record):
            kept = [earlier for earlier in kept if earlier["last_id"] <= record["last_id"]]
        kept.append(record)
    return kept


def last_restore(records: list[dict]) -> dict | None:
    return next((record for record in reversed(records) if is_restore(record)), None)


def last_time() -> datetime | None:
    """When the last correctly signed checkpoint was written (None: none yet)."""
    for record in reversed(read_all()):
        if is_signed(record):
            return parse_time(record["at"])
    return None


def head(conn: Connection) -> dict:
    """Row count, last id and last hash of the table as ``conn`` sees it."""
    count = conn.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar_one()
    last = conn.execute(
        sa.select(TABLE.c.id, TABLE.c.row_hash).order_by(TABLE.c.id.desc()).limit(1)
    ).first()
    return {"count": int(count), "last_id": last.id if last else 0,
            "last_hash": last.row_hash if last else None}


def write(state: dict, *, send_now: bool = True) -> dict:
    """Sign ``state`` (``head()``), append it to the file, send it to the recipients."""
    record = {"at": utcnow().astimezone(UTC).isoformat(timespec="seconds"), **state}
    record["sig"] = signature(record)
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _quiet_until[_day_key()] = _next_day(utcnow())
    if current_app.config.get("AUDIT_CHECKPOINT_SMS") or \
            current_app.config.get("AUDIT_CHECKPOINT_URL"):
        if send_now:
            send(record)
        else:
            _send_later(record)
    return record


def _send_later(record: dict) -> None:
    """From inside an audit write: the gateway's latency (or a queue that is down) must
    never hold the append lock or fail the user's change."""
    try:
        jobs.enqueue("vaxportal.audit.checkpoint.send", record)
    except Exception:  # noqa: BLE001
        log.warning("audit checkpoint copy not queued")


def write_if_due(conn: Connection) -> None:
    """The day's first checkpoint, from inside ``chain.append`` (the append lock is held and
    this transaction has appended nothing yet, so the head is committed)."""
    if not _due():
        return
    try:
        write(head(conn), send_now=False)
    except OSError:  # the trail must still be written; verify will name the missing day
        log.exception("audit checkpoint could not be written")


def send(record: dict) -> None:
    """Send a checkpoint to the configured recipients; failures are logged, never raised."""
    config = current_app.config
    if config.get("AUDIT_CHECKPOINT_SMS"):
        with force_locale("vi"):
            body = _("Điểm kiểm soát nhật ký %(at)s: %(count)s bản ghi, #%(id)s, mã băm "
                     "%(hash)s, chữ ký %(sig)s", at=record["at"], count=record["count"],
                     id=record["last_id"], hash=(record["last_hash"] or "-")[:16],
                     sig=record["sig"][:16])
        try:
            send_sms(config["AUDIT_CHECKPOINT_SMS"], "audit_checkpoint", body)
        except Exception:  # noqa: BLE001  (the local file is written; the copy is a bonus)
            log.warning("audit checkpoint not sent by SMS")
    url = config.get("AUDIT_CHECKPOINT_URL") or ""
    if url.lower().startswith(("http://", "https://")):
        request = urllib.request.Request(  # noqa: S310  (scheme checked above)
            url, data=json.dumps(record).encode("utf-8"),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=config["SMS_HTTP_TIMEOUT"]):  # noqa: S310
                pass
        except Exception:  # noqa: BLE001
            log.warning("audit checkpoint not sent to the configured URL")


def _day_key() -> str:
    """``_quiet_until``'s key: the file's name as configured (``_due`` asks at every audited
    transaction's first append: no Path is made for it)."""
    return os.path.join(current_app.config["AUDIT_CHECKPOINT_DIR"], FILE_NAME)


def _due() -> bool:
    key = _day_key()
    now = utcnow()
    until = _quiet_until.get(key)
    if until is not None and now < until:
        return False
    written = last_time()
    if written is None:
        return True
    _quiet_until[key] = _next_day(written)
    return now >= _quiet_until[key]


def _next_day(at: datetime) -> datetime:
    """When the local day after ``at``'s begins."""
    return datetime.combine(local(at).date() + timedelta(days=1), dt_time(), LOCAL_TZ)


def parse_time(value) -> datetime | None:
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
