"""The audit filter: a plain GET form (works without JavaScript; htmx only swaps the rows)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from vaxportal.timeutil import LOCAL_TZ
from vaxportal.validators import DateVNField, db_id

ACTIONS = (
    ("", _l("Tất cả")),
    ("insert", _l("Thêm")),
    ("update", _l("Sửa")),
    ("delete", _l("Xoá")),
)

ENTITY_LABELS = {
    "recipient": _l("Đối tượng tiêm"),
    "dose": _l("Mũi tiêm"),
    "vaccine": _l("Vắc xin"),
    "priority_group": _l("Nhóm ưu tiên"),
    "duplicate_candidate": _l("Nghi trùng"),
    "recipient_merge": _l("Gộp hồ sơ"),
    "facility": _l("Cơ sở"),
    "delegation": _l("Ủy quyền"),
    "account": _l("Tài khoản"),
    "custodian": _l("Người quản lý tài khoản"),
    "written_request": _l("Văn bản đề nghị"),
    "export_job": _l("Xuất Excel"),
    "import_job": _l("Nhập Excel"),
}


def _id_or_none(value):
    if value in (None, ""):
        return None
    try:
        return db_id(value) or None
    except (TypeError, ValueError):
        return None


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    account = StringField(_l("Tài khoản"), [Optional(), Length(max=64)],
                          description=_l("Tên đăng nhập"))
    person = SelectField(_l("Người quản lý tài khoản"), coerce=_id_or_none,
                         validate_choice=False)
    facility = StringField(_l("Cơ sở"), [Optional(), Length(max=32)],
                           description=_l("Mã cơ sở"))
    entity = SelectField(_l("Loại dữ liệu"), validate_choice=False)
    entity_id = StringField(_l("Mã bản ghi"), [Optional(), Length(max=64),
                                               Regexp(r"^[A-Za-z0-9:_-]*$")])
    action = StringField(_l("Thao tác"), [Optional(), Length(max=40),
                                          Regexp(r"^[a-z_]*$")],
                         description=_l("Ví dụ: insert, update, delete, login_ok"))
    date_from = DateVNField(_l("Từ ngày"), [Optional()])
    date_to = DateVNField(_l("Đến ngày"), [Optional()])

    def set_choices(self, entities: list[str], people: list[tuple[int, str]]) -> None:
        self.entity.choices = [("", _l("Tất cả"))] + [
            (name, ENTITY_LABELS.get(name, name)) for name in entities
        ]
        self.person.choices = [("", _l("Tất cả"))] + people

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("Ngày kết thúc phải sau ngày bắt đầu."))

    def utc_range(self) -> tuple[datetime | None, datetime | None]:
        """The dates typed in Vietnam's time zone, as UTC bounds [start, end)."""
        start = end = None
        # the first and the last day a date can name bound nothing (and would overflow)
        if self.date_from.data and not self.date_from.errors and self.date_from.data > date.min:
            start = datetime.combine(self.date_from.data, time(), LOCAL_TZ)
        if self.date_to.data and not self.date_to.errors and self.date_to.data < date.max:
            end = datetime.combine(self.date_to.data + timedelta(days=1), time(), LOCAL_TZ)
        return start, end
