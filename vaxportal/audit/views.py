"""Reading the trail at /audit (P2.4), above the domains: filters, pages of rows, a row's
before/after view, and the integrity check (chain and checkpoints) that data-audit readers
may run.

Every query passes through ``scope.visible``: supervisors and reviewers read the data events
of their subtree, admins the account and security events only (P2.1).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _

from vaxportal import htmx, validators
from vaxportal.audit import integrity, present, refusals
from vaxportal.audit.forms import AuditFilterForm
from vaxportal.audit.models import AuditEvent
from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.policy import Perm, any_permission_required, permission_required
from vaxportal.policy import audit_scope as scope

bp = Blueprint("audit", __name__, url_prefix="/audit")


def init_app(app) -> None:
    """The pages at /audit, and the trace of refused requests."""
    app.register_blueprint(bp)
    refusals.connect(app)


@bp.context_processor
def _template_helpers():
    return present.template_helpers()


@bp.get("/")
@any_permission_required(*scope.READ_PERMS)
def index():
    account = current_account()
    form = AuditFilterForm(formdata=request.args)
    form.set_choices(present.entity_choices(), present.person_choices(account))
    form.validate()
    stmt = _filtered(sa.select(AuditEvent).where(scope.visible(account)), form)
    pager = db.paginate(stmt.order_by(AuditEvent.id.desc()),
                        page=request.args.get("page", 1, type=validators.page_number),
                        per_page=current_app.config["PAGE_SIZE"], error_out=False)
    sees_data = scope.sees_data(account)
    return htmx.render("audit/index.html", "audit/_rows.html", form=form, pager=pager,
                       names=present.names(pager.items), sees_data=sees_data,
                       integrity=integrity.status() if sees_data else None)


@bp.post("/verify")
@permission_required(Perm.read_data_audit)
def verify():
    """Check the whole chain against the signed checkpoints in the background; the audit
    page shows the result and the time of the last checkpoint."""
    if integrity.start(current_account().id):
        flash(_("Đã bắt đầu kiểm tra chuỗi nhật ký; kết quả hiện ở mục «Tính toàn vẹn của "
                "nhật ký» khi xong."), "info")
    else:
        flash(_("Chuỗi nhật ký đang được kiểm tra; kết quả sẽ hiện ở trang này."), "info")
    return redirect(url_for("audit.index"), 303)


@bp.get("/<int:event_id>")
@any_permission_required(*scope.READ_PERMS)
def show(event_id: int):
    account = current_account()
    event = db.first_or_404(
        sa.select(AuditEvent).where(AuditEvent.id == event_id, scope.visible(account))
    )
    return htmx.render("audit/show.html", event=event, names=present.names([event]),
                       changes=present.change_rows(event), details=present.detail_rows(event))


def _filtered(stmt: sa.Select, form: AuditFilterForm) -> sa.Select:
    """Apply the filter fields that are valid (an invalid one is shown and ignored)."""
    def ok(field) -> bool:
        return bool(field.data) and not field.errors

    if ok(form.account):
        usernames = sa.select(Account.id).where(
            sa.func.lower(Account.username) == form.account.data.strip().lower())
        stmt = stmt.where(AuditEvent.account_id.in_(usernames))
    if ok(form.person):
        stmt = stmt.where(AuditEvent.custodian_id == form.person.data)
    if ok(form.facility):
        codes = sa.select(Facility.id).where(Facility.code == form.facility.data.strip().upper())
        stmt = stmt.where(AuditEvent.facility_id.in_(codes))
    for name in ("entity", "entity_id", "action"):
        field = getattr(form, name)
        if ok(field):
            stmt = stmt.where(getattr(AuditEvent, name) == field.data.strip())
    start, end = form.utc_range()
    if start is not None:
        stmt = stmt.where(AuditEvent.at >= start)
    if end is not None:
        stmt = stmt.where(AuditEvent.at < end)
    return stmt
