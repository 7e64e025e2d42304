"""Target populations: the supervisor types a figure or uploads a spreadsheet of them for the
facilities of its subtree (``Perm.manage_targets``)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from vaxportal.auth.current import current_account
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.reports import bp, targets
from vaxportal.reports.forms import TargetForm, TargetImportForm


def _account():
    return current_account()


def _page(form: TargetForm | None = None, import_form: TargetImportForm | None = None,
          errors=None, status: int = 200):
    account = _account()
    form = form or TargetForm(formdata=None)
    form.with_choices(targets.writable_facilities(account))
    body = render_template(
        "reports/targets.html", form=form, import_form=import_form or TargetImportForm(
            formdata=None), rows=targets.listed(account), errors=errors or [])
    return body, status


@bp.get("/targets")
@permission_required(Perm.manage_targets)
def targets_index():
    return _page()


@bp.post("/targets")
@permission_required(Perm.manage_targets)
def target_save():
    account = _account()
    form = TargetForm().with_choices(targets.writable_facilities(account))
    if not form.validate():
        return _page(form, status=400)
    figure = targets.Figure(form.facility_id.data, form.priority_group.data,
                            form.age_band.data, form.total.data)
    try:
        targets.save(figure, form.period_start.data, form.period_end.data)
    except targets.TargetError as error:
        db.session.rollback()
        form.period_start.errors.append(str(error))
        return _page(form, status=400)
    db.session.commit()
    flash(_("Đã lưu số đối tượng cần tiêm."), "success")
    return redirect(url_for("reports.targets_index"), 303)


@bp.post("/targets/import")
@permission_required(Perm.manage_targets)
def target_import():
    import_form = TargetImportForm()
    upload = import_form.file.data
    if not import_form.validate() or upload is None or not upload.filename:
        if upload is None or not getattr(upload, "filename", ""):
            import_form.file.errors.append(_("Vui lòng chọn tệp Excel."))
        return _page(import_form=import_form, status=400)
    try:
        result = targets.import_file(upload.stream, import_form.period_start.data,
                                     import_form.period_end.data, _account())
    except targets.TargetError as error:
        db.session.rollback()
        import_form.file.errors.append(str(error))
        return _page(import_form=import_form, status=400)
    if result.errors:
        db.session.rollback()
        return _page(import_form=import_form, errors=result.errors, status=400)
    db.session.commit()
    flash(_("Đã nhập %(n)s số liệu đối tượng cần tiêm.", n=result.saved), "success")
    return redirect(url_for("reports.targets_index"), 303)
