"""Reading the trail at /audit (P2.4), above the domains: filters, pages of rows, a row's
before/after view, and the integrity check (chain and checkpoints) that data-audit readers
may run.

Every query passes through ``scope.visible``: supervisors and reviewers read the data events
of their subtree, admins the account and security events only (P2.1).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from vaxportal import htmx, policy, validators
from vaxportal.audit import integrity, labels, person_filter, present, refusals
from vaxportal.audit.forms import AuditFilterForm, AuditPersonForm
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
    return _page(request.args)


@bp.post("/person")
@permission_required(Perm.read_data_audit)
def person():
    """The person filter: the national ID or record id typed is looked up in the reader's
    scope; only the record ids found are kept (in the signed session), and the page's URL
    carries an opaque id (``who``), never what was typed."""
    form = AuditPersonForm()
    args = _filters(dict(parse_qsl(form.carry.data or "")), but="who")
    if form.validate():
        ids = person_filter.resolve(form.national_id.data, form.record_id.data or None)
        if ids:
            args["who"] = person_filter.remember(ids)
            return htmx.redirect_to(url_for("audit.index", **args))
        field = form.national_id if form.national_id.data else form.record_id
        field.errors = [_("Không tìm thấy đối tượng tiêm nào trong phạm vi của tài khoản.")]
    return _page(MultiDict(args), person_form=form)


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
    names = present.names([event], with_values=True)
    return htmx.render("audit/show.html", event=event, names=names,
                       changes=present.change_rows(event, names["facilities"]),
                       details=present.detail_rows(event, names["facilities"]))


#: the GET filters a page link or the person form carries along
FILTER_KEYS = ("account", "person", "facility", "facility_id", "entity", "entity_id", "action",
               "views", "who", "date_from", "date_to")


def _filters(args, but: str = "") -> dict[str, str]:
    """The known filters of ``args`` (a query's, or the person form's carried ones)."""
    return {key: args[key] for key in FILTER_KEYS if args.get(key) and key != but}


def _page(args: MultiDict, person_form: AuditPersonForm | None = None):
    account = current_account()
    sees_data = scope.sees_data(account)
    form = AuditFilterForm(formdata=args)
    sees_security = policy.has_perm(account, Perm.read_security_audit)
    people, facilities = present.filter_choices(account, with_facilities=sees_data)
    form.set_choices(present.entity_choices(sees_data, sees_security), people, facilities,
                     labels.action_choices(sees_data, sees_security))
    form.validate()
    chosen = person_filter.recall(form.who.data) if sees_data and not form.who.errors else None
    if sees_data and form.who.data and chosen is None:
        form.who.errors = [_("Bộ lọc theo đối tượng tiêm đã hết hạn; hãy nhập lại.")]
    stmt = _filtered(sa.select(AuditEvent).where(scope.visible(account)), form)
    if chosen is not None:
        stmt = stmt.where(person_filter.condition(chosen))
    pager = db.paginate(stmt.order_by(AuditEvent.id.desc()),
                        page=args.get("page", 1, type=validators.page_number),
                        per_page=current_app.config["PAGE_SIZE"], error_out=False)
    if person_form is None and sees_data:
        person_form = AuditPersonForm(formdata=None)
    if person_form is not None:
        person_form.carry.data = urlencode(_filters(args, but="who"))
    page_args = _filters(args)
    return htmx.render("audit/index.html", "audit/_rows.html", form=form, pager=pager,
                       names=present.names(pager.items), sees_data=sees_data,
                       person_form=person_form, people=chosen, page_args=page_args,
                       fragment=htmx.is_htmx(), views_hidden=sees_data and _views_hidden(form),
                       integrity=integrity.status() if sees_data else None)


def _views_hidden(form: AuditFilterForm) -> bool:
    """View events are left out unless the box is ticked or a view is the kind chosen."""
    chosen = form.action.data if form.action.data and not form.action.errors else None
    return not form.views.data and not labels.is_view(chosen)


def _filtered(stmt: sa.Select, form: AuditFilterForm) -> sa.Select:
    """Apply the filter fields that are valid (an invalid one is shown and ignored); view
    events only when asked for (the box, or a view event chosen as the kind)."""
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
    if ok(form.facility_id):
        stmt = stmt.where(AuditEvent.facility_id == form.facility_id.data)
    for name in ("entity", "entity_id", "action"):
        field = getattr(form, name)
        if ok(field):
            stmt = stmt.where(getattr(AuditEvent, name) == field.data.strip())
    if _views_hidden(form):
        stmt = stmt.where(AuditEvent.action.not_in(sorted(labels.VIEWS)))
    start, end = form.utc_range()
    if start is not None:
        stmt = stmt.where(AuditEvent.at >= start)
    if end is not None:
        stmt = stmt.where(AuditEvent.at < end)
    return stmt
