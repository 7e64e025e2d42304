"""Forms of the facilities domain. Every lifecycle action's form carries the written request
(``RequestForm``); the domain rules themselves live in ``lifecycle`` and come back as
``LifecycleError`` on the field they concern."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from vaxportal import gender
from vaxportal.auth.models import Role
from vaxportal.facilities.lifecycle import EMAIL_RE, RequestRef
from vaxportal.facilities.models import FacilityKind
from vaxportal.recipients.forms import as_choices
from vaxportal.validators import DateVNField, NotBefore, NotInFuture, Phone
from vaxportal.widgets import SelectField

ROLE_LABELS = {
    Role.admin: _l("Quản trị hệ thống"),
    Role.data_entry: _l("Nhập liệu"),
    Role.supervisor: _l("Giám sát (tuyến huyện)"),
    Role.reviewer: _l("Xem và báo cáo (tuyến tỉnh)"),
}
KIND_LABELS = {
    FacilityKind.ministry: _l("Bộ Y tế / đơn vị thuộc Bộ"),
    FacilityKind.provincial_doh: _l("Sở Y tế"),
    FacilityKind.cdc: _l("Trung tâm Kiểm soát bệnh tật"),
    FacilityKind.district_health_centre: _l("Trung tâm Y tế huyện/thị/thành phố"),
    FacilityKind.commune_station: _l("Trạm Y tế xã/phường"),
    FacilityKind.public_hospital: _l("Bệnh viện công lập"),
    FacilityKind.private_hospital: _l("Bệnh viện tư nhân"),
    FacilityKind.military_medical: _l("Quân y"),
    FacilityKind.police_infirmary: _l("Bệnh xá Công an"),
    FacilityKind.vaccination_centre: _l("Trung tâm tiêm chủng"),
    FacilityKind.support_unit: _l("Đơn vị hỗ trợ nhập liệu"),
}
GENDER_LABELS = gender.LABELS
STATUS_LABELS = {
    "pending": _l("Chờ kích hoạt"),
    "active": _l("Đang hoạt động"),
    "locked": _l("Đang bị khoá"),
    "revoked": _l("Đã thu hồi"),
}
REQUEST_FIELDS = ("ref_number", "ref_date", "reason")


def _strip(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def _text(label, max_len: int, required=None, description=None, validators=()):
    checks = [DataRequired(required)] if required else [Optional()]
    checks.append(Length(max=max_len, message=_l("Tối đa %(max)d ký tự.", max=max_len)))
    return StringField(label, [*checks, *validators], filters=[_strip],
                       description=description)


def _select(label, labels: dict, required, blank=True):
    pairs = [("", _l("— Chọn —"))] if blank else []
    pairs += [(str(value), label) for value, label in labels.items()]
    checks = [InputRequired(required)] if required else [Optional()]
    return SelectField(label, checks, choices=as_choices(pairs))


def _phone(label, required=None, description=None):
    checks = [DataRequired(required)] if required else [Optional()]
    return StringField(label, [*checks, Phone()], filters=[_strip], description=description)


_EMAIL = Regexp(EMAIL_RE.pattern + "$", message=_l("Địa chỉ email không hợp lệ."))
_REGISTERED_PHONE_HINT = _l("Nhận mật khẩu ban đầu và mã OTP, ví dụ 0912 345 678.")


class FilterForm(FlaskForm):
    """The tree's filter (a GET form: names and codes of units, never personal data)."""

    class Meta:
        csrf = False

    q = _text(_l("Mã hoặc tên cơ sở"), 100)
    kind = _select(_l("Loại cơ sở"), KIND_LABELS, None)


class FacilityForm(FlaskForm):
    code = _text(_l("Mã cơ sở"), 32, _l("Vui lòng nhập mã cơ sở."),
                 _l("Chữ không dấu, chữ số, dấu chấm, gạch ngang; ví dụ TYT-MB."))
    name = _text(_l("Tên cơ sở"), 200, _l("Vui lòng nhập tên cơ sở."))
    kind = _select(_l("Loại cơ sở"), KIND_LABELS, _l("Vui lòng chọn loại cơ sở."))
    parent_code = _text(_l("Mã cơ sở cấp trên"), 32,
                        description=_l("Để trống nếu là cơ sở cấp cao nhất."))


class CustodianFields(FlaskForm):
    """The custodian's details (P3.3)."""

    full_name = _text(_l("Họ và tên người quản lý tài khoản"), 120,
                      _l("Vui lòng nhập họ và tên."))
    gender = _select(_l("Giới tính"), GENDER_LABELS, _l("Vui lòng chọn giới tính."))
    unit = _text(_l("Đơn vị công tác"), 200, _l("Vui lòng nhập đơn vị."))
    position = _text(_l("Chức vụ"), 120, _l("Vui lòng nhập chức vụ."))
    email = _text(_l("Email"), 200, _l("Vui lòng nhập email."), validators=[_EMAIL])
    custodian_phone = _phone(_l("Số điện thoại của người quản lý"),
                             _l("Vui lòng nhập số điện thoại."))

    def custodian(self) -> dict:
        return {"full_name": self.full_name.data, "gender": self.gender.data,
                "unit": self.unit.data, "position": self.position.data,
                "email": self.email.data, "phone": self.custodian_phone.data}


class IssueForm(CustodianFields):
    """Issue an account to a facility (P4.1, P3.2, P3.3)."""

    username = _text(_l("Tên đăng nhập"), 64, _l("Vui lòng nhập tên đăng nhập."),
                     _l("3-64 ký tự không dấu: chữ, số, dấu chấm, gạch ngang."))
    role = _select(_l("Vai trò"), ROLE_LABELS, _l("Vui lòng chọn vai trò."))
    phone = _phone(_l("Số điện thoại đăng ký của đơn vị"), _l("Vui lòng nhập số điện thoại."),
                   _REGISTERED_PHONE_HINT)

    FIELD_ORDER = ("username", "role", "phone", "full_name", "gender", "unit", "position",
                   "email", "custodian_phone")


class RequestForm(FlaskForm):
    """The written request behind an action (P4.2, P4.3c): number, date and reason."""

    ref_number = _text(_l("Số văn bản đề nghị"), 64, _l("Vui lòng nhập số văn bản."),
                       _l("Ví dụ 123/SYT-NVY"))
    ref_date = DateVNField(
        _l("Ngày văn bản"),
        [InputRequired(_l("Vui lòng nhập ngày văn bản.")), NotInFuture(), NotBefore(2000)],
        description=_l("dd/mm/yyyy, ví dụ 05/09/2024"),
    )
    reason = TextAreaField(
        _l("Lý do"),
        [DataRequired(_l("Vui lòng nhập lý do.")),
         Length(max=500, message=_l("Tối đa %(max)d ký tự.", max=500))],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )

    FIELD_ORDER: tuple[str, ...] = ()

    def request_ref(self, actor) -> RequestRef:
        return RequestRef(self.ref_number.data, self.ref_date.data, self.reason.data, actor)


class HandOverForm(RequestForm, CustodianFields):
    """Hand the account over to a new custodian (P4.3a, P4.2)."""

    new_phone = _phone(_l("Số điện thoại đăng ký mới (nếu đổi)"),
                       description=_l("Để trống nếu đơn vị giữ số cũ."))

    FIELD_ORDER = ("full_name", "gender", "unit", "position", "email", "custodian_phone",
                   "new_phone")


class DetailsForm(RequestForm):
    """Change of account information (P4.3c); the person is changed by a hand-over."""

    role = _select(_l("Vai trò"), ROLE_LABELS, _l("Vui lòng chọn vai trò."), blank=False)
    phone = _phone(_l("Số điện thoại đăng ký của đơn vị"), _l("Vui lòng nhập số điện thoại."),
                   _l("Đổi số thì số mới phải được kích hoạt lại bằng mã SMS."))
    gender = _select(_l("Giới tính"), GENDER_LABELS, None)
    unit = _text(_l("Đơn vị công tác"), 200)
    position = _text(_l("Chức vụ"), 120)
    email = _text(_l("Email"), 200, validators=[_EMAIL])
    custodian_phone = _phone(_l("Số điện thoại của người quản lý"))

    FIELD_ORDER = ("role", "phone", "gender", "unit", "position", "email", "custodian_phone")

    def changes(self) -> dict:
        return {name: self[name].data for name in self.FIELD_ORDER}


class DelegateForm(RequestForm):
    """Data-entry scope of a support unit's account over a facility, for a period."""

    facility_code = _text(_l("Mã cơ sở được hỗ trợ"), 32, _l("Vui lòng nhập mã cơ sở."))
    starts_on = DateVNField(_l("Từ ngày"), [InputRequired(_l("Vui lòng nhập ngày bắt đầu."))],
                            description=_l("dd/mm/yyyy"))
    ends_on = DateVNField(_l("Đến hết ngày"), [InputRequired(_l("Vui lòng nhập ngày kết thúc."))],
                          description=_l("dd/mm/yyyy; sau ngày này uỷ quyền tự hết hiệu lực."))

    FIELD_ORDER = ("facility_code", "starts_on", "ends_on")
