"""Import views: the template, the upload and its dry run, the confirmation. The work lives
in ``importing``; nothing is written to the register before the user confirms."""

from __future__ import annotations

from io import BytesIO

from flask import abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _

from vaxportal import htmx, jobs, policy
from vaxportal.auth.current import current_account
from vaxportal.exports import bp, importing
from vaxportal.exports.forms import ActionForm, ImportForm
from vaxportal.exports.models import ImportJob
from vaxportal.exports.views import JOB_ID, XLSX
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients.forms import as_choices

# -- import: template, upload and dry run, confirm ---------------------------------------


@bp.get("/import/template")
@permission_required(Perm.import_recipients)
def import_template():
    buffer = BytesIO()
    importing.template(buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype=XLSX, as_attachment=True,
                     download_name="vaxportal-mau-nhap-doi-tuong.xlsx", max_age=0)


def _import_form() -> ImportForm:
    form = ImportForm()
    choices = _writable_facilities()
    form.facility_id.choices = as_choices(choices)
    if not form.is_submitted():
        form.facility_id.data = current_account().facility_id
    return form


def _writable_facilities() -> list[tuple[int, str]]:
    return policy.scope().writable.facility_choices()


@bp.get("/import")
@permission_required(Perm.import_recipients)
def import_new():
    return _upload_page(_import_form())


@bp.post("/import")
@permission_required(Perm.import_recipients)
def import_upload():
    form = _import_form()
    if not form.validate():
        return _upload_page(form, 400)
    try:
        job = importing.accept_upload(form.file.data, current_account(), form.facility_id.data)
    except importing.UploadRefused as refused:
        db.session.rollback()
        form.file.errors.append(str(refused))
        return _upload_page(form, 400)
    db.session.commit()
    jobs.enqueue("vaxportal.exports.jobs.check_import", job.id)
    return redirect(url_for("exports.import_show", job_id=job.id), 303)


def _upload_page(form: ImportForm, status: int = 200):
    limit = int(current_app.config["IMPORT_MAX_BYTES"])
    page = render_template("exports/import_new.html", form=form,
                           max_mb=importing.megabytes(limit))
    return page, status


@bp.get(f"/import/{JOB_ID}")
@permission_required(Perm.import_recipients)
def import_show(job_id: str):
    job = policy.get_own_or_404(ImportJob, job_id)
    return htmx.render("exports/import_show.html", "exports/_import_progress.html", job=job,
                       action_form=ActionForm(), has_report=importing.has_report(job))


@bp.post(f"/import/{JOB_ID}/confirm")
@permission_required(Perm.import_recipients)
def import_confirm(job_id: str):
    job = policy.get_own_or_404(ImportJob, job_id)
    if not ActionForm().validate():
        abort(400)
    refusal = importing.confirm_import(job, current_account())
    db.session.commit()
    if refusal:
        flash(refusal, "error")
    else:
        jobs.enqueue("vaxportal.exports.jobs.run_import", job.id)
    return redirect(url_for("exports.import_show", job_id=job.id), 303)


@bp.post(f"/import/{JOB_ID}/discard")
@permission_required(Perm.import_recipients)
def import_discard(job_id: str):
    job = policy.get_own_or_404(ImportJob, job_id)
    if not ActionForm().validate():
        abort(400)
    importing.discard_import(job, current_account())
    db.session.commit()
    flash(_("Đã huỷ lượt nhập %(ref)s; tệp đã được xoá.", ref=job.short_ref), "info")
    return redirect(url_for("exports.index"), 303)


@bp.get(f"/import/{JOB_ID}/report")
@permission_required(Perm.import_recipients)
def import_report(job_id: str):
    job = policy.get_own_or_404(ImportJob, job_id)
    if not importing.has_report(job):
        abort(404)
    return send_file(importing.report_file(job), mimetype=XLSX, as_attachment=True,
                     download_name=f"vaxportal-bao-cao-nhap-{job.short_ref}.xlsx", max_age=0)

