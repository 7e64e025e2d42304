"""Forms of the exports blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from vaxportal.recipients.forms import choice_values
from vaxportal.widgets import SelectField


class RequestExportForm(FlaskForm):
    """Sends the export's own code; ``s`` is the register search's random id."""

    s = HiddenField()


class ExportCodeForm(FlaskForm):
    code = StringField(
        _l("Mã xác nhận (OTP)"),
        [DataRequired(_l("Vui lòng nhập mã xác nhận.")), Length(max=12)],
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v],
        render_kw={"class": "code-input", "autocomplete": "one-time-code",
                   "inputmode": "numeric", "maxlength": "12"},
        description=_l("Mã gồm 6 chữ số trong tin nhắn gửi cho lượt xuất này, hoặc mã của "
                       "ứng dụng xác thực."),
    )


class ActionForm(FlaskForm):
    """A button that POSTs (confirm, cancel, resend): only the CSRF token."""


def _int_or_zero(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class ImportForm(FlaskForm):
    file = FileField(_l("Tệp Excel (.xlsx)"),
                     [FileRequired(_l("Vui lòng chọn tệp Excel (.xlsx) để tải lên."))],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument"
                                          ".spreadsheetml.sheet"})
    facility_id = SelectField(_l("Nhập vào cơ sở"), coerce=_int_or_zero, validate_choice=False)

    def validate_facility_id(self, field):
        if field.data not in choice_values(field):
            raise ValidationError(_l("Vui lòng chọn cơ sở nhận danh sách."))
