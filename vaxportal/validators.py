"""Checks shared by several forms and the spreadsheet import.

The pure ``normalize_*`` / ``parse_date_vn`` functions return the normalized value or raise
``ValueError`` whose message can be shown as it is; the WTForms validators wrap them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from vaxportal import text
from vaxportal.timeutil import local_today

DATE_PLACEHOLDER = "dd/mm/yyyy"
_DATE_RE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
_INSURANCE_CARD_RE = re.compile(r"[A-Z]{2}[1-5]\d{12}")
_SOCIAL_NUMBER_RE = re.compile(r"\d{10}")
_PROVINCE_CODES = range(1, 97)  # 001-096
#: ids are 32-bit integer columns; a larger number names no row (and overflows a query)
MAX_ID = 2**31 - 1


def db_id(value) -> int:
    """An id sent by a form as an int a query can take: 0 (no row) when it is outside the
    range of the id columns. Raises ValueError (or TypeError) when it is no integer."""
    number = int(value)
    return number if -MAX_ID <= number <= MAX_ID else 0


def page_number(value) -> int:
    """A page number from a query string (``type=page_number``): below 1 is page 1, above
    ``MAX_ID`` is page ``MAX_ID`` (an empty page), so no offset overflows a query. Raises
    ValueError when it is no integer (the caller's default page is used)."""
    return min(max(int(value), 1), MAX_ID)


class DbIdConverter(IntegerConverter):
    """``<int:...>`` in a route: a number beyond the id columns' range names no row, so the
    URL answers 404 before any view or query sees it."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def normalize_person_name(s: str) -> str:
    """A person's name as stored, searched and compared (``text.clean``: NFC, no invisible
    format characters); refused when its letters mix scripts (a Cyrillic "а" among Latin
    letters looks the same and is another name)."""
    value = text.clean(s or "")
    if not value:
        raise ValueError(_("Vui lòng nhập họ và tên."))
    if len(text.scripts(value)) > 1:
        raise ValueError(_("Họ tên có chữ cái của nhiều bảng chữ khác nhau (ví dụ chữ “а” "
                           "Kirin lẫn trong chữ Latinh). Hãy gõ lại họ tên bằng bàn phím "
                           "tiếng Việt."))
    return value


def normalize_national_id(s: str) -> str:
    """A CCCD (12 digits, starting with a province code 001-096) or an old CMND (9 digits)."""
    value = re.sub(r"[\s.]", "", s or "")
    if value.isascii() and value.isdigit():
        if len(value) == 9:
            return value
        if len(value) == 12:
            if int(value[:3]) not in _PROVINCE_CODES:
                raise ValueError(_("Số CCCD phải bắt đầu bằng mã tỉnh từ 001 đến 096."))
            return value
    raise ValueError(_("Số CCCD gồm 12 chữ số, hoặc số CMND cũ gồm 9 chữ số."))


def normalize_insurance_number(s: str) -> str:
    """A health-insurance card number (15 characters) or a social-insurance number (10 digits)."""
    value = re.sub(r"\s", "", s or "").upper()
    if value.isascii() and (
        _INSURANCE_CARD_RE.fullmatch(value) or _SOCIAL_NUMBER_RE.fullmatch(value)
    ):
        return value
    raise ValueError(_("Số thẻ BHYT gồm 15 ký tự (2 chữ cái, 1 chữ số từ 1 đến 5 và 12 chữ số), "
                       "hoặc mã số BHXH gồm 10 chữ số."))


def normalize_phone(s: str, region: str = "VN") -> str:
    """A valid phone number in E.164 form, e.g. "0912 345 678" → "+84912345678"."""
    try:
        number = phonenumbers.parse(s or "", region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        # translated only when shown (an import checks thousands of valid numbers)
        raise ValueError(_("Số điện thoại không hợp lệ, ví dụ đúng: 0912 345 678."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_date_vn(s: str) -> date:
    """dd/mm/yyyy (also d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy) → a date."""
    text = (s or "").strip()
    match = _DATE_RE.fullmatch(text)
    if not match:
        raise ValueError(_("Ngày phải viết theo dạng dd/mm/yyyy, ví dụ 05/09/1980."))
    day, _sep, month, year = match.groups()
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(_("Ngày %(value)s không có trên lịch.", value=text)) from None


def format_date_vn(d: date) -> str:
    return d.strftime("%d/%m/%Y")


class DateVNField(StringField):
    """A date typed as dd/mm/yyyy; ``data`` is a date, or None when empty or invalid.

    When the text cannot be read, the field shows it back as typed, with the error."""

    def __init__(self, label=None, validators=None, render_kw: dict | None = None, **kwargs):
        render_kw = {"placeholder": DATE_PLACEHOLDER, **(render_kw or {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = str(valuelist[0]).strip() if valuelist else ""
        if text:
            self.data = parse_date_vn(text)  # ValueError → a process error, shown with the field

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, date):
            return format_date_vn(self.data)
        return ""


class _Normalizing:
    """Replaces ``field.data`` with the normalized value, or fails with the function's message."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def normalize(self, value: str) -> str:
        raise NotImplementedError

    def __call__(self, form, field: Field) -> None:
        if field.data is None or field.data == "":
            return
        try:
            field.data = self.normalize(str(field.data))
        except ValueError as error:
            raise ValidationError(self.message or str(error)) from None


class PersonName(_Normalizing):
    def normalize(self, value: str) -> str:
        return normalize_person_name(value)


class NationalId(_Normalizing):
    def normalize(self, value: str) -> str:
        return normalize_national_id(value)


class InsuranceNumber(_Normalizing):
    def normalize(self, value: str) -> str:
        return normalize_insurance_number(value)


class Phone(_Normalizing):
    def __init__(self, message: str | None = None, region: str = "VN") -> None:
        super().__init__(message)
        self.region = region

    def normalize(self, value: str) -> str:
        return normalize_phone(value, self.region)


class NotInFuture:
    """The date is today (Vietnam time) or earlier."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form, field: Field) -> None:
        if isinstance(field.data, date) and field.data > local_today():
            raise ValidationError(self.message or _("Ngày không được sau hôm nay."))


class NotBefore:
    """The date is in ``year`` or later."""

    def __init__(self, year: int, message: str | None = None) -> None:
        self.year = year
        self.message = message

    def __call__(self, form, field: Field) -> None:
        if isinstance(field.data, date) and field.data.year < self.year:
            raise ValidationError(
                self.message or _("Ngày không được trước năm %(year)s.", year=self.year)
            )
