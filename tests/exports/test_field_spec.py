"""The recipient's fields are defined once (``recipients/fields.py``): the register and edit
forms, the import's columns and template, the export's columns and the audit page's field
names and masking all list exactly the spec's fields; the same typed values are stored the
same way whether they come through the register form or an import (normalised once)."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import sqlalchemy as sa

from tests.helpers import last_import, spreadsheet, upload
from vaxportal import gender, policy
from vaxportal.audit import present
from vaxportal.exports import columns, importing
from vaxportal.extensions import db
from vaxportal.recipients import codes, fields, forms
from vaxportal.recipients.models import DuplicateCandidate, Recipient

SPEC_KEYS = [field.key for field in fields.RECIPIENT]
EXTRA = ["facility", "dose_count", "last_dose_on"]


def test_the_forms_hold_exactly_the_spec_fields_with_its_labels(app):
    form = forms.RecipientFields()
    assert list(form._fields) == SPEC_KEYS
    assert [str(form[key].label.text) for key in SPEC_KEYS] == [
        str(field.label) for field in fields.RECIPIENT]
    identity, details = forms.IdentityForm(meta={"csrf": False}), forms.DetailsForm(
        meta={"csrf": False})
    assert [k for k in identity._fields if k != "version_id"] == list(fields.IDENTITY_KEYS)
    assert [k for k in details._fields if k != "version_id"] == list(fields.DETAIL_KEYS)
    assert sorted(fields.IDENTITY_KEYS + fields.DETAIL_KEYS) == sorted(SPEC_KEYS)
    assert list(fields.CODED_KEYS) == list(codes.CODED_FIELDS)  # the kept lists


def test_the_import_template_header_is_the_spec(nurse):
    response = nurse.get("/exports/import/template")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header == [str(field.column_header) for field in fields.RECIPIENT]
    assert [column.key for column in importing.import_columns()] == SPEC_KEYS
    lists = " ".join(str(v.formula1) for v in sheet.data_validations.dataValidation)
    assert "Nam,Nữ,Khác" in lists  # gender's words, from the one definition


def test_the_export_columns_are_the_spec_then_facility_and_doses(nurse, reviewer):
    keys, masked = columns.plan_for(nurse.account)
    assert keys == SPEC_KEYS + EXTRA and not masked
    keys, masked = columns.plan_for(reviewer.account)
    assert keys == [k for k in SPEC_KEYS if k not in fields.FULL_IDENTITY_KEYS] + EXTRA
    assert masked and fields.FULL_IDENTITY_KEYS == ("street",)
    shown = dict(columns.headers(keys, masked))
    assert {header for header, is_masked in shown.items() if is_masked} == {
        str(fields.spec(key).column_header) for key in fields.MASKED_KEYS}


def test_the_audit_names_every_spec_field_by_its_label_and_masks_the_spec_masked(app):
    for field in fields.RECIPIENT:
        assert present.field_label("recipient", field.key) == str(field.label)
    assert present.field_label("dose", "phone") == "phone"  # another entity: its key
    values = {field.key: "079123456789" for field in fields.RECIPIENT}
    shown = policy.mask_field("changes", values)  # what the audit page shows a reviewer
    assert {key for key, value in shown.items() if value != "079123456789"} == set(
        fields.MASKED_KEYS) == set(policy.MASKED_FIELDS)
    assert shown["national_id"] == policy.mask_identifier("079123456789")


def test_gender_is_defined_once_and_read_in_every_spelling(app):
    assert [code for code, _label in forms.GENDER_CHOICES if code] == list(gender.LABELS)
    for typed, code in (("Nữ", "female"), ("nu", "female"), ("Female", "female"),
                        ("NAM", "male"), ("m", "male"), ("khac", "other"), ("other", "other")):
        assert gender.normalize(typed) == code


TYPED = {
    "full_name": "  lê   thị\u200b hồng ", "date_of_birth": "5/9/1980", "gender": "female",
    "national_id": "0891 8012.3456", "insurance_number": "gd 4890123456789",
    "phone": "0912 345 678", "occupation": "  giáo   viên ", "ethnicity": "01",
    "nationality": "vn", "priority_group": "N07", "province": "91",
    "district": " Long  Xuyên ", "ward": "30307", "street": " 12  Trần Hưng Đạo ",
}
STORED = {
    "full_name": "lê thị hồng", "date_of_birth": date(1980, 9, 5), "gender": "female",
    "national_id": "089180123456", "insurance_number": "GD4890123456789",
    "phone": "+84912345678", "occupation": "giáo viên", "ethnicity": "01",
    "nationality": "VN", "priority_group": "N07", "province": "91",
    "district": "Long Xuyên", "ward": "30307", "street": "12 Trần Hưng Đạo",
}


def _stored(recipient: Recipient) -> dict:
    return {key: getattr(recipient, key) for key in SPEC_KEYS}


def test_the_form_and_the_import_store_the_same_values_for_the_same_typing(nurse, place):
    response = nurse.post("/recipients/new", data={**TYPED, "facility_id": place["s1"].id})
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    by_form = db.session.scalar(sa.select(Recipient).order_by(Recipient.id.desc()))
    assert _stored(by_form) == STORED
    by_form.national_id = None  # free the ID: the import would skip it as registered
    db.session.commit()

    upload(nurse, spreadsheet([TYPED]))
    job = last_import()
    assert job.valid_rows == 1, job.report
    nurse.post(f"/exports/import/{job.id}/confirm")
    db.session.expire_all()
    by_import = db.session.scalar(sa.select(Recipient).order_by(Recipient.id.desc()))
    assert by_import.id != by_form.id
    assert _stored(by_import) == STORED
    assert by_import.name_key == by_form.name_key == "le thi hong"
    # the same person twice: the import queued the pair, as the register form does
    pairs = db.session.scalars(sa.select(DuplicateCandidate)).all()
    assert [(p.recipient_id, p.other_id) for p in pairs] == [(by_import.id, by_form.id)]


def test_a_spreadsheet_may_hold_words_and_labels_for_coded_fields(nurse):
    upload(nurse, spreadsheet([{**TYPED, "gender": "Nữ", "nationality": "Việt Nam",
                                "province": "An Giang", "ward": "Long Xuyên",
                                "ethnicity": "Kinh"}]))
    job = last_import()
    assert job.valid_rows == 1, job.report
    nurse.post(f"/exports/import/{job.id}/confirm")
    db.session.expire_all()
    stored = _stored(db.session.scalar(sa.select(Recipient)))
    assert stored == STORED
