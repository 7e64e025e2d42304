"""Forms of the recipients domain. The recipient's fields are built from their one
definition (``recipients/fields.py``) into ``RecipientFields`` (a plain WTForms form, usable
without a request), so the register form, the edit forms and
``services.validate_recipient_data`` (imports) check and normalise each value the same way,
once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Form,
    HiddenField,
    IntegerField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) tuples
    SelectChoice = None

from vaxportal.gender import GENDERS
from vaxportal.recipients import codes, fields
from vaxportal.recipients.models import Aefi
from vaxportal.validators import MAX_ID, DateVNField, NotBefore, NotInFuture, db_id
from vaxportal.widgets import SelectField


def as_choices(pairs) -> list:
    """(value, label) pairs as WTForms options (SelectChoice from WTForms 3.3 on)."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


def choice_values(field) -> set:
    return {getattr(c, "value", None) if SelectChoice else c[0] for c in field.choices or ()}


def _int_or_zero(value) -> int:
    try:
        return db_id(value)
    except (TypeError, ValueError):
        return 0


def _bounded(value):
    """A number too large for any check (or column) reads as none: the range message shows."""
    return value if not isinstance(value, int) or abs(value) <= MAX_ID else None


def _id_or_none(value) -> int | None:
    return _int_or_zero(value) or None


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _collapse(value):
    return " ".join(value.split()) if isinstance(value, str) else value


GENDER_CHOICES = [("", _l("— Chọn —")), *((g.value, label) for g, label, _w in GENDERS)]

AEFI_CHOICES = [
    (Aefi.none.value, _l("Không có")),
    (Aefi.mild.value, _l("Nhẹ")),
    (Aefi.severe.value, _l("Nặng")),
]


def _text(label, max_len: int, required: str | None = None, description=None, *more):
    checks = [DataRequired(required)] if required else [Optional()]
    checks.append(Length(max=max_len, message=_l("Tối đa %(max)d ký tự.", max=max_len)))
    checks.extend(more)
    return StringField(label, checks, filters=[_strip, _collapse], description=description)


class Normalised:
    """Replaces ``field.data`` with the field's stored form (the spec's ``normalise``), or
    fails with its message. A field whose list depends on another (ward → province) is
    normalised with that field's value, which the form has checked first."""

    def __init__(self, field_spec: fields.FieldSpec) -> None:
        self.spec = field_spec

    def __call__(self, form, field) -> None:
        if field.data is None or field.data == "":
            return
        within = (form[self.spec.within].data,) if self.spec.within in form else ()
        try:
            field.data = self.spec.normalise(field.data, *within)
        except ValueError as error:
            raise ValidationError(str(error)) from None


def _presence(spec: fields.FieldSpec) -> list:
    if spec.required is None:
        return [Optional()]
    if spec.kind in ("name", "text"):
        return [DataRequired(spec.required)]
    return [InputRequired(spec.required)]


def form_field(spec: fields.FieldSpec):
    """The WTForms field of a recipient field, from its spec."""
    checks = [*_presence(spec), Normalised(spec)]
    if spec.max_length:
        checks.append(Length(max=spec.max_length,
                             message=_l("Tối đa %(max)d ký tự.", max=spec.max_length)))
    kwargs = {"description": spec.description, "default": spec.default}
    if spec.kind == "date":
        return DateVNField(spec.label, [*_presence(spec), NotInFuture(), NotBefore(1900)],
                           **kwargs)
    if spec.kind == "gender":
        return SelectField(spec.label, checks, choices=as_choices(GENDER_CHOICES),
                           validate_choice=False, **kwargs)
    if spec.kind == "code":  # options set per form (``CodedChoices``)
        return SelectField(spec.label, checks, choices=[], validate_choice=False,
                           filters=[lambda v: v or None], **kwargs)
    return StringField(spec.label, checks, **kwargs)


_RecipientFields = type("_RecipientFields", (Form,), {
    "__doc__": "Every field of ``fields.RECIPIENT``, each checked and normalised once.",
    **{spec.key: form_field(spec) for spec in fields.RECIPIENT},
})


class CodedChecks:
    """Checks that a coded field's value is one of its list (a commune: of the province)."""

    def _check(self, key: str, field, province=None):
        if field.data and not codes.is_valid(key, field.data, province):
            raise ValidationError(_l("Không có trong danh mục: vui lòng chọn trong danh sách."))

    def validate_ethnicity(self, field):
        self._check("ethnicity", field)

    def validate_nationality(self, field):
        self._check("nationality", field)

    def validate_priority_group(self, field):
        self._check("priority_group", field)

    def validate_province(self, field):
        self._check("province", field)

    def validate_ward(self, field):
        province = self._fields.get("province")
        if field.data and province is not None and not province.data:
            raise ValidationError(_l("Vui lòng chọn tỉnh/thành phố trước."))
        if field.data and not codes.is_valid("ward", field.data, province and province.data):
            raise ValidationError(_l("Phường/xã này không thuộc tỉnh/thành phố đã chọn: "
                                     "vui lòng chọn lại trong danh sách."))


class CodedChoices(CodedChecks):
    """A form shown to a person: the coded fields' options (the communes of the chosen
    province), and the checks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        province = self._fields.get("province")
        for key in fields.CODED_KEYS:
            if key not in self._fields:
                continue
            if key == "ward":
                chosen = province.data if province is not None else None
                if not chosen or not codes.is_valid("province", chosen):
                    chosen = codes.ward_province(self.ward.data)
                first = _l("— Chọn tỉnh/thành phố trước —") if not chosen else _l("— Chọn —")
                pairs = codes.choices("ward", chosen)
            else:
                first, pairs = _l("— Chọn —"), codes.choices(key)
            self._fields[key].choices = as_choices([("", first), *pairs])


class RecipientFields(CodedChoices, _RecipientFields):
    """Every rule of a recipient's data, in one place."""


class RecipientChecks(CodedChecks, _RecipientFields):
    """The same rules without the options of the drop-downs: a spreadsheet row checked
    (``services.validate_recipient_data``), nothing rendered."""


IDENTITY_FORM_FIELDS = fields.IDENTITY_KEYS
DETAIL_FIELDS = fields.DETAIL_KEYS


class RecipientForm(CodedChoices, _RecipientFields, FlaskForm):
    """Register a new recipient."""

    facility_id = SelectField(_l("Cơ sở quản lý"), coerce=_int_or_zero, validate_choice=False)
    # sent only by the "register anyway" button
    confirm_duplicate = StringField()

    def validate_facility_id(self, field):
        if field.data not in choice_values(field):
            raise ValidationError(_l("Vui lòng chọn cơ sở quản lý."))


def _subset_form(name: str, keys: tuple[str, ...], doc: str) -> type[FlaskForm]:
    attrs = {key: getattr(_RecipientFields, key) for key in keys}
    attrs["version_id"] = HiddenField()
    attrs["__doc__"] = doc
    return type(name, (CodedChoices, FlaskForm), attrs)


IdentityForm = _subset_form(
    "IdentityForm", IDENTITY_FORM_FIELDS, "Identity fields: saved only after a fresh OTP (P3.4)."
)
DetailsForm = _subset_form(
    "DetailsForm", DETAIL_FIELDS, "Fields edited freely within the account's write scope."
)


class SearchForm(FlaskForm):
    q = StringField(_l("Tìm đối tượng"), [Optional(), Length(max=200)], filters=[_strip],
                    description=_l("Họ tên (không cần dấu), số CCCD/CMND, số điện thoại "
                                   "hoặc số thẻ BHYT"))
    # ids of their own: the dose form shown under the search (#dose-slot) has a vaccine_id
    # too, and a second id="vaccine_id" would leave its drop-down without a label
    facility_id = SelectField(_l("Cơ sở"), coerce=_id_or_none, validate_choice=False,
                              id="filter_facility_id")
    vaccine_id = SelectField(_l("Đã tiêm vắc xin"), coerce=_id_or_none, validate_choice=False,
                             id="filter_vaccine_id")
    s = HiddenField("S")  # a label given: none would load WTForms' own catalogue to say "S"


class DoseForm(FlaskForm):
    """Record a dose: one short form, keyboard only."""

    vaccine_id = SelectField(_l("Vắc xin"), [InputRequired(_l("Vui lòng chọn vắc xin."))],
                             coerce=_int_or_zero, validate_choice=False)
    dose_number = IntegerField(
        _l("Mũi số"),
        [InputRequired(_l("Vui lòng nhập mũi số.")),
         NumberRange(1, 10, _l("Mũi số từ %(min)s đến %(max)s."))],
        filters=[_bounded],
    )
    given_on = DateVNField(_l("Ngày tiêm"),
                           [InputRequired(_l("Vui lòng nhập ngày tiêm.")), NotInFuture(),
                            NotBefore(2021)])
    lot_number = _text(_l("Số lô"), 40, _l("Vui lòng nhập số lô."))
    vaccinator = _text(_l("Người tiêm"), 120, _l("Vui lòng nhập tên người tiêm."))
    aefi = SelectField(_l("Phản ứng sau tiêm"), choices=as_choices(AEFI_CHOICES),
                       default=Aefi.none.value)
    aefi_note = TextAreaField(_l("Ghi chú phản ứng"), [Length(max=500)],
                              filters=[_strip])
    lot_expires_on = DateVNField(_l("Hạn dùng của lô"), [Optional(), NotBefore(2021)])
    # sent only by the "record anyway" button of the interval warning
    confirm_interval = StringField()
    # sent only by the "record anyway" button of the other-vaccine lot warning
    confirm_lot = StringField()
    entry_token = HiddenField()
    back = HiddenField()  # the register search to return to (its random id)

    def validate_aefi_note(self, field):
        if self.aefi.data != Aefi.none.value and not field.data:
            raise ValidationError(_l("Vui lòng mô tả phản ứng sau tiêm."))


class LotExpiryForm(FlaskForm):
    """The expiry date of one lot on the facility's lot register."""

    expires_on = DateVNField(_l("Hạn dùng"), [InputRequired(_l("Vui lòng nhập hạn dùng.")),
                                              NotBefore(2021)])


def _reason():
    return TextAreaField(
        _l("Lý do"),
        [DataRequired(_l("Vui lòng nêu lý do.")),
         Length(min=5, max=300, message=_l("Lý do từ 5 đến 300 ký tự."))],
        filters=[_strip],
    )


class DoseCorrectionForm(DoseForm):
    """Correct a dose: a fresh OTP (P3.4) and a reason."""

    reason = _reason()
    version_id = HiddenField()


class DoseDeleteForm(FlaskForm):
    reason = _reason()
    version_id = HiddenField()


class LookupForm(FlaskForm):
    """Cross-facility look-up by exact ID, with a mandatory reason."""

    id_number = StringField(_l("Số CCCD/CMND hoặc số thẻ BHYT"),
                            [DataRequired(_l("Vui lòng nhập số giấy tờ."))], filters=[_strip])
    reason = _reason()


class ResolveForm(FlaskForm):
    """Sent by the queue's button ``distinct`` (a merge is chosen field by field on the
    pair's page, ``MergeForm``)."""

    decision = StringField()


class _MergeBase(FlaskForm):
    """Merge a pair: the record that stays, and per field the record whose value it keeps
    (each a record id); the versions both records were shown at."""

    keep = RadioField(_l("Hồ sơ giữ lại"), coerce=_int_or_zero, validate_choice=False)
    recipient_version = HiddenField()
    other_version = HiddenField()


#: one radio group per field of ``fields.RECIPIENT``: ``pick_<key>``
MergeForm = type("MergeForm", (_MergeBase,), {
    f"pick_{spec.key}": RadioField(spec.label, coerce=_int_or_zero, validate_choice=False)
    for spec in fields.RECIPIENT})


class UndoMergeForm(FlaskForm):
    """Undo a merge (the button of the merged pair's page)."""
