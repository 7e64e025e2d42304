"""Accounts (admin only): the account page, issue, and the lifecycle actions (P4.1-P4.3c).

Each action is a GET page with its form and a POST that needs the admin's own fresh OTP
(``fresh_otp_required``), runs one ``lifecycle`` function, commits once and redirects (303).
There is no way here to see recipient data or to act as another account (P2.1, P2.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from vaxportal import htmx, policy
from vaxportal.auth.current import current_account
from vaxportal.auth.models import Account
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.facilities import approvals, bp, browse, lifecycle, tree
from vaxportal.facilities.forms import (
    DelegateForm,
    DetailsForm,
    HandOverForm,
    IssueForm,
    RequestForm,
)
from vaxportal.facilities.lifecycle import LifecycleError, RequestRef
from vaxportal.facilities.models import Delegation, Facility, PendingAction
from vaxportal.facilities.views import Attempt
from vaxportal.policy import Perm, permission_required


def _admin() -> Account:
    return current_account()


# -- the account page and issuing ----------------------------------------------------------


@bp.get("/accounts/<int:account_id>")
@permission_required(Perm.manage_accounts)
def account(account_id: int):
    account = db.one_or_404(sa.select(Account).where(Account.id == account_id)
                            .options(*browse.ACCOUNT_PAGE))
    return htmx.render(
        "facilities/account.html", account=account, own=account.id == _admin().id,
        open_sessions=browse.open_sessions(account.id),
        requests=browse.written_requests(account.id),
        delegations=browse.delegations(account.id),
        can_delegate=policy.delegation.may_receive_delegation(account),
        pending=approvals.open_for_account(account.id),
    )


@bp.get("/<int:facility_id>/accounts/new")
@permission_required(Perm.manage_accounts)
def issue_form(facility_id: int):
    facility = db.get_or_404(Facility, facility_id)
    form = IssueForm(formdata=None, data={"unit": facility.name})
    return htmx.render("facilities/issue.html", form=form, facility=facility)


def _facility(facility_id: int) -> Facility:
    return db.get_or_404(Facility, facility_id)


@bp.post("/<int:facility_id>/accounts/new")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_facility)
def issue(facility_id: int):
    """Issue an account (P4.1); the initial password goes by SMS only, never to this page."""
    facility = _facility(facility_id)
    form = IssueForm()
    if form.validate_on_submit():
        with Attempt(form) as done:
            account = approvals.issue(facility, form.username.data, form.role.data,
                                      form.phone.data, form.custodian(), _admin())
            db.session.commit()
        if done and isinstance(account, PendingAction):
            flash(_("Đã gửi yêu cầu cấp tài khoản %(username)s. Tài khoản chỉ được cấp khi một "
                    "quản trị viên khác phê duyệt.", username=account.params["username"]),
                  "success")
            return htmx.redirect_to(url_for("facilities.show", facility_id=facility.id))
        if done:
            flash(_("Đã cấp tài khoản %(username)s; mật khẩu ban đầu đã được gửi qua SMS tới số "
                    "đăng ký.", username=account.username), "success")
            return htmx.redirect_to(url_for("facilities.account", account_id=account.id))
    return htmx.render("facilities/issue.html", form=form, facility=facility)


# -- the lifecycle actions, each on a written request --------------------------------------


@dataclass(frozen=True)
class Action:
    form: type[RequestForm]
    title: str
    intro: str
    button: str
    done: str  # the flash; %(username)s is the account's
    endpoint: str
    danger: bool = False
    prefill: Callable[[Account], dict] = field(default=lambda _account: {})


def _details_of(account: Account) -> dict:
    custodian = account.current_custodian
    data = {"role": account.role, "phone": account.phone}
    if custodian is not None:
        data.update(gender=custodian.gender, unit=custodian.unit, position=custodian.position,
                    email=custodian.email, custodian_phone=custodian.phone)
    return data


HAND_OVER = Action(
    HandOverForm, _l("Bàn giao tài khoản"),
    _l("Người quản lý mới nhận tài khoản (P4.3a). Mọi phiên đăng nhập hiện có bị kết thúc; "
       "mật khẩu ban đầu mới được gửi qua SMS tới số đăng ký và tài khoản phải kích hoạt lại."),
    _l("Bàn giao"), _l("Đã bàn giao tài khoản %(username)s."), "facilities.hand_over")
REVOKE = Action(
    RequestForm, _l("Thu hồi tài khoản"),
    _l("Tài khoản bị thu hồi không đăng nhập được nữa; mọi phiên bị kết thúc và cơ sở có thể "
       "được cấp tài khoản mới (P4.2)."),
    _l("Thu hồi tài khoản"), _l("Đã thu hồi tài khoản %(username)s."), "facilities.revoke",
    danger=True)
REISSUE = Action(
    RequestForm, _l("Cấp lại mật khẩu"),
    _l("Mật khẩu ban đầu mới được gửi qua SMS tới số đăng ký; người dùng phải đổi mật khẩu khi "
       "đăng nhập. Mọi phiên hiện có bị kết thúc (P4.3c)."),
    _l("Cấp lại mật khẩu"), _l("Đã cấp lại mật khẩu cho tài khoản %(username)s qua SMS."),
    "facilities.reissue_password")
DETAILS = Action(
    DetailsForm, _l("Thay đổi thông tin tài khoản"),
    _l("Thay đổi số điện thoại đăng ký, vai trò hoặc thông tin của người quản lý (P4.3c). "
       "Muốn đổi người quản lý, hãy dùng chức năng bàn giao."),
    _l("Lưu thay đổi"), _l("Đã thay đổi thông tin tài khoản %(username)s."),
    "facilities.change_details", prefill=_details_of)
UNLOCK = Action(
    RequestForm, _l("Mở khoá tài khoản"),
    _l("Mở khoá ngay tài khoản đang bị khoá tạm thời vì nhập sai nhiều lần."),
    _l("Mở khoá"), _l("Đã mở khoá tài khoản %(username)s."), "facilities.unlock")
DELEGATE = Action(
    DelegateForm, _l("Uỷ quyền nhập liệu"),
    _l("Cho tài khoản nhập liệu của đơn vị hỗ trợ nhập liệu cho một cơ sở trong một khoảng thời "
       "gian; hết hạn thì tự chấm dứt."),
    _l("Uỷ quyền"), _l("Đã uỷ quyền nhập liệu cho tài khoản %(username)s."),
    "facilities.delegate")


#: the flash of an action that now waits for a second person's approval (P2.1)
REQUESTED = _l("Đã gửi yêu cầu cho tài khoản %(username)s. Thao tác chỉ có hiệu lực khi được "
               "người thứ hai phê duyệt bằng mã OTP của họ.")


def _account(account_id: int) -> Account:
    return db.get_or_404(Account, account_id)


def _page(action: Action, account: Account, form: RequestForm | None = None,
          post_url: str | None = None, **context):
    if form is None:
        form = action.form(formdata=None, data=action.prefill(account))
    post_url = post_url or url_for(action.endpoint, account_id=account.id)
    browse.reload(account, *browse.ACCOUNT_PAGE)
    if context.get("delegation") is not None:
        browse.reload(context["delegation"], joinedload(Delegation.facility))
    return htmx.render("facilities/action.html", action=action, account=account, form=form,
                       own=account.id == _admin().id, post_url=post_url, **context)


def _submit(action: Action, account: Account, run: Callable[[RequestForm, RequestRef], object]):
    form = action.form()
    if form.validate_on_submit():
        with Attempt(form) as done:
            result = run(form, form.request_ref(_admin()))
            db.session.commit()
        if done:
            message = REQUESTED if isinstance(result, PendingAction) else action.done
            flash(message % {"username": account.username}, "success")
            return htmx.redirect_to(url_for("facilities.account", account_id=account.id))
    return _page(action, account, form)


@bp.get("/accounts/<int:account_id>/hand-over")
@permission_required(Perm.manage_accounts)
def hand_over_form(account_id: int):
    return _page(HAND_OVER, _account(account_id))


@bp.post("/accounts/<int:account_id>/hand-over")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_account)
def hand_over(account_id: int):
    account = _account(account_id)
    return _submit(HAND_OVER, account, lambda form, ref: approvals.hand_over(
        account, form.custodian(), form.new_phone.data, ref))


@bp.get("/accounts/<int:account_id>/revoke")
@permission_required(Perm.manage_accounts)
def revoke_form(account_id: int):
    return _page(REVOKE, _account(account_id))


@bp.post("/accounts/<int:account_id>/revoke")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_account)
def revoke(account_id: int):
    account = _account(account_id)
    return _submit(REVOKE, account, lambda _form, ref: lifecycle.revoke(account, ref))


@bp.get("/accounts/<int:account_id>/reissue-password")
@permission_required(Perm.manage_accounts)
def reissue_password_form(account_id: int):
    return _page(REISSUE, _account(account_id))


@bp.post("/accounts/<int:account_id>/reissue-password")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_account)
def reissue_password(account_id: int):
    account = _account(account_id)
    return _submit(REISSUE, account, lambda _form, ref: lifecycle.reissue_password(account, ref))


@bp.get("/accounts/<int:account_id>/details")
@permission_required(Perm.manage_accounts)
def change_details_form(account_id: int):
    return _page(DETAILS, _account(account_id))


@bp.post("/accounts/<int:account_id>/details")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_account)
def change_details(account_id: int):
    account = _account(account_id)
    return _submit(DETAILS, account, lambda form, ref: approvals.change_details(
        account, form.changes(), ref))


@bp.get("/accounts/<int:account_id>/unlock")
@permission_required(Perm.manage_accounts)
def unlock_form(account_id: int):
    return _page(UNLOCK, _account(account_id))


@bp.post("/accounts/<int:account_id>/unlock")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_account)
def unlock(account_id: int):
    account = _account(account_id)
    return _submit(UNLOCK, account, lambda _form, ref: lifecycle.unlock(account, ref))


# -- delegations (letter item 3) -----------------------------------------------------------


@bp.get("/accounts/<int:account_id>/delegate")
@permission_required(Perm.manage_accounts)
def delegate_form(account_id: int):
    return _page(DELEGATE, _account(account_id))


@bp.post("/accounts/<int:account_id>/delegate")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_account)
def delegate(account_id: int):
    account = _account(account_id)

    def run(form: DelegateForm, ref: RequestRef):
        facility = tree.by_code(tree.normalize_code(form.facility_code.data))
        if facility is None:
            raise LifecycleError(_("Không có cơ sở mã %(code)s.", code=form.facility_code.data),
                                 field="facility_code")
        return approvals.delegate(account, facility, form.starts_on.data, form.ends_on.data,
                                  ref)

    return _submit(DELEGATE, account, run)


END_DELEGATION = Action(
    RequestForm, _l("Kết thúc uỷ quyền trước hạn"),
    _l("Uỷ quyền chấm dứt ngay; tài khoản hỗ trợ không còn nhập liệu được cho cơ sở này."),
    _l("Kết thúc uỷ quyền"), _l("Đã kết thúc uỷ quyền của tài khoản %(username)s."),
    "facilities.end_delegation", danger=True)


def _delegation(delegation_id: int) -> tuple[Delegation, Account]:
    delegation = db.get_or_404(Delegation, delegation_id)
    return delegation, db.session.get(Account, delegation.account_id)


@bp.get("/delegations/<int:delegation_id>/end")
@permission_required(Perm.manage_accounts)
def end_delegation_form(delegation_id: int):
    delegation, account = _delegation(delegation_id)
    return _page(END_DELEGATION, account, delegation=delegation,
                 post_url=url_for("facilities.end_delegation", delegation_id=delegation.id))


@bp.post("/delegations/<int:delegation_id>/end")
@permission_required(Perm.manage_accounts)
@fresh_otp_required(load=_delegation)
def end_delegation(delegation_id: int):
    delegation, account = _delegation(delegation_id)
    form = RequestForm()
    if form.validate_on_submit():
        with Attempt(form) as done:
            lifecycle.end_delegation(delegation, form.request_ref(_admin()))
            db.session.commit()
        if done:
            flash(END_DELEGATION.done % {"username": account.username}, "success")
            return htmx.redirect_to(url_for("facilities.account", account_id=account.id))
    return _page(END_DELEGATION, account, form, delegation=delegation,
                 post_url=url_for("facilities.end_delegation", delegation_id=delegation.id))
