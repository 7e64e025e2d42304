"""Imports of recipient lists from Excel: upload, dry run, confirm, write in batches.

Nothing is written before the user confirms the dry run's report. The writing commits one
batch per transaction (a batch is all-or-nothing), with the job's progress in the same
transaction, so a job that dies halfway leaves whole batches only. The same national ID is
never imported twice, and a file (by SHA-256) already imported is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from itertools import islice

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from vaxportal import gender, policy
from vaxportal.audit import chain, events
from vaxportal.auth.models import Account, AccountStatus
from vaxportal.exports import checks, storage
from vaxportal.exports.models import ACTIVE, ImportJob, JobStatus
from vaxportal.exports.reader import (
    ImportFileError,
    iter_rows,
    looks_like_xlsx,
    write_error_report,
    write_template,
)
from vaxportal.exports.runtime import acting_as
from vaxportal.exports.xlsx import Column
from vaxportal.extensions import db
from vaxportal.recipients import codes, fields
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.services import register_batch
from vaxportal.timeutil import format_date, utcnow

log = logging.getLogger(__name__)
#: the template, the dry run's report and the error workbook are always in Vietnamese
TEMPLATE_LOCALE = "vi"
REPORT_LIMIT = 500  # rows with a message kept for the page; the workbook holds them all
#: the dry run's progress is committed at most this often (the page asks every 2 s): a
#: commit per batch would cost more than checking a batch on a fast disk-bound machine
PROGRESS_SECONDS = 1.0
_clock = time.monotonic
_COPY_CHUNK = 64 * 1024


class UploadRefused(ValueError):
    """The upload is not accepted; ``str(error)`` is the Vietnamese message to show."""


def import_columns() -> list[Column]:
    """The import's columns (``fields.RECIPIENT``) with their Vietnamese headers (what the
    template and the error report show); the same headers in the interface's other
    languages, and the form's label where it differs, are read too, so a template
    downloaded earlier in English still imports."""
    aliases: dict[str, set[str]] = {field.key: set() for field in fields.RECIPIENT}
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            for field in fields.RECIPIENT:
                aliases[field.key].update((str(field.column_header), str(field.label)))
    with force_locale(TEMPLATE_LOCALE):
        headers = {field.key: str(field.column_header) for field in fields.RECIPIENT}
    return [Column(field.key, headers[field.key], kind=field.column_kind, width=field.width,
                   aliases=tuple(sorted(aliases[field.key] - {headers[field.key]})))
            for field in fields.RECIPIENT]


def gender_words() -> list[str]:
    return [str(label) for label in gender.LABELS.values()]


def _template_lists() -> dict[str, list[str]]:
    """Drop-downs of the template: gender and every coded field whose list stands alone
    (a commune's list depends on the province: typed, and checked on import)."""
    coded = {field.key: [name for _code, name in codes.labelled(field.key)]
             for field in fields.RECIPIENT if field.kind == "code" and not field.within}
    return {"gender": gender_words(), **coded}


#: the template's example row; if left in a list it is skipped (``checks.EXAMPLE_KEY``)
EXAMPLE = {
    "full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
    "national_id": "089080123456", "insurance_number": "GD4890123456789",
    "phone": "0912 345 678", "occupation": "Nông dân", "ethnicity": "Kinh",
    "nationality": "Việt Nam", "priority_group": "Nhóm 5", "province": "An Giang",
    "district": None, "ward": "Long Xuyên", "street": "12 Trần Hưng Đạo",
}


def template(target) -> None:
    """The import template: Vietnamese headers, drop-downs for coded columns, an example;
    in Vietnamese whatever the language of the interface."""
    with force_locale(TEMPLATE_LOCALE):
        example = {**EXAMPLE, "gender": gender_words()[0],
                   "priority_group": codes.label("priority_group", "N05")}
        write_template(target, import_columns(), choices=_template_lists(), example=example)


# -- upload ------------------------------------------------------------------------------


def accept_upload(upload, account: Account, facility_id: int) -> ImportJob:
    """Store the uploaded file under a new import job (status pending: dry run to do).

    Raises ``UploadRefused`` for a file too large, not a real .xlsx, or already imported."""
    job = ImportJob(account_id=account.id, facility_id=facility_id,
                    custodian_id=getattr(account.current_custodian, "id", None),
                    file_sha256="", expires_at=utcnow() + _file_lifetime())
    db.session.add(job)
    db.session.flush()
    path = storage.upload_path(job.id)
    try:
        job.file_size, job.file_sha256 = _save(upload, path)
        _check_content(path)
        _refuse_if_imported(job.file_sha256)
    except BaseException:  # refused (or failed): nothing of it stays on disk
        storage.remove(path)
        raise
    _record("import_uploaded", job, account, sha256=job.file_sha256, size=job.file_size)
    return job


def _save(upload, path) -> tuple[int, str]:
    """Copy at most IMPORT_MAX_BYTES to ``path``; (size, SHA-256)."""
    limit = int(current_app.config["IMPORT_MAX_BYTES"])
    digest, size = hashlib.sha256(), 0
    with storage.open_private(path) as out:
        while chunk := upload.stream.read(_COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadRefused(_("Tệp quá lớn: tối đa %(mb)s MB. Hãy chia danh sách "
                                      "thành nhiều tệp nhỏ hơn.", mb=megabytes(limit)))
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise UploadRefused(_("Tệp rỗng. Hãy chọn tệp Excel (.xlsx) có danh sách đối tượng."))
    return size, digest.hexdigest()


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


#: an upload may inflate to this many times IMPORT_MAX_BYTES (spreadsheets inflate 5-20 times)
UNPACKED_FACTOR = 25


def _check_content(path) -> None:
    max_unpacked = UNPACKED_FACTOR * int(current_app.config["IMPORT_MAX_BYTES"])
    with open(path, "rb") as handle:
        if not looks_like_xlsx(handle, max_unpacked):
            raise UploadRefused(_(
                "Tệp này không phải là tệp Excel .xlsx (đã kiểm tra nội dung, không chỉ tên "
                "tệp). Hãy mở tệp bằng Excel, chọn Lưu thành › Excel Workbook (.xlsx), rồi "
                "tải lên lại; có thể dùng tệp mẫu của hệ thống."
            ))


def _refuse_if_imported(sha256: str) -> None:
    earlier = already_imported(sha256)
    if earlier is not None:
        raise UploadRefused(_(
            "Tệp này đã được nhập ngày %(day)s (lượt nhập %(ref)s). Nhập lại sẽ không thêm "
            "đối tượng nào.", day=format_date(earlier.created_at), ref=earlier.short_ref,
        ))


def already_imported(sha256: str, exclude_id: str | None = None) -> ImportJob | None:
    """An import of the same file that is done or under way."""
    stmt = sa.select(ImportJob).where(
        ImportJob.file_sha256 == sha256,
        ImportJob.status.in_((JobStatus.done, *ACTIVE)),
    ).order_by(ImportJob.created_at)
    if exclude_id:
        stmt = stmt.where(ImportJob.id != exclude_id)
    return db.session.scalars(stmt.limit(1)).first()


# -- the dry run -------------------------------------------------------------------------


def check_import(job_id: str) -> None:
    """The dry run: every row checked, a report on the job and (``_dry_run``) as a
    workbook of the rows with a message, both in Vietnamese (even when run at once inside
    an English request). No writes."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status != JobStatus.pending:
        return
    account = db.session.get(Account, job.account_id)
    with acting_as(account), force_locale(TEMPLATE_LOCALE):
        report = storage.report_path(job_id)
        try:
            summary = _dry_run(job_id, report, account)
        except ImportFileError as error:
            db.session.rollback()
            remove_files(job_id)  # rejected: deleted at once
            _finish(db.session.get(ImportJob, job_id), JobStatus.rejected, str(error))
        except Exception as error:  # recorded on the job; the message may hold personal data
            _fail(job_id, error)
            storage.remove(report, storage.checked_path(job_id))
        else:
            job = db.session.get(ImportJob, job_id)
            _store_summary(job, summary)
            _record("import_checked", job, account, sha256=job.file_sha256,
                    total_rows=summary.total, outside_scope_ids=summary.outside_scope)
        db.session.commit()


class Summary:
    def __init__(self) -> None:
        self.counts = {checks.OK: 0, checks.WARNING: 0, checks.ERROR: 0, checks.DUPLICATE: 0}
        self.report: list[dict] = []
        self.truncated = False
        #: keyed hashes of the national IDs found registered outside the account's scope
        self.outside_scope: list[str] = []

    def add(self, check: checks.RowCheck) -> None:
        self.counts[check.status] += 1
        if check.status == checks.OK:
            return
        if len(self.report) < REPORT_LIMIT:
            self.report.append({"row": check.row, "status": check.status,
                                "messages": check.messages})
        else:
            self.truncated = True

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _dry_run(job_id: str, report, account: Account) -> Summary:
    """Every row checked and kept (``CheckedRows``); then, when a row has an error to
    correct, or more rows have a message than the page lists (``REPORT_LIMIT``), the
    workbook of every row with a message (errors, duplicates, possible duplicates), each
    with its cells as read and its messages, written from the kept rows. Rows without a
    message are not in it: what needs acting on is not lost among the rest, and no file
    of everyone's personal data is written and sent down a slow line for it. Its header
    is the template's, so the rows corrected in it upload again as a list of their own
    (the rows already imported are then skipped as duplicates)."""
    summary = Summary()
    scope = policy.scope(account).facility_ids()
    with CheckedRows.writer(job_id) as kept:
        for check in _checked_rows(job_id, summary, scope):
            kept.add(check)
    if summary.counts[checks.ERROR] or summary.truncated:
        write_error_report(str(storage.create_private(report)), import_columns(),
                           CheckedRows.reported(job_id))
    return summary


def _checked_rows(job_id: str, summary: Summary, scope: set[int]) -> Iterator[checks.RowCheck]:
    """Every row checked, counted in ``summary``; the IDs the file matched outside
    ``scope`` end in ``summary`` too (keyed hashes, for the audit of the dry run)."""
    checker = checks.Checker(scope)
    saved = _clock()
    for batch in _batches(iter_rows(str(storage.upload_path(job_id)), import_columns())):
        for check in checker.check(batch):
            summary.add(check)
            yield check
        if _clock() - saved >= PROGRESS_SECONDS:
            _save_progress(job_id, summary.total)
            saved = _clock()
    summary.outside_scope = [checks.keyed_id_hash(nid) for nid in checker.outside_scope]


class CheckedRows:
    """The dry run's verdict on each row's fields, kept on disk beside the upload (same
    private directory and lifetime), so the writing reads each row's stored values instead
    of reading the spreadsheet and running the form's checks a second time, and the
    report's workbook, when one is due, is written from it. Duplicates are judged again
    when writing (the register may have changed since). One JSON line per row: ``[row,
    clean, cells, messages]`` (``clean`` null for a row with errors; ``cells`` the row's
    values as read; dates and times tagged in both: ``_cell_json``). Written under another name and
    renamed when complete: a dry run cut short leaves no file, and the writing then reads
    the spreadsheet again."""

    _DATES = tuple(field.key for field in fields.RECIPIENT if field.kind == "date")

    def __init__(self, handle) -> None:
        self.handle = handle

    @classmethod
    @contextmanager
    def writer(cls, job_id: str) -> Iterator[CheckedRows]:
        path = storage.checked_path(job_id)
        part = path.with_name(path.name + ".part")
        try:
            with open(storage.create_private(part), "w", encoding="utf-8") as handle:
                yield cls(handle)
            part.replace(path)
        finally:
            storage.remove(part)

    def add(self, check: checks.RowCheck) -> None:
        clean = None if check.status == checks.ERROR else check.clean
        self.handle.write(_KEPT_ENCODER.encode([check.row, clean, check.data, check.messages])
                          + "\n")

    #: how a kept line ends when its row has no message (``add``'s encoding of an empty
    #: list last): such lines are passed over by ``reported`` without being decoded
    _NO_MESSAGE_END = ",[]]\n"

    @classmethod
    def reported(cls, job_id: str) -> Iterator[tuple[int, dict, str]]:
        """(row, its cells as read, its messages) of every kept row that has a message:
        the report's rows."""
        with open(storage.checked_path(job_id), encoding="utf-8") as handle:
            for line in handle:
                if line.endswith(cls._NO_MESSAGE_END):
                    continue
                row, _clean, cells, messages = json.loads(line)
                if not messages:  # a line written otherwise (the test above is a shortcut)
                    continue
                yield row, {key: _cell_value(value) if type(value) is dict else value
                            for key, value in cells.items()}, "; ".join(messages)

    @classmethod
    def read(cls, job_id: str) -> Iterator[checks.RowCheck] | None:
        """The kept rows as checks (status ok or error, before the duplicate checks), read
        as they are used; None when the dry run kept none."""
        try:
            handle = open(storage.checked_path(job_id), encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            return None
        return cls._rows(handle)

    @classmethod
    def _rows(cls, handle) -> Iterator[checks.RowCheck]:
        with handle:
            for line in handle:
                row, clean = json.loads(line)[:2]
                yield cls._check(row, clean)

    @classmethod
    def _check(cls, row: int, clean: dict | None) -> checks.RowCheck:
        if clean is None:
            return checks.RowCheck(row, {}, status=checks.ERROR)
        for key in cls._DATES:
            value = clean.get(key)
            if type(value) is dict:
                clean[key] = _cell_value(value)
            elif value is not None:  # kept before dates were tagged: its ISO text
                clean[key] = date.fromisoformat(value)
        return checks.RowCheck(row, clean, clean=clean)


#: the kinds of value JSON has no form of that a checked value or a sheet's cell can be
#: (``sheet.iter_rows``), by their tag
_CELL_KINDS = {"datetime": datetime, "date": date, "time": time_of_day}


def _cell_json(value) -> dict | str:
    """A value JSON has no form of, tagged so that ``_cell_value`` gives it back: a date, a
    time (``{"t": kind, "v": ISO text}``), a duration (its seconds); anything else as its
    text, as the report's workbook would write it. (The kept rows' encoder asks it.)"""
    for kind, cls in _CELL_KINDS.items():
        if type(value) is cls:
            return {"t": kind, "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {"t": "timedelta", "v": value.total_seconds()}
    return str(value)


def _cell_value(tagged: dict):
    if tagged["t"] == "timedelta":
        return timedelta(seconds=tagged["v"])
    return _CELL_KINDS[tagged["t"]].fromisoformat(tagged["v"])


#: one encoder for every kept row (``json.dumps`` with options builds one per call)
_KEPT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_cell_json)


def _store_summary(job: ImportJob, summary: Summary) -> None:
    job.total_rows = summary.total
    job.valid_rows = summary.counts[checks.OK] + summary.counts[checks.WARNING]
    job.error_rows = summary.counts[checks.ERROR]
    job.duplicate_rows = summary.counts[checks.DUPLICATE]
    job.report = summary.report
    job.report_truncated = summary.truncated
    job.progress = 0
    job.status = JobStatus.checked


# -- confirm and write -------------------------------------------------------------------


def confirm_import(job: ImportJob, account: Account) -> str | None:
    """Queue the writing; the Vietnamese reason when it cannot be confirmed."""
    if job.status != JobStatus.checked:
        return _("Lượt nhập này không còn chờ xác nhận.")
    if not job.valid_rows:
        return _("Không có dòng hợp lệ nào để nhập.")
    earlier = already_imported(job.file_sha256, exclude_id=job.id)
    if earlier is not None:
        return _("Tệp này đã được nhập (lượt nhập %(ref)s): không nhập lại.",
                 ref=earlier.short_ref)
    job.status = JobStatus.queued
    job.confirmed_at = utcnow()
    _record("import_confirmed", job, account, sha256=job.file_sha256,
            valid_rows=job.valid_rows)
    return None


def discard_import(job: ImportJob, account: Account) -> None:
    if job.status in (JobStatus.pending, JobStatus.checked, JobStatus.rejected):
        _finish(job, JobStatus.cancelled)
        remove_files(job.id)
        _record("import_discarded", job, account, sha256=job.file_sha256)


def run_import(job_id: str) -> None:
    """Write the confirmed import in batches, each batch in its own transaction."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status != JobStatus.queued:
        return
    account = db.session.get(Account, job.account_id)
    with acting_as(account):
        if (account.status != AccountStatus.active
                or not policy.scope(account).writable.contains(job.facility_id)):
            _finish(job, JobStatus.failed, "not allowed")
        else:
            job.status = JobStatus.running
            job.progress = job.created_count = job.skipped_count = 0
            db.session.commit()
            _write_all(job_id, account)
        db.session.commit()


def _write_all(job_id: str, account: Account) -> None:
    try:
        _write_batches(job_id)
    except Exception as error:
        _fail(job_id, error)
        job = db.session.get(ImportJob, job_id)
        _record("import_failed", job, account, sha256=job.file_sha256, **_counts(job))
        return
    job = db.session.get(ImportJob, job_id)
    _finish(job, JobStatus.done)
    remove_files(job_id, report=False)
    _record("import_completed", job, account, sha256=job.file_sha256, **_counts(job))


def _write_batches(job_id: str) -> None:
    facility_id = db.session.get(ImportJob, job_id).facility_id
    checker = checks.Checker()
    for batch in _checked_batches(job_id, checker):
        writable = [check for check in batch if check.writable]
        if writable:
            register_batch([(check.clean, check.status == checks.WARNING)
                            for check in writable], facility_id, _new_ids(len(writable)),
                           name_keys=[check.person[0] for check in writable])
        job = db.session.get(ImportJob, job_id)
        job.progress += len(batch)
        job.created_count += len(writable)
        job.skipped_count += len(batch) - len(writable)
        db.session.commit()  # this batch and its progress, together


def _new_ids(count: int) -> list[int]:
    """Ids for a batch's new recipients, taken under the chain's lock (held to the commit,
    so that on SQLite no other writer takes them first): the next ones after the highest on
    SQLite, the sequence's next ones on PostgreSQL (in one statement)."""
    conn = db.session.connection()
    chain.lock(conn)
    if conn.dialect.name == "postgresql":
        return sorted(conn.scalars(sa.text(
            "SELECT nextval(pg_get_serial_sequence('recipient', 'id')) "
            "FROM generate_series(1, :count)"), {"count": count}))
    last = db.session.scalar(sa.select(sa.func.max(Recipient.id))) or 0
    return list(range(last + 1, last + count + 1))


def _checked_batches(job_id: str, checker: checks.Checker) -> Iterator[list[checks.RowCheck]]:
    """The rows to write, batch by batch, judged for duplicates against the register as it
    is now: from the dry run's kept rows, or (a job checked before they were kept) the
    spreadsheet read and checked again."""
    kept = CheckedRows.read(job_id)
    if kept is None:
        rows = iter_rows(str(storage.upload_path(job_id)), import_columns())
        for batch in _batches(rows):
            yield checker.check(batch)
        return
    for batch in _batches(kept):
        yield checker.judge(batch)


def _counts(job: ImportJob) -> dict:
    return {"total_rows": job.total_rows, "created": job.created_count,
            "skipped": job.skipped_count, "processed": job.progress,
            "error_rows": job.error_rows, "duplicate_rows": job.duplicate_rows}


# -- shared ------------------------------------------------------------------------------


def _batches(rows: Iterable, size: int | None = None) -> Iterator[list]:
    size = size or int(current_app.config.get("IMPORT_BATCH_SIZE", 500))
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _save_progress(job_id: str, rows: int) -> None:
    db.session.get(ImportJob, job_id).progress = rows
    db.session.commit()


def _fail(job_id: str, error: Exception) -> None:
    db.session.rollback()
    log.error("import %s failed: %s", job_id, type(error).__name__)
    _finish(db.session.get(ImportJob, job_id), JobStatus.failed, type(error).__name__)


def _finish(job: ImportJob, status: str, error: str | None = None) -> None:
    job.status = status
    job.error = (error or "")[:300] or None
    job.finished_at = utcnow()


def remove_files(job_id: str, report: bool = True) -> None:
    storage.remove(storage.upload_path(job_id), storage.checked_path(job_id))
    if report:
        storage.remove(storage.report_path(job_id))


def report_file(job: ImportJob):
    return storage.report_path(job.id)


def has_report(job: ImportJob) -> bool:
    return job.status != JobStatus.pending and storage.report_path(job.id).exists()


def expire_imports(now) -> int:
    """Uploaded files and reports hold personal data: removed when their time is up."""
    rows = db.session.scalars(sa.select(ImportJob).where(
        ImportJob.expires_at <= now, ImportJob.status.not_in(ACTIVE),
    )).all()
    for job in rows:
        remove_files(job.id)
        job.expires_at = None
        if job.status in (JobStatus.pending, JobStatus.checked):
            job.status = JobStatus.expired
    return len(rows)


def fail_abandoned_imports(now, stale_after: timedelta) -> int:
    """An import whose worker died (no batch committed for a long while) is marked failed,
    and audited. Its batches were whole transactions: what was written stays, nothing half."""
    rows = db.session.scalars(sa.select(ImportJob).where(
        ImportJob.status == JobStatus.running, ImportJob.updated_at <= now - stale_after,
    )).all()
    for job in rows:
        _finish(job, JobStatus.failed, "abandoned")
        account = db.session.get(Account, job.account_id)
        with acting_as(account):
            _record("import_failed", job, account, reason="abandoned",
                    sha256=job.file_sha256, **_counts(job))
    return len(rows)


def _file_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config["EXPORT_FILE_HOURS"]))


def _record(action: str, job: ImportJob, account: Account, **details) -> None:
    category = "data" if action in ("import_completed", "import_failed") else "access"
    events.record(action, category=category, entity="import_job", entity_id=job.id,
                  facility_id=job.facility_id, details={"ref": job.short_ref, **details},
                  account=account)

