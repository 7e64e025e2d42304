"""Doses: record one in a short form; correct or delete one with a fresh OTP and a reason."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _

from vaxportal import htmx, policy
from vaxportal.audit import events
from vaxportal.auth.current import current_account
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients import bp, dosing, helpers, lots
from vaxportal.recipients.forms import DoseCorrectionForm, DoseDeleteForm, DoseForm
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.recipients.search import get_search


@bp.get("/<int:recipient_id>/doses/new")
@permission_required(Perm.record_doses)
def dose_new(recipient_id: int):
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id, write=True,
                                            options=helpers.WITH_DOSES)
    back = _back(request.args.get("s"))
    form = dosing.new_dose_form(recipient, recipient.facility_id, back)
    return htmx.render("recipients/dose_new.html", "recipients/_dose_form.html",
                       recipient=recipient, form=form, action=_record_url(recipient))


@bp.post("/<int:recipient_id>/doses")
@permission_required(Perm.record_doses)
def record_dose(recipient_id: int):
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id, write=True,
                                            options=helpers.WITH_DOSES)
    form = dosing.with_choices(DoseForm())
    entry = dosing.enter_dose(form, recipient, recipient.facility_id)
    if entry.dose is None:
        return htmx.render("recipients/dose_new.html", "recipients/_dose_form.html",
                           recipient=recipient, form=form, warning=entry.warning,
                           lot_warning=entry.lot_warning,
                           action=_record_url(recipient))
    entry = dosing.commit_entry(entry, form)
    back = _back(form.back.data)
    if back and htmx.is_htmx():  # the saved dose with its person, loaded again after the commit
        dose = db.session.get(Dose, entry.dose.id, options=helpers.DOSE_PAGE,
                              populate_existing=True)
        return render_template("recipients/_dose_saved.html", dose=dose, notice=entry.notice)
    if back:  # the register again, the saved dose above it: no flash, so no cookie to set
        return htmx.redirect_to(url_for("recipients.index", s=back, saved=entry.dose.id))
    flash(*entry.notice)
    return htmx.redirect_to(url_for("recipients.show", recipient_id=recipient.id))


def _record_url(recipient: Recipient) -> str:
    return url_for("recipients.record_dose", recipient_id=recipient.id)


def _back(search_id: str | None) -> str | None:
    """A register search to return to, if it is this account's."""
    return search_id if get_search(search_id, current_account()) else None


# -- correcting and deleting (P3.4: a fresh OTP, and a reason) -----------------------------


@bp.get("/doses/<int:dose_id>/edit")
@permission_required(Perm.record_doses)
def dose_edit(dose_id: int):
    dose = policy.get_in_scope_or_404(Dose, dose_id, write=True,
                                       options=helpers.DOSE_PAGE)
    form = dosing.with_choices(DoseCorrectionForm(obj=dose))
    return render_template("recipients/dose_edit.html", dose=dose, form=form)


@bp.post("/doses/<int:dose_id>/edit")
@permission_required(Perm.record_doses)
@fresh_otp_required(load=policy.scope_loader(Dose, "dose_id", write=True))
def dose_correct(dose_id: int):
    dose = policy.get_in_scope_or_404(Dose, dose_id, write=True,
                                       options=helpers.DOSE_PAGE)
    form = dosing.with_choices(DoseCorrectionForm())
    if not (form.validate() and dosing.check_dose(form, dose.recipient)
            and dosing.check_lot(form, dose.facility_id)):
        return render_template("recipients/dose_edit.html", dose=dose, form=form)
    if helpers.is_stale(dose, form):
        return _dose_conflict(dose, form)
    for key in dosing.DOSE_FIELDS:
        setattr(dose, key, form[key].data)
    dose.aefi_note = dose.aefi_note or None
    lots.record_use(dose, None)
    events.record("dose_correct", category="data", entity="dose", entity_id=dose.id,
                  facility_id=dose.facility_id,
                  details={"reason": form.reason.data, "recipient_id": dose.recipient_id})
    dosing.dose_changing.send(dose, change="corrected")
    if not helpers.commit_or_stale():
        return _dose_conflict(db.session.get(Dose, dose_id), form)
    flash(_("Đã sửa mũi tiêm."), "success")
    return htmx.redirect_to(_after_dose(dose))


@bp.get("/doses/<int:dose_id>/delete")
@permission_required(Perm.record_doses)
def dose_delete_confirm(dose_id: int):
    dose = policy.get_in_scope_or_404(Dose, dose_id, write=True,
                                       options=helpers.DOSE_PAGE)
    form = DoseDeleteForm(obj=dose)
    return render_template("recipients/dose_delete.html", dose=dose, form=form)


@bp.post("/doses/<int:dose_id>/delete")
@permission_required(Perm.record_doses)
@fresh_otp_required(load=policy.scope_loader(Dose, "dose_id", write=True))
def dose_delete(dose_id: int):
    dose = policy.get_in_scope_or_404(Dose, dose_id, write=True,
                                       options=helpers.DOSE_PAGE)
    form = DoseDeleteForm()
    stale = helpers.is_stale(dose, form)
    if not form.validate() or stale:
        if stale:
            flash(_("Mũi tiêm vừa được người khác sửa. Vui lòng xem lại trước khi xoá."),
                  "warning")
            form.version_id.data = str(dose.version_id)
        return render_template("recipients/dose_delete.html", dose=dose, form=form), (
            409 if stale else 200)
    target = _after_dose(dose)
    events.record("dose_delete", category="data", entity="dose", entity_id=dose.id,
                  facility_id=dose.facility_id,
                  details={"reason": form.reason.data, "recipient_id": dose.recipient_id})
    dosing.dose_changing.send(dose, change="deleted")
    db.session.delete(dose)
    if not helpers.commit_or_stale():
        flash(_("Mũi tiêm vừa được người khác sửa hoặc xoá."), "warning")
    else:
        flash(_("Đã xoá mũi tiêm."), "success")
    return htmx.redirect_to(target)


def _after_dose(dose: Dose) -> str:
    """The recipient's page when the account may read it, else the look-up page (a dose
    given here to a person of another facility)."""
    if policy.scope().contains(dose.recipient.facility_id):
        return url_for("recipients.show", recipient_id=dose.recipient_id)
    return url_for("recipients.lookup")


def _dose_conflict(dose: Dose, form: DoseCorrectionForm):
    rows = helpers.conflict_rows(form, dose, dosing.DOSE_FIELDS)
    form.version_id.data = str(dose.version_id)
    return htmx.whole_page(render_template(
        "recipients/conflict.html", recipient=dose.recipient, form=form,
        fields=dosing.DOSE_FIELDS + ("reason",), rows=rows,
        action=url_for("recipients.dose_correct", dose_id=dose.id)), 409)
