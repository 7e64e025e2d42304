"""Recording a dose: the suggestions (the person's series and its next number, the lot last
used with that vaccine and the last vaccinator at the facility), the minimum-interval and
other-vaccine-lot warnings, the lot's expiry and the guard against a double submit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from vaxportal import policy
from vaxportal.extensions import db
from vaxportal.recipients import helpers, lots
from vaxportal.recipients.forms import DoseForm, as_choices
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.services import last_entry_at, previous_dose
from vaxportal.timeutil import local_today

DOSE_FIELDS = ("vaccine_id", "dose_number", "given_on", "lot_number", "vaccinator", "aefi",
               "aefi_note")

#: sent with (dose, change="corrected"|"deleted") before a corrected or deleted dose is
#: committed; receivers add their own changes to the same transaction (certificates revoke)
dose_changing = Namespace().signal("dose-changing")

#: sent with (recipient, fields={changed keys}) before an edit of a recipient is committed;
#: receivers add their own changes to the same transaction (certificates carrying the old
#: name or birth date are revoked)
recipient_changing = Namespace().signal("recipient-changing")


def with_choices(form: DoseForm) -> DoseForm:
    form.vaccine_id.choices = as_choices(
        [("", _("— Chọn vắc xin —"))] + helpers.vaccine_choices())
    return form


def new_dose_form(recipient: Recipient, facility_id: int, back: str | None = None) -> DoseForm:
    """An empty entry form with its suggestions filled in."""
    form = with_choices(DoseForm(formdata=None))
    suggestion = lots.suggest(recipient.id, facility_id)
    form.vaccine_id.data = suggestion.vaccine_id
    form.lot_number.data = suggestion.lot_number
    form.dose_number.data = suggestion.dose_number
    last = last_entry_at(facility_id)
    if last is not None:
        form.vaccinator.data = last.vaccinator
    form.given_on.data = local_today()
    form.entry_token.data = secrets.token_hex(16)
    form.back.data = back or ""
    return form


@dataclass
class IntervalWarning:
    days: int
    minimum: int
    vaccine: str


@dataclass
class Entry:
    dose: Dose | None = None
    warning: IntervalWarning | None = None
    lot_warning: Vaccine | None = None  # the lot was recorded here with this other vaccine
    repeated: bool = False  # the same form was submitted twice: nothing new was written

    @property
    def notice(self) -> tuple[str, str]:
        """(message, category), as ``flash`` takes them."""
        if self.repeated:
            return _("Mũi tiêm này đã được ghi nhận (biểu mẫu gửi hai lần)."), "info"
        return saved_notice(self.dose)


def saved_notice(dose: Dose) -> tuple[str, str]:
    return _("Đã ghi nhận mũi %(n)s.", n=dose.dose_number), "success"


def enter_dose(form: DoseForm, recipient: Recipient, facility_id: int) -> Entry:
    """Validate and add a dose (flushed, not committed)."""
    token = (form.entry_token.data or "").strip()[:32] or None
    if done := find_by_token(token):
        return Entry(dose=done, repeated=True)
    if not form.validate() or not check_dose(form, recipient) or not check_lot(
            form, facility_id):
        return Entry()
    vaccine = db.session.get(Vaccine, form.vaccine_id.data)
    other = lots.other_vaccine(facility_id, form.lot_number.data, vaccine.id)
    if other and not form.confirm_lot.data:
        return Entry(lot_warning=other)
    warning = interval_warning(recipient.id, vaccine, form.given_on.data)
    if warning and not form.confirm_interval.data:
        return Entry(warning=warning)
    dose = Dose(recipient_id=recipient.id, facility_id=facility_id, entry_token=token,
                **{key: form[key].data for key in DOSE_FIELDS})
    dose.aefi_note = dose.aefi_note or None
    db.session.add(dose)
    lots.record_use(dose, form.lot_expires_on.data)
    db.session.flush()
    return Entry(dose=dose)


def check_lot(form: DoseForm, facility_id: int) -> bool:
    """No dose after the lot's expiry (the register's date, or the one typed for a new lot)."""
    lot = lots.find(facility_id, form.lot_number.data, form.vaccine_id.data)
    expires_on = lots.expiry_for(lot, form.lot_expires_on.data)
    if expires_on is not None and form.given_on.data > expires_on:
        form.lot_number.errors.append(_(
            "Lô %(lot)s hết hạn ngày %(date)s: không thể ghi nhận mũi tiêm sau ngày hết hạn. "
            "Kiểm tra lại số lô và ngày tiêm.",
            lot=form.lot_number.data, date=expires_on.strftime("%d/%m/%Y")))
        return False
    return True


def check_dose(form: DoseForm, recipient: Recipient) -> bool:
    """Rules that need the database: a catalogue vaccine, not before the birth date."""
    vaccine = db.session.get(Vaccine, form.vaccine_id.data or 0)
    if vaccine is None or not vaccine.active:
        form.vaccine_id.errors.append(_("Vui lòng chọn vắc xin trong danh mục."))
        return False
    if form.given_on.data < recipient.date_of_birth:
        form.given_on.errors.append(_("Ngày tiêm không thể trước ngày sinh."))
        return False
    return True


def interval_warning(recipient_id: int, vaccine: Vaccine, given_on: date,
                     exclude_id: int | None = None) -> IntervalWarning | None:
    """A warning when the previous dose was given fewer days ago than the vaccine's minimum."""
    previous = previous_dose(recipient_id, given_on, exclude_id)
    if previous is None or not vaccine.min_interval_days:
        return None
    days = (given_on - previous.given_on).days
    if days >= vaccine.min_interval_days:
        return None
    return IntervalWarning(days=days, minimum=vaccine.min_interval_days, vaccine=vaccine.name)


def find_by_token(token: str | None) -> Dose | None:
    if not token:
        return None
    return db.session.scalar(sa.select(Dose).where(Dose.entry_token == token))


def commit_entry(entry: Entry, form: DoseForm) -> Entry:
    """Commit a new dose; the same form sent twice records it once (``repeated``). The
    caller tells the nurse (``entry.notice``): a flash, or the saved dose's fragment."""
    if entry.repeated:
        return entry
    try:
        db.session.commit()
    except IntegrityError:  # the same form raced itself: the first one won
        db.session.rollback()
        return Entry(dose=find_by_token(form.entry_token.data), repeated=True)
    return entry


def saved_dose(dose_id: int | None) -> Dose | None:
    """A dose the register may show as just saved: given, and to a person, in scope."""
    dose = db.session.get(Dose, dose_id, options=[joinedload(Dose.recipient)]) if dose_id else None
    if dose is None or not (policy.in_scope(dose.facility_id)
                            and policy.in_scope(dose.recipient.facility_id)):
        return None
    return dose
