"""Views of the exports blueprint: the list, and Excel exports behind their own OTP (P1, P3.4).
The work lives in ``exporting``; these only validate, act, commit once and answer."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from vaxportal import htmx, jobs, policy
from vaxportal.auth import sessions
from vaxportal.auth.current import current_account
from vaxportal.auth.throttle import otp_throttled
from vaxportal.exports import bp, columns, exporting
from vaxportal.exports.forms import ActionForm, ExportCodeForm, RequestExportForm
from vaxportal.exports.models import ExportJob, ImportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients.search import RegisterFilter, get_search

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JOB_ID = "<string(length=32):job_id>"
LIST_LIMIT = 50


@bp.context_processor
def _helpers():
    return {"number": format_decimal, "status_label": status_label, "JobStatus": JobStatus}


def status_label(status: str) -> str:
    labels = {
        JobStatus.pending: _("Chờ xác nhận"), JobStatus.checked: _("Đã kiểm tra, chờ xác nhận"),
        JobStatus.rejected: _("Tệp không đọc được"), JobStatus.queued: _("Đang chờ"),
        JobStatus.running: _("Đang chạy"), JobStatus.done: _("Hoàn tất"),
        JobStatus.failed: _("Lỗi"), JobStatus.cancelled: _("Đã huỷ"),
        JobStatus.expired: _("Đã hết hạn, tệp đã xoá"),
    }
    return labels.get(status, status)


# -- the list ----------------------------------------------------------------------------


@bp.get("/")
@permission_required(Perm.export_recipients)
def index():
    account_id = current_account().id
    exports = db.session.scalars(
        db.select(ExportJob).where(ExportJob.account_id == account_id)
        .order_by(ExportJob.created_at.desc()).limit(LIST_LIMIT)
    ).all()
    imports = db.session.scalars(
        db.select(ImportJob).where(ImportJob.account_id == account_id)
        .order_by(ImportJob.created_at.desc()).limit(LIST_LIMIT)
    ).all()
    return render_template("exports/index.html", exports=exports, imports=imports)


# -- export: the statement, its own code, the writing -------------------------------------


@bp.get("/new")
@permission_required(Perm.export_recipients)
def new():
    """What would be exported: scope, filter, row count, columns. Nothing is created yet."""
    sid = request.args.get("s")
    account = current_account()
    if get_search(sid, account) is None:
        sid = None
    register_filter = RegisterFilter.load(sid, account)
    keys, masked = columns.plan_for(account, register_filter)
    return render_template(
        "exports/new.html", form=RequestExportForm(s=sid), description=register_filter.describe(),
        scope=exporting.scope_label(account), row_count=register_filter.count(account),
        headers=columns.headers(keys, masked), masked=masked, threshold=_threshold(),
    )


@bp.post("/new")
@permission_required(Perm.export_recipients)
@otp_throttled
def request_code():
    """Create the pending export and send the SMS code that names it."""
    form = RequestExportForm()
    if not form.validate():
        abort(400)
    account = current_account()
    register_filter = RegisterFilter.load(form.s.data, account)
    if register_filter.count(account) == 0:
        flash(_("Không có đối tượng nào để xuất."), "warning")
        return htmx.redirect_to(url_for("exports.new", s=form.s.data or None))
    try:
        job = exporting.request_export(account, register_filter)
    except exporting.CodeNotSent as error:
        db.session.rollback()
        flash(str(error), "error")
        return htmx.redirect_to(url_for("exports.new", s=form.s.data or None))
    db.session.commit()
    flash(_("Đã gửi mã xác nhận cho lượt xuất %(ref)s.", ref=job.short_ref), "success")
    return htmx.redirect_to(url_for("exports.show", job_id=job.id))


@bp.get(f"/{JOB_ID}")
@permission_required(Perm.export_recipients)
def show(job_id: str):
    """A pending export asks for its code; a running one shows its progress (the fragment
    alone for htmx polling); a finished one, its downloads and the file until it expires."""
    job = policy.get_own_or_404(ExportJob, job_id)
    return _show(job, ExportCodeForm(formdata=None))


def _show(job: ExportJob, code_form: ExportCodeForm, status: int = 200):
    return htmx.render(
        "exports/show.html", "exports/_progress.html", status=status, job=job,
        code_form=code_form, action_form=ActionForm(), phone_tail=_phone_tail(),
        headers=columns.headers(job.columns, job.masked), as_job=exporting.runs_as_job(job),
        downloadable=exporting.downloadable(job), downloads=exporting.downloads(job),
    )


@bp.post(f"/{JOB_ID}/confirm")
@permission_required(Perm.export_recipients)
@otp_throttled
def confirm(job_id: str):
    job = policy.get_own_or_404(ExportJob, job_id)
    form = ExportCodeForm()
    if not form.validate():
        return _show(job, form, 400)
    try:
        confirmed = exporting.confirm_export(job, current_account(), form.code.data)
    except exporting.RowsChanged as changed:
        db.session.commit()  # the export cancelled, and why, in the trail
        flash(str(changed), "error")
        return redirect(url_for("exports.show", job_id=job.id), 303)
    if not confirmed:
        db.session.commit()  # the refusal's audit event and the failure count
        if _locked_out():
            return redirect(url_for("auth.login"), 303)
        form.code.errors.append(_("Mã không đúng, đã hết hạn hoặc không phải mã của lượt xuất "
                                  "này. Hãy dùng mã trong tin nhắn nêu lượt xuất %(ref)s.",
                                  ref=job.short_ref))
        return _show(job, form, 400)
    db.session.commit()
    if exporting.runs_as_job(job):
        jobs.enqueue("vaxportal.exports.jobs.run_export", job.id)
        return redirect(url_for("exports.show", job_id=job.id), 303)
    exporting.run_export(job.id)
    # the export's page, not the file: the browser would stay on the code form otherwise
    return redirect(url_for("exports.show", job_id=job.id), 303)


@bp.post(f"/{JOB_ID}/code")
@permission_required(Perm.export_recipients)
@otp_throttled
def resend_code(job_id: str):
    job = policy.get_own_or_404(ExportJob, job_id)
    if not ActionForm().validate() or job.status != JobStatus.pending:
        abort(400)
    try:
        exporting.resend_code(job, current_account())
    except exporting.CodeNotSent as error:
        flash(str(error), "error")
    else:
        flash(_("Đã gửi lại mã xác nhận cho lượt xuất %(ref)s.", ref=job.short_ref), "success")
    db.session.commit()
    return htmx.redirect_to(url_for("exports.show", job_id=job.id))


@bp.post(f"/{JOB_ID}/cancel")
@permission_required(Perm.export_recipients)
def cancel(job_id: str):
    job = policy.get_own_or_404(ExportJob, job_id)
    if not ActionForm().validate():
        abort(400)
    exporting.request_cancel(job, current_account())
    db.session.commit()
    flash(_("Đã huỷ lượt xuất %(ref)s.", ref=job.short_ref), "info")
    return htmx.redirect_to(url_for("exports.show", job_id=job.id))


@bp.get(f"/{JOB_ID}/download")
@permission_required(Perm.export_recipients)
def download(job_id: str):
    """Only the account that made the export, only until it expires (then it is deleted)."""
    job = policy.get_own_or_404(ExportJob, job_id)
    if not exporting.downloadable(job):
        flash(_("Tệp của lượt xuất %(ref)s không còn để tải (đã hết hạn, bị huỷ hoặc chưa "
                "xong).", ref=job.short_ref), "warning")
        return redirect(url_for("exports.show", job_id=job.id), 303)
    exporting.record_download(job, current_account())
    db.session.commit()
    return send_file(exporting.file_path(job), mimetype=XLSX, as_attachment=True,
                     download_name=exporting.download_name(job), max_age=0)


def _locked_out() -> bool:
    """Too many wrong codes lock the account (auth's lock-out): the session ends."""
    account = current_account()
    db.session.refresh(account)
    if not account.is_locked():
        return False
    sessions.forget()
    flash(_("Tài khoản đã bị khoá tạm thời vì nhập sai mã nhiều lần. Vui lòng thử lại sau "
            "hoặc liên hệ quản trị viên."), "error")
    return True


def _phone_tail() -> str:
    return policy.phone_hint(current_account().phone)


def _threshold() -> int:
    return int(current_app.config["EXPORT_JOB_THRESHOLD"])
