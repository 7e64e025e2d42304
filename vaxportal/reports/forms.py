"""The dashboard's filter (a plain GET form: dates and breakdown names only, never personal
data), the due list's, and the target-population forms."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField
from wtforms.validators import AnyOf, DataRequired, InputRequired, NumberRange, Optional

from vaxportal.recipients import due
from vaxportal.recipients.forms import as_choices
from vaxportal.reports.coverage import AGE_BANDS, BREAKDOWNS, STEPS
from vaxportal.reports.models import ALL
from vaxportal.reports.tables import TABLES
from vaxportal.validators import DateVNField, local_today
from vaxportal.widgets import SelectField

#: the longest period the dashboard draws (a year and a day: a leap year fits)
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30


class DashboardForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    start = DateVNField(_l("Từ ngày"), [Optional()])
    end = DateVNField(_l("Đến ngày"), [Optional()],
                      description=_l("Độ bao phủ tính đến ngày này"))
    by = SelectField(_l("Chia độ bao phủ"), choices=as_choices(BREAKDOWNS.items()),
                     default="facility")
    step = SelectField(_l("Mũi tiêm theo"), choices=as_choices(STEPS.items()), default="day")

    def period(self):
        """(start, end) of a valid form, else the last 30 days (the errors stay shown)."""
        end = self.end.data if not self.end.errors and self.end.data else local_today()
        start = self.start.data if not self.start.errors and self.start.data else (
            end - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
        return start, end

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        start, end = self.start.data, self.end.data
        if ok and start and end and start > end:
            self.end.errors.append(_l("Ngày kết thúc phải sau ngày bắt đầu."))
            ok = False
        if ok and start and end and (end - start).days >= MAX_PERIOD_DAYS:
            self.end.errors.append(_l("Khoảng thời gian tối đa là 366 ngày."))
            ok = False
        return ok

    def show_period(self) -> None:
        """Empty date fields show the period the page is drawn for."""
        start, end = self.period()
        if not self.start.raw_data:
            self.start.data = start
        if not self.end.raw_data:
            self.end.data = end

    def clean(self) -> dict:
        """The valid values, as the URLs of the page carry them (the form's own names)."""
        start, end = self.period()
        return {"start": start.strftime("%d/%m/%Y"), "end": end.strftime("%d/%m/%Y"),
                "by": self.by.data if self.by.data in BREAKDOWNS else "facility",
                "step": self.step.data if self.step.data in STEPS else "day"}


class DueForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Danh sách"), default=due.DUE, choices=as_choices([
        (due.DUE, _l("Đến hạn mũi tiếp theo")), (due.OVERDUE, _l("Quá hạn mũi tiếp theo"))]))


class DueExportForm(FlaskForm):
    """The button that turns a due list into an export request (a POST: it stores a search)."""

    status = HiddenField(default=due.DUE)


class TableExportForm(FlaskForm):
    """The button under an aggregate table: a POST (CSRF) of the table's name and the
    dashboard's filter as the page was drawn (the view reads the filter with
    ``DashboardForm``); no personal data, so no code is asked (P3.4 is about lists of
    people)."""

    table = HiddenField(validators=[AnyOf(tuple(TABLES))])
    start = HiddenField()
    end = HiddenField()
    by = HiddenField()
    step = HiddenField()


def _group_choices():
    from vaxportal.recipients.codes import priority_groups

    return as_choices([(ALL, _l("Tất cả")), *priority_groups()])


BAND_CHOICES = [(ALL, _l("Tất cả"))] + [(code, code) for code, _lo, _hi in AGE_BANDS]


def _band_choices():
    return as_choices(BAND_CHOICES)


class TargetForm(FlaskForm):
    facility_id = SelectField(_l("Cơ sở"), coerce=int, validators=[InputRequired()])
    period_start = DateVNField(_l("Từ ngày"), [DataRequired(_l("Vui lòng nhập ngày."))])
    period_end = DateVNField(_l("Đến ngày"), [DataRequired(_l("Vui lòng nhập ngày."))])
    priority_group = SelectField(_l("Nhóm ưu tiên"), default=ALL)
    age_band = SelectField(_l("Nhóm tuổi"), default=ALL)
    total = IntegerField(_l("Số người"), [
        InputRequired(_l("Vui lòng nhập số người.")),
        NumberRange(min=0, max=50_000_000, message=_l("Số người từ 0 đến 50.000.000."))])

    def with_choices(self, facilities: list[tuple[int, str]]) -> TargetForm:
        self.facility_id.choices = as_choices(facilities)
        self.priority_group.choices = _group_choices()
        self.age_band.choices = _band_choices()
        return self

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.period_start.data > self.period_end.data:
            self.period_end.errors.append(_l("Ngày kết thúc phải sau ngày bắt đầu."))
            ok = False
        if ok and self.priority_group.data != ALL and self.age_band.data != ALL:
            self.age_band.errors.append(_l(
                "Nhập số theo nhóm ưu tiên hoặc theo nhóm tuổi, không cả hai cùng lúc."))
            ok = False
        return ok


class TargetImportForm(FlaskForm):
    period_start = DateVNField(_l("Từ ngày"), [DataRequired(_l("Vui lòng nhập ngày."))])
    period_end = DateVNField(_l("Đến ngày"), [DataRequired(_l("Vui lòng nhập ngày."))])
    file = FileField(_l("Tệp Excel (.xlsx)"), description=_l(
        "Các cột: mã cơ sở, nhóm ưu tiên, nhóm tuổi, số người (để trống nhóm là tất cả)."))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.period_start.data > self.period_end.data:
            self.period_end.errors.append(_l("Ngày kết thúc phải sau ngày bắt đầu."))
            ok = False
        return ok
