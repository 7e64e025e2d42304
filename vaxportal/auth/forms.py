"""Forms of the auth blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

_CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "class": "code-input",
               "maxlength": "8", "spellcheck": "false"}


def _code_field(name: str = "code") -> StringField:
    return StringField(
        _l("Mã xác thực (6 chữ số)"), name=name, render_kw=dict(_CODE_ATTRS),
        validators=[DataRequired(_l("Vui lòng nhập mã xác thực.")), Length(max=8)],
    )


class LoginForm(FlaskForm):
    username = StringField(
        _l("Tên đăng nhập"), render_kw={"autocomplete": "username", "autocapitalize": "none",
                                        "spellcheck": "false"},
        validators=[DataRequired(_l("Vui lòng nhập tên đăng nhập.")), Length(max=64)],
    )
    password = PasswordField(
        _l("Mật khẩu"), render_kw={"autocomplete": "current-password"},
        validators=[DataRequired(_l("Vui lòng nhập mật khẩu.")), Length(max=200)],
    )
    next = HiddenField()


class OtpForm(FlaskForm):
    code = _code_field()


class StepUpForm(FlaskForm):
    """Rendered inside another form's prompt; CSRF comes with the prompt itself."""

    class Meta:
        csrf = False

    stepup_code = _code_field("stepup_code")


class TotpForm(FlaskForm):
    code = _code_field()


class PasswordChangeForm(FlaskForm):
    """P4.3b. ``current_password`` is removed when the change is forced (first sign-in)."""

    current_password = PasswordField(
        _l("Mật khẩu hiện tại"), render_kw={"autocomplete": "current-password"},
        validators=[DataRequired(_l("Vui lòng nhập mật khẩu hiện tại.")), Length(max=200)],
    )
    new_password = PasswordField(
        _l("Mật khẩu mới"), render_kw={"autocomplete": "new-password"},
        description=_l("Ít nhất 8 ký tự, có chữ in hoa, chữ thường, chữ số và ký tự đặc biệt; "
                       "không chứa tên đăng nhập hay số điện thoại; không phổ biến; khác 5 mật "
                       "khẩu gần nhất."),
        validators=[DataRequired(_l("Vui lòng nhập mật khẩu mới.")), Length(max=200)],
    )
    confirm_password = PasswordField(
        _l("Nhập lại mật khẩu mới"), render_kw={"autocomplete": "new-password"},
        validators=[DataRequired(_l("Vui lòng nhập lại mật khẩu mới.")),
                    EqualTo("new_password", _l("Hai lần nhập mật khẩu mới không khớp."))],
    )
