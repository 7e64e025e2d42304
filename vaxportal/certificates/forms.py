"""Forms of the certificates blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import TextAreaField
from wtforms.validators import Length, Optional


class IssueForm(FlaskForm):
    """The issue button: only the CSRF token."""


class VerifyForm(FlaskForm):
    hc1 = TextAreaField(
        _l("Nội dung mã QR (bắt đầu bằng HC1:)"),
        [Optional(), Length(max=8000, message=_l("Nội dung quá dài để là một chứng nhận."))],
        render_kw={"rows": 6, "spellcheck": "false", "autocomplete": "off"},
    )
    photo = FileField(
        _l("Hoặc tải lên ảnh chụp mã QR"),
        [FileAllowed(["png", "jpg", "jpeg"], _l("Chỉ nhận ảnh PNG hoặc JPEG."))],
        description=_l("Ảnh PNG hoặc JPEG, chụp rõ toàn bộ mã QR."),
    )
