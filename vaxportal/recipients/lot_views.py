"""The facility's lot register (issue 14): lot, vaccine, expiry, first and last use."""

from __future__ import annotations

from flask import current_app, flash, render_template, request, url_for
from flask_babel import gettext as _

from vaxportal import htmx, policy, validators
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients import bp, lots
from vaxportal.recipients.forms import LotExpiryForm
from vaxportal.recipients.models import DoseLot


@bp.get("/lots")
@permission_required(Perm.record_doses)
def lots_index():
    return _register()


@bp.post("/lots/<int:lot_id>/expiry")
@permission_required(Perm.record_doses)
def lot_expiry(lot_id: int):
    lot = policy.get_in_scope_or_404(DoseLot, lot_id, write=True)
    form = LotExpiryForm(prefix=_prefix(lot))
    if not form.validate() or not _expiry_fits(lot, form):
        return _register(failed=form, failed_id=lot.id)
    lot.expires_on = form.expires_on.data
    db.session.commit()
    flash(_("Đã lưu hạn dùng của lô %(lot)s.", lot=lot.lot_number), "success")
    return htmx.redirect_to(url_for("recipients.lots_index"))


def _expiry_fits(lot: DoseLot, form: LotExpiryForm) -> bool:
    """A lot cannot expire before a dose already given from it."""
    if lot.last_used_on and form.expires_on.data < lot.last_used_on:
        form.expires_on.errors.append(_(
            "Đã có mũi tiêm từ lô này ngày %(date)s, sau hạn dùng vừa nhập.",
            date=lot.last_used_on.strftime("%d/%m/%Y")))
        return False
    return True


def _register(failed: LotExpiryForm | None = None, failed_id: int | None = None):
    stmt = policy.scope().filter(lots.register_stmt(), DoseLot.facility_id)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=validators.page_number),
                       per_page=int(current_app.config["PAGE_SIZE"]), error_out=False)
    forms = {}
    writable = policy.scope().writable.contains_many(lot.facility_id for lot in page.items)
    for lot in page.items:
        if lot.id == failed_id:
            forms[lot.id] = failed
        elif lot.facility_id in writable:
            forms[lot.id] = LotExpiryForm(formdata=None, prefix=_prefix(lot),
                                          expires_on=lot.expires_on)
    return render_template("recipients/lots.html", page=page, forms=forms)


def _prefix(lot: DoseLot) -> str:
    return f"lot{lot.id}"
