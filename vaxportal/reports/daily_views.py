"""The daily report's pages: a subtree's day (which facilities have not confirmed, each
facility's totals, the subtree's total), one facility's day, and the facility's one-click
confirmation (its own data-entry account only: ``policy.may_confirm_day``)."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField
from wtforms.validators import DataRequired, Optional

from vaxportal import htmx, policy
from vaxportal.auth.current import current_account
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.policy import Perm, permission_required
from vaxportal.reports import bp, daily
from vaxportal.reports.views import _trail, facility_in_scope_or_404
from vaxportal.validators import (
    DateVNField,
    NotBefore,
    NotInFuture,
    format_date_vn,
    local_today,
    parse_date_vn,
)


class DayForm(FlaskForm):
    """The day a report shows (a plain GET form: a date only)."""

    class Meta:
        csrf = False

    day = DateVNField(_l("Ngày"), [Optional(), NotInFuture(), NotBefore(2021)])

    def chosen(self) -> date:
        """The valid day typed, else today (the error stays shown)."""
        return self.day.data if self.day.data and not self.day.errors else local_today()


class ConfirmDayForm(FlaskForm):
    """The confirmation button: the day, and the fingerprint of the totals it was shown."""

    day = HiddenField(validators=[DataRequired()], id="confirm-day")  # the day form has "day"
    fingerprint = HiddenField(validators=[DataRequired()], id="confirm-fingerprint")

    def chosen(self) -> date | None:
        try:
            day = parse_date_vn(self.day.data or "")
        except ValueError:
            return None
        return day if day <= local_today() else None


@bp.get("/daily")
@permission_required(Perm.read_reports)
def daily_index():
    return _page(current_account().facility)


@bp.get("/f/<int:facility_id>/daily")
@permission_required(Perm.read_reports)
def facility_daily(facility_id: int):
    return _page(facility_in_scope_or_404(facility_id))


def _page(node: Facility):
    form = DayForm(formdata=request.args)
    form.validate()
    day = form.chosen()
    if not form.day.raw_data:
        form.day.data = day
    day_report = daily.report(current_account(), node, day)
    own = day_report.own
    confirm_form = None
    if own is not None and policy.may_confirm_day(node.id):
        confirm_form = ConfirmDayForm(formdata=None, day=format_date_vn(day),
                                      fingerprint=own.totals.fingerprint)
    return htmx.render("reports/daily.html", "reports/_daily_panel.html", form=form,
                       node=node, trail=_trail(node), report=day_report, day=day,
                       confirm_form=confirm_form)


@bp.post("/f/<int:facility_id>/daily/confirm")
@permission_required(Perm.read_reports, Perm.record_doses)
def daily_confirm(facility_id: int):
    """One click of the facility's own account; anyone else's answers 404 (P1)."""
    facility = facility_in_scope_or_404(facility_id)
    if not policy.may_confirm_day(facility.id):
        abort(404)
    form = ConfirmDayForm()
    day = form.chosen() if form.validate() else None
    if day is None:
        abort(400)
    try:
        daily.confirm(current_account(), facility.id, day, form.fingerprint.data)
    except daily.TotalsChanged:
        db.session.rollback()
        flash(_("Số liệu của ngày đã thay đổi sau khi trang được mở. Vui lòng xem lại rồi "
                "xác nhận."), "warning")
    else:
        try:
            db.session.commit()
        except IntegrityError:  # the same click sent twice at once: the first one holds
            db.session.rollback()
        flash(_("Đã xác nhận báo cáo ngày %(day)s.", day=format_date_vn(day)), "success")
    return htmx.redirect_to(url_for("reports.facility_daily", facility_id=facility.id,
                                    day=format_date_vn(day)))
