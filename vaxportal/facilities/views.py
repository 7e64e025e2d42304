"""The facility tree (admin only): browse it, open a facility, add one.

Shared by the account views: ``Attempt`` wraps a lifecycle action and its one commit, showing
a refusal beside the field it concerns.
"""

from __future__ import annotations

from flask import current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError

from vaxportal import htmx
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.facilities import bp, browse, lifecycle, tree
from vaxportal.facilities.forms import (
    GENDER_LABELS,
    KIND_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    FacilityForm,
    FilterForm,
)
from vaxportal.facilities.lifecycle import LifecycleError
from vaxportal.facilities.models import Facility
from vaxportal.policy import Perm, permission_required
from vaxportal.sms import SmsError
from vaxportal.timeutil import local_today
from vaxportal.validators import db_id, page_number

#: a refusal about a field the form calls by another name
FIELD_ALIASES = {"phone": "new_phone"}


@bp.context_processor
def _labels():
    return {"role_labels": ROLE_LABELS, "kind_labels": KIND_LABELS,
            "status_labels": STATUS_LABELS, "gender_labels": GENDER_LABELS,
            "action_labels": lifecycle.ACTION_LABELS, "today": local_today()}


class Attempt:
    """``with Attempt(form) as done:`` run a lifecycle action and commit; on a refusal roll
    back and show it beside its field (or above the form). ``done`` is true on success."""

    def __init__(self, form: FlaskForm) -> None:
        self.form = form
        self.ok = False

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind, error, _traceback) -> bool:
        if kind is None:
            self.ok = True
            return False
        if not issubclass(kind, (LifecycleError, SmsError, StaleDataError)):
            return False
        db.session.rollback()
        if isinstance(error, StaleDataError):
            show_error(self.form, _("Tài khoản vừa được người khác thay đổi. Vui lòng tải lại "
                                    "trang, xem lại rồi thử lại."))
        else:
            show_error(self.form, str(error), getattr(error, "field", None))
        return True

    def __bool__(self) -> bool:
        return self.ok


def show_error(form: FlaskForm, message: str, field: str | None = None) -> None:
    name = field if field in form else FIELD_ALIASES.get(field or "")
    if name in form:
        form[name].errors = [*form[name].errors, message]
    else:
        form.form_errors.append(message)


# -- the tree -----------------------------------------------------------------------------


@bp.get("/")
@permission_required(Perm.manage_facilities)
def index():
    form = FilterForm(request.args)
    form.validate()  # a field in error is shown with its message and left out of the query
    root_id = request.args.get("root", type=db_id)
    root = db.session.get(Facility, root_id) if root_id else None
    query = browse.TreeQuery(q="" if form.q.errors else form.q.data or "",
                             kind="" if form.kind.errors else form.kind.data or "", root=root)
    results = db.paginate(query.statement(), page=request.args.get("page", 1, type=page_number),
                          per_page=int(current_app.config["PAGE_SIZE"]) * 2, error_out=False)
    rows = browse.tree_rows(list(results.items), query.top_depth)
    return htmx.render("facilities/index.html", "facilities/_tree.html", form=form,
                       results=results,
                       rows=rows, root=root, trail=tree.ancestors(root) if root else [],
                       query=query)


@bp.get("/new")
@permission_required(Perm.manage_facilities)
def new_facility():
    form = FacilityForm(formdata=None)
    parent = db.session.get(Facility, request.args.get("parent", 0, type=db_id))
    if parent is not None:
        form.parent_code.data = parent.code
    return htmx.render("facilities/new.html", form=form)


@bp.post("/new")
@permission_required(Perm.manage_facilities)
@fresh_otp_required
def create_facility():
    form = FacilityForm()
    if form.validate_on_submit():
        with Attempt(form) as done:
            facility = lifecycle.create_facility(form.code.data, form.name.data, form.kind.data,
                                                 form.parent_code.data)
            db.session.commit()
        if done:
            flash(_("Đã tạo cơ sở %(code)s.", code=facility.code), "success")
            return htmx.redirect_to(url_for("facilities.show", facility_id=facility.id))
    return htmx.render("facilities/new.html", form=form)


@bp.get("/<int:facility_id>")
@permission_required(Perm.manage_facilities)
def show(facility_id: int):
    facility = db.get_or_404(Facility, facility_id)
    accounts = browse.facility_accounts(facility.id)
    can_issue = not (current_app.config["ONE_LIVE_ACCOUNT_PER_FACILITY"]
                     and lifecycle.live_account(facility.id))
    return htmx.render("facilities/show.html", facility=facility, accounts=accounts,
                       trail=tree.ancestors(facility), can_issue=can_issue,
                       children=browse.child_counts([facility.id]).get(facility.id, 0))
