"""Exports of the register to Excel (P1, P3.4).

An export is requested (a pending job and an SMS code naming it), confirmed with exactly that
code, then written: at once when small, as a background job with progress when large. Every
step is an access event in the audit trail with the filter, the row count and the file's
SHA-256.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _

from vaxportal import policy
from vaxportal.audit import events
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.codes import resend_wait
from vaxportal.auth.models import Account, AccountStatus, Custodian
from vaxportal.auth.stepup import issue_action_code, verify_action_code
from vaxportal.exports import columns, storage
from vaxportal.exports.models import ExportJob, JobStatus
from vaxportal.exports.runtime import acting_as
from vaxportal.exports.xlsx import ExportCancelled, Watermark, write_workbook
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.search import RegisterFilter
from vaxportal.sms import SmsError
from vaxportal.timeutil import local, utcnow

log = logging.getLogger(__name__)
PURPOSE = "export"
PROGRESS_EVERY = 1_000
WORKBOOK_LOCALE = "vi"  # exported files are in Vietnamese, whatever the interface's language


# -- requesting and confirming ---------------------------------------------------------


class CodeNotSent(Exception):
    """No SMS went out (too many codes lately, or the gateway failed); ``str()`` says why."""


class RowsChanged(Exception):
    """The rows the code named changed before it was typed; ``str()`` says so."""


def row_set(register_filter: RegisterFilter, account: Account,
            upto: int | None = None) -> tuple[int, int, int]:
    """(count, sum of ids, highest id) of the filter's rows in the account's scope, of ids
    up to ``upto`` when given: one aggregate query, the fingerprint of the set."""
    ids = register_filter.statement(account, Recipient.id).order_by(None)
    if upto is not None:
        ids = ids.where(Recipient.id <= upto)
    rows = ids.subquery()
    count, total, top = db.session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(rows.c.id), 0),
        sa.func.coalesce(sa.func.max(rows.c.id), 0),
    ).select_from(rows)).one()
    return int(count), int(total), int(top)


def _fingerprint(count: int, total: int) -> str:
    return f"{count}:{total}"


def _send_code(job: ExportJob, account: Account, *, resend: bool) -> None:
    """The SMS code of this export, within auth's limits (one resend a minute; at most
    ``OTP_RESEND_PER_HOUR`` export codes an hour, so exports cannot flood a phone)."""
    wait = resend_wait(account, PURPOSE, interval=resend)
    if wait:
        raise CodeNotSent(_("Vui lòng đợi %(s)s giây rồi yêu cầu mã mới.", s=wait))
    register_filter = RegisterFilter.from_dict(job.filter)
    try:
        issue_action_code(account, PURPOSE, job.id, sms_description(job, register_filter))
    except SmsError as error:
        raise CodeNotSent(str(error)) from error


def scope_label(account: Account) -> str:
    """The account's facility, and how many facilities below it the export may cover."""
    count = policy.scope(account).facility_count()
    name = db.session.get(Facility, account.facility_id).name
    if count > 1:
        return _("%(name)s và %(n)s cơ sở khác trong phạm vi", name=name, n=count - 1)
    return name


def request_export(account: Account, register_filter: RegisterFilter) -> ExportJob:
    """A pending export of the filter's rows, and an SMS code issued for exactly it.
    Raises ``CodeNotSent`` (the caller rolls back)."""
    keys, masked = columns.plan_for(account, register_filter)
    custodian = account.current_custodian
    count, total, top = row_set(register_filter, account)
    job = ExportJob(
        account_id=account.id, custodian_id=custodian.id if custodian else None,
        facility_id=account.facility_id, filter=register_filter.to_dict(),
        description=register_filter.describe()[:500], scope=scope_label(account)[:300],
        columns=keys, masked=masked, row_count=count, max_recipient_id=top,
        rows_fingerprint=_fingerprint(count, total), expires_at=utcnow() + _file_lifetime(),
    )
    db.session.add(job)
    db.session.flush()
    _send_code(job, account, resend=False)
    _record("export_requested", job, account, filter=job.filter,
            description=job.description, row_count=job.row_count, columns=keys, masked=masked)
    return job


def resend_code(job: ExportJob, account: Account) -> None:
    """A new code for the same export; the earlier one stops working."""
    _send_code(job, account, resend=True)


def sms_description(job: ExportJob, register_filter: RegisterFilter) -> str:
    """What the SMS says the code is for: the count, the facility and the export's ref."""
    facility = db.session.get(Facility, register_filter.facility_id or job.facility_id)
    with force_locale("vi"):
        return _("xuất %(n)s đối tượng của %(facility)s (lượt xuất %(ref)s)",
                 n=format_decimal(job.row_count), facility=facility.name, ref=job.short_ref)


def confirm_export(job: ExportJob, account: Account, code: str) -> bool:
    """True when ``code`` was issued for this export (or is a fresh TOTP code); the export
    then leaves ``pending`` so the code can never serve again. Raises ``RowsChanged`` (the
    export is cancelled) when the rows the code named are no longer the same: the file
    holds exactly those rows or is not written."""
    if job.status != JobStatus.pending or not verify_action_code(
        account, PURPOSE, job.id, code or ""
    ):
        _record("export_code_refused", job, account)
        return False
    _same_rows_or_cancel(job, account)
    job.status = JobStatus.queued
    job.confirmed_at = utcnow()
    _record("export_confirmed", job, account, filter=job.filter, row_count=job.row_count)
    return True


def _same_rows_or_cancel(job: ExportJob, account: Account) -> None:
    count, total, _top = row_set(RegisterFilter.from_dict(job.filter), account,
                                 job.max_recipient_id)
    same = (_fingerprint(count, total) == job.rows_fingerprint if job.rows_fingerprint
            else count == job.row_count)
    if same:
        return
    _finish(job, JobStatus.cancelled, error="rows changed")
    _record("export_rows_changed", job, account, row_count=job.row_count, now=count)
    raise RowsChanged(_(
        "Danh sách đã thay đổi sau khi mã được gửi (mã nêu %(n)s đối tượng, nay có %(m)s "
        "hoặc có đối tượng khác). Lượt xuất %(ref)s đã huỷ, không có tệp nào được tạo; hãy "
        "yêu cầu xuất lại để nhận mã nêu đúng danh sách.",
        n=format_decimal(job.row_count), m=format_decimal(count), ref=job.short_ref))


def runs_as_job(job: ExportJob) -> bool:
    """Over the threshold (strictly), the export is written by a background job."""
    return job.row_count > int(current_app.config["EXPORT_JOB_THRESHOLD"])


def request_cancel(job: ExportJob, account: Account) -> None:
    """A waiting export stops at once; a running one at its next progress check."""
    if job.status not in (JobStatus.pending, JobStatus.queued, JobStatus.running):
        return
    job.cancel_requested = True
    if job.status != JobStatus.running:
        _finish(job, JobStatus.cancelled)
    _record("export_cancelled", job, account)


# -- writing (called at once for small exports, as a job for large ones) ------------------


def run_export(job_id: str) -> None:
    """Write the confirmed export ``job_id`` to its file."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.status != JobStatus.queued or job.cancel_requested:
        return
    account = db.session.get(Account, job.account_id)
    with acting_as(account):
        if account.status != AccountStatus.active:
            _finish(job, JobStatus.failed, error="account not active")
            db.session.commit()
            return
        job.status = JobStatus.running
        db.session.commit()
        _write_and_finish(job_id, account)


def _write_and_finish(job_id: str, account: Account) -> None:
    final, partial = storage.export_path(job_id), storage.partial_path(job_id)
    job = db.session.get(ExportJob, job_id)
    try:
        result = _write(job, account, storage.create_private(partial))
    except ExportCancelled:
        db.session.rollback()
        storage.remove(partial)
        _finish(db.session.get(ExportJob, job_id), JobStatus.cancelled)
    except Exception as error:  # recorded on the job; the message may hold personal data
        db.session.rollback()
        storage.remove(partial)
        log.error("export %s failed: %s", job_id, type(error).__name__)
        job = db.session.get(ExportJob, job_id)
        _finish(job, JobStatus.failed, error=type(error).__name__)
        _record("export_failed", job, account, error=type(error).__name__)
    else:
        job = db.session.get(ExportJob, job_id)
        if result.rows != job.row_count:  # rows left the set after the confirmation
            storage.remove(partial)
            _finish(job, JobStatus.failed, error="rows changed")
            _record("export_failed", job, account, error="rows changed",
                    row_count=job.row_count, rows=result.rows)
        else:
            os.replace(partial, final)
            _complete(job, account, final.name, result)
    db.session.commit()


def _write(job: ExportJob, account: Account, target):
    """The workbook, in Vietnamese whatever the language of the request that runs it (a
    small export runs inside the confirming request): headers, watermark, title, sheets."""
    register_filter = RegisterFilter.from_dict(job.filter)
    job_id = job.id
    with force_locale(WORKBOOK_LOCALE):
        rows = columns.iter_rows(register_filter, account, job.columns, job.masked,
                                 upto=job.max_recipient_id)
        return write_workbook(
            str(target), columns.build_columns(job.columns), rows,
            watermark=_watermark(job, account),
            sheet_max_rows=int(current_app.config["EXPORT_SHEET_MAX_ROWS"]),
            title=_("Danh sách đối tượng tiêm"),
            progress=lambda n: _save_progress(job_id, n), progress_every=PROGRESS_EVERY,
            cancelled=lambda: _cancel_requested(job_id),
        )


def _watermark(job: ExportJob, account: Account) -> Watermark:
    custodian = db.session.get(Custodian, job.custodian_id) if job.custodian_id else None
    return Watermark(
        account=account.username, person=custodian.full_name if custodian else "",
        at=utcnow(), export_id=job.id, scope=f"{job.scope}; {job.description}",
    )


def _save_progress(job_id: str, rows: int) -> None:
    db.session.get(ExportJob, job_id).progress = rows
    db.session.commit()


def _cancel_requested(job_id: str) -> bool:
    return bool(db.session.scalar(
        sa.select(ExportJob.cancel_requested).where(ExportJob.id == job_id)
    ))


def _complete(job: ExportJob, account: Account, file_name: str, result) -> None:
    job.file_name = file_name
    job.rows_written = result.rows
    job.progress = result.rows
    job.sheets = result.sheets
    job.sha256 = result.sha256
    _finish(job, JobStatus.done)
    job.expires_at = job.finished_at + _file_lifetime()
    _record("export_completed", job, account, filter=job.filter, description=job.description,
            row_count=result.rows, sheets=result.sheets, sha256=result.sha256)


def _finish(job: ExportJob, status: str, error: str | None = None) -> None:
    job.status = status
    job.error = error
    job.finished_at = utcnow()


# -- download and expiry ---------------------------------------------------------------


def downloadable(job: ExportJob) -> bool:
    return (job.status == JobStatus.done and job.file_name is not None
            and job.expires_at is not None and job.expires_at > utcnow())


def file_path(job: ExportJob):
    return storage.export_path(job.id)


def record_download(job: ExportJob, account: Account) -> None:
    _record("export_downloaded", job, account, filter=job.filter, description=job.description,
            row_count=job.rows_written, sha256=job.sha256)


def downloads(job: ExportJob) -> list[tuple]:
    """When and by which account the file was downloaded, oldest first: the audit knows."""
    return list(db.session.execute(
        sa.select(AuditEvent.at, Account.username)
        .join(Account, Account.id == AuditEvent.account_id)
        .where(AuditEvent.action == "export_downloaded", AuditEvent.entity == "export_job",
               AuditEvent.entity_id == job.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all())


def download_name(job: ExportJob) -> str:
    stamp = local(job.finished_at or job.created_at).strftime("%Y%m%d-%H%M")
    return f"vaxportal-danh-sach-{stamp}-{job.short_ref}.xlsx"


def expire_exports(now) -> int:
    """Delete the files of exports whose time is up, and forget unconfirmed requests."""
    stale = db.session.scalars(sa.select(ExportJob).where(
        ExportJob.expires_at <= now,
        ExportJob.status.in_((JobStatus.done, JobStatus.pending, JobStatus.queued)),
    )).all()
    for job in stale:
        storage.remove(storage.export_path(job.id))
        job.file_name = None
        job.status = JobStatus.expired
    return len(stale)


def fail_abandoned_exports(now, stale_after: timedelta) -> int:
    """An export whose worker died (no progress for a long while) is marked failed."""
    rows = db.session.scalars(sa.select(ExportJob).where(
        ExportJob.status == JobStatus.running, ExportJob.updated_at <= now - stale_after,
    )).all()
    for job in rows:
        storage.remove(storage.partial_path(job.id))
        _finish(job, JobStatus.failed, error="abandoned")
        account = db.session.get(Account, job.account_id)
        with acting_as(account):
            _record("export_failed", job, account, reason="abandoned", filter=job.filter,
                    row_count=job.row_count, progress=job.progress)
    return len(rows)


def _file_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config["EXPORT_FILE_HOURS"]))


def _record(action: str, job: ExportJob, account: Account, **details) -> None:
    events.record(action, category="access", entity="export_job", entity_id=job.id,
                  facility_id=job.facility_id, details={"ref": job.short_ref, **details},
                  account=account)
