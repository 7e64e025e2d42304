"""The recipient's fields, defined once: what each one is called, what kind of value it
holds, the one function that normalises it, whether it is identity (changed only after a
fresh OTP, P3.4), whether readers who do not see identifiers in full get it masked (P1, by
``policy.MASKED_FIELDS``, ``policy.mask_field``), and its column in spreadsheets.

Everything that lists a recipient's fields reads them here: the register and edit forms
(``recipients/forms.py``), the import's columns, template and checks (``exports/importing.py``,
``exports/checks.py``), the export's columns (``exports/columns.py``) and the audit page's
field names and masking (``audit/present.py``).

Contract::

    RECIPIENT                      # (FieldSpec, ...) in the order of forms and spreadsheets
    FIELD_KEYS, IDENTITY_KEYS, DETAIL_KEYS, MASKED_KEYS, FULL_IDENTITY_KEYS
    spec(key)                      # the FieldSpec, KeyError for an unknown key
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from vaxportal import gender, policy, validators
from vaxportal.recipients import codes


def tidy(value: str) -> str:
    """Free text as stored: spaces collapsed, trimmed."""
    return " ".join(str(value).split())


class CodeOf:
    """A coded field's normaliser: a code, or a label as a spreadsheet holds it, becomes the
    code (``codes.to_code``); what matches nothing stays as typed, and the form names it."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, value: Any, within: str | None = None) -> str:
        return codes.to_code(self.key, value, within) or str(value).strip()


@dataclass(frozen=True)
class FieldSpec:
    key: str
    #: the form's label (Vietnamese, lazy)
    label: Any
    #: name, date, gender, national_id, insurance_number, phone, code, text
    kind: str
    #: the one function that turns typed text into the stored value (ValueError: message)
    normalise: Callable[..., Any]
    #: changed only after a fresh OTP (P3.4); the others are details, edited freely
    identity: bool = False
    #: exported only to readers who see identity in full (the street address)
    full_identity_only: bool = False
    #: the spreadsheet column's header (import template, import, export); default: label
    header: Any = None
    #: message when left empty; None: optional
    required: Any = None
    max_length: int | None = None
    description: Any = None
    default: str | None = None
    #: a coded field whose list depends on another field's value (ward → province)
    within: str | None = None
    width: int = 18

    @property
    def column_header(self):
        return self.header if self.header is not None else self.label

    @property
    def column_kind(self) -> str:
        """How a spreadsheet cell holds it: a date, or text (IDs keep leading zeros)."""
        return "date" if self.kind == "date" else "text"

    @property
    def masked(self) -> bool:
        """Masked for readers who do not see identifiers in full: the policy's list
        (``policy.MASKED_FIELDS``, by ``policy.mask_field``), not decided here."""
        return self.key in policy.MASKED_FIELDS


RECIPIENT: tuple[FieldSpec, ...] = (
    FieldSpec("full_name", _l("Họ và tên"), "name", validators.normalize_person_name,
              identity=True, required=_l("Vui lòng nhập họ và tên."), max_length=120,
              width=28),
    FieldSpec("date_of_birth", _l("Ngày sinh"), "date", validators.parse_date_vn,
              identity=True, required=_l("Vui lòng nhập ngày sinh."),
              description=_l("dd/mm/yyyy, ví dụ 05/09/1980"), width=12),
    FieldSpec("gender", _l("Giới tính"), "gender", gender.normalize, identity=True,
              required=_l("Vui lòng chọn giới tính."), width=9),
    FieldSpec("national_id", _l("Số CCCD/CMND"), "national_id",
              validators.normalize_national_id, identity=True,
              description=_l("CCCD 12 số hoặc CMND 9 số"), width=16),
    FieldSpec("insurance_number", _l("Số thẻ BHYT / mã số BHXH"), "insurance_number",
              validators.normalize_insurance_number, identity=True,
              description=_l("Thẻ BHYT 15 ký tự hoặc mã số BHXH 10 số")),
    FieldSpec("phone", _l("Số điện thoại"), "phone", validators.normalize_phone,
              identity=True, width=15),
    FieldSpec("occupation", _l("Nghề nghiệp"), "text", tidy, max_length=120),
    FieldSpec("ethnicity", _l("Dân tộc"), "code", CodeOf("ethnicity"),
              description=_l("Gõ vài chữ cái đầu, không cần dấu")),
    FieldSpec("nationality", _l("Quốc tịch"), "code", CodeOf("nationality"), default="VN"),
    FieldSpec("priority_group", _l("Nhóm ưu tiên"), "code", CodeOf("priority_group")),
    FieldSpec("province", _l("Tỉnh/Thành phố"), "code", CodeOf("province"), identity=True,
              description=_l("Địa giới hành chính từ 01/07/2025; gõ chữ cái đầu, không cần "
                             "dấu")),
    FieldSpec("district", _l("Quận/Huyện (địa chỉ trước 2025)"), "text", tidy,
              identity=True, max_length=120),
    FieldSpec("ward", _l("Phường/Xã/Đặc khu"), "code", CodeOf("ward"), identity=True,
              header=_l("Phường/Xã"), within="province",
              description=_l("Danh sách theo tỉnh/thành phố đã chọn")),
    FieldSpec("street", _l("Số nhà, đường, thôn/ấp"), "text", tidy, identity=True,
              full_identity_only=True, max_length=200, width=30),
)

_BY_KEY = {field.key: field for field in RECIPIENT}
FIELD_KEYS: tuple[str, ...] = tuple(_BY_KEY)
IDENTITY_KEYS: tuple[str, ...] = tuple(f.key for f in RECIPIENT if f.identity)
DETAIL_KEYS: tuple[str, ...] = tuple(f.key for f in RECIPIENT if not f.identity)
MASKED_KEYS: tuple[str, ...] = tuple(f.key for f in RECIPIENT if f.masked)
FULL_IDENTITY_KEYS: tuple[str, ...] = tuple(f.key for f in RECIPIENT if f.full_identity_only)
CODED_KEYS: tuple[str, ...] = tuple(f.key for f in RECIPIENT if f.kind == "code")


def spec(key: str) -> FieldSpec:
    return _BY_KEY[key]
