"""Pending account actions (P2.1): the list for the people who decide them, approve (with
the approver's own fresh OTP) and refuse. Who may decide which action is
``policy.decidable``; another's or one's own request answers 404 here."""

from __future__ import annotations

from flask import flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from vaxportal import htmx
from vaxportal.auth.current import current_account
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.facilities import approvals, bp
from vaxportal.facilities.views import Attempt
from vaxportal.policy import Perm, get_decidable_or_404, permission_required

PENDING_STATUS_LABELS = {
    "pending": _l("Chờ phê duyệt"),
    "approved": _l("Đã phê duyệt"),
    "refused": _l("Đã từ chối"),
    "expired": _l("Đã hết hạn"),
}
DONE = {
    "approved": _l("Đã phê duyệt; thao tác đã có hiệu lực."),
    "refused": _l("Đã từ chối yêu cầu."),
    "expired": _l("Yêu cầu đã quá hạn phê duyệt nên không còn hiệu lực."),
}


class DecisionForm(FlaskForm):
    """Approve or refuse: the CSRF token is the whole form."""


def _page(form: DecisionForm | None = None):
    me = current_account()
    waiting = approvals.waiting_for(me)
    mine = approvals.requested_by(me)
    return htmx.render(
        "facilities/approvals.html", waiting=waiting, mine=mine,
        accounts=approvals.accounts_of(waiting + mine), form=form or DecisionForm(),
        kind_labels=approvals.KIND_LABELS, pending_status_labels=PENDING_STATUS_LABELS,
        expired=approvals.expired,
    )


@bp.get("/approvals")
@permission_required(Perm.decide_account_actions)
def approvals_list():
    return _page()


def _decide(pending_id: int, decide) -> object:
    pending = get_decidable_or_404(pending_id)
    form = DecisionForm()
    if form.validate_on_submit():
        with Attempt(form) as done:
            status = decide(pending, current_account())
            db.session.commit()
        if done:
            flash(DONE[status], "success" if status != "expired" else "error")
            return htmx.redirect_to(url_for("facilities.approvals_list"))
    for message in form.form_errors or [_("Không thực hiện được. Vui lòng tải lại trang.")]:
        flash(message, "error")
    return htmx.redirect_to(url_for("facilities.approvals_list"))


@bp.post("/approvals/<int:pending_id>/approve")
@permission_required(Perm.decide_account_actions)
@fresh_otp_required(load=lambda pending_id: get_decidable_or_404(pending_id))
def approve(pending_id: int):
    """The second person's approval, with their own fresh OTP (P2.1, P3.4)."""
    return _decide(pending_id, approvals.approve)


@bp.post("/approvals/<int:pending_id>/refuse")
@permission_required(Perm.decide_account_actions)
def refuse(pending_id: int):
    return _decide(pending_id, approvals.refuse)
