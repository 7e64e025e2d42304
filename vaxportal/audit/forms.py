"""The audit filters: a plain GET form (works without JavaScript; htmx only swaps the rows),
and the person form, POSTed, so that a national ID never goes into a URL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from vaxportal.timeutil import LOCAL_TZ
from vaxportal.validators import DateVNField, db_id, normalize_national_id
from vaxportal.widgets import SelectField


def _strip(value):
    return value.strip() if isinstance(value, str) else value


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
    #: the facility by its code (the security audit: every facility)
    facility = StringField(_l("Cơ sở"), [Optional(), Length(max=32)],
                           description=_l("Mã cơ sở"))
    #: the facility chosen among the reader's scope (the data audit)
    facility_id = SelectField(_l("Cơ sở"), coerce=_id_or_none, validate_choice=False)
    entity = SelectField(_l("Loại dữ liệu"), validate_choice=False)
    entity_id = StringField(_l("Mã bản ghi"), [Optional(), Length(max=64),
                                               Regexp(r"^[A-Za-z0-9:_-]*$")])
    action = SelectField(_l("Loại sự kiện"), validate_choice=False)
    views = BooleanField(_l("Hiện cả các lượt xem hồ sơ"))
    #: the stored person filter's opaque id (``audit/person_filter.py``), never the ID typed
    who = HiddenField(validators=[Optional(), Length(max=32), Regexp(r"^[A-Za-z0-9_-]*$")])
    date_from = DateVNField(_l("Từ ngày"), [Optional()])
    date_to = DateVNField(_l("Đến ngày"), [Optional()])

    def set_choices(self, entities: list[tuple[str, str]], people: list[tuple[int, str]],
                    facilities: list[tuple[int, str]],
                    actions: list[tuple[str, str]]) -> None:
        everything = [("", _l("Tất cả"))]
        self.entity.choices = everything + entities
        self.person.choices = everything + people
        self.facility_id.choices = everything + facilities
        self.action.choices = everything + actions

    def validate_facility_id(self, field) -> None:
        """Only a facility of the reader's scope (the choices) may be chosen."""
        if field.data is not None and field.data not in {key for key, _ in field.choices}:
            raise ValidationError(_l("Cơ sở này không thuộc phạm vi của tài khoản."))

    def validate_action(self, field) -> None:
        if field.data and field.data not in {key for key, _ in field.choices}:
            raise ValidationError(_l("Loại sự kiện không có trong danh sách."))

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


class AuditPersonForm(FlaskForm):
    """The person (a recipient) whose trail to read: by exact national ID or record id,
    POSTed; the filters already chosen ride along in ``carry`` (a query string)."""

    national_id = StringField(_l("Số CCCD/CMND của đối tượng tiêm"),
                              [Optional(), Length(max=20)], filters=[_strip])
    # no Optional(): an empty record id is checked against the national ID below
    record_id = StringField(_l("Hoặc mã hồ sơ"), [Length(max=20)],
                            filters=[_strip])
    carry = HiddenField(validators=[Optional(), Length(max=2000)])

    def validate_national_id(self, field) -> None:
        if field.data:
            try:
                field.data = normalize_national_id(field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_record_id(self, field) -> None:
        if not field.data:
            if not self.national_id.data and not self.national_id.errors:
                raise ValidationError(_l("Nhập số CCCD/CMND hoặc mã hồ sơ."))
            return
        if self.national_id.data:
            raise ValidationError(_l("Chỉ nhập một trong hai: số CCCD/CMND hoặc mã hồ sơ."))
        try:
            field.data = db_id(field.data.lstrip("#"))
        except (TypeError, ValueError):
            raise ValidationError(_l("Mã hồ sơ là một số.")) from None
