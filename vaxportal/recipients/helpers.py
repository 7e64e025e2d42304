"""Small helpers of the recipients views: choices, labels, the conflict check."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from vaxportal import gender, policy
from vaxportal.extensions import db
from vaxportal.recipients import codes, fields
from vaxportal.recipients.forms import AEFI_CHOICES
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.vaccines import active_vaccines
from vaxportal.timeutil import format_date

AEFI_LABELS = dict(AEFI_CHOICES)

#: what a page of one recipient shows with it: the history, each dose's vaccine and place
WITH_DOSES = (selectinload(Recipient.doses).options(joinedload(Dose.vaccine),
                                                    joinedload(Dose.facility)),
              joinedload(Recipient.facility))


def with_doses(recipients: list) -> list:
    """Load now (after a commit expired them) what a page shows of these recipients."""
    ids = [recipient.id for recipient in recipients]
    if ids:
        db.session.scalars(sa.select(Recipient).where(Recipient.id.in_(ids))
                           .options(*WITH_DOSES)
                           .execution_options(populate_existing=True)).all()
    return recipients


#: what a page of one dose shows with it
DOSE_PAGE = (joinedload(Dose.vaccine), joinedload(Dose.facility), joinedload(Dose.recipient))


def facility_choices(*, write: bool = False) -> list[tuple[int, str]]:
    scope = policy.scope()
    return (scope.writable if write else scope).facility_choices()


def vaccine_choices() -> list[tuple[int, str]]:
    return [(v.id, v.name) for v in active_vaccines()]


def display(name: str, value) -> str:
    """A stored value as the page shows it (dates dd/mm/yyyy, gender as a word)."""
    if value is None:
        return ""
    if name == "gender":
        return gender.label(value)
    if name == "aefi":
        return str(AEFI_LABELS.get(value, value))
    if name in fields.CODED_KEYS:
        return codes.label(name, value)
    if name == "vaccine_id":
        vaccine = db.session.get(Vaccine, value) if value else None
        return vaccine.name if vaccine else ""
    if hasattr(value, "strftime"):
        return format_date(value)
    return str(value)


def template_helpers() -> dict:
    return {
        "gender_label": lambda v: display("gender", v), "aefi_label": AEFI_LABELS.get,
        "coded": coded,
    }


def coded(recipient, key: str) -> str:
    """A coded field's label; an older record's text that matched no code, marked so."""
    if getattr(recipient, key):
        return codes.label(key, getattr(recipient, key))
    older = (recipient.uncoded or {}).get(key)
    return _("%(text)s (chưa có mã, cần rà soát)", text=older) if older else ""


def is_stale(obj, form) -> bool:
    """True unless the POST carried the version stored now. Only what was posted counts: a
    form made with ``obj=`` holds the stored version by default, so a POST without
    ``version_id`` would otherwise pass as current and save blindly."""
    posted = form.version_id.raw_data or [""]
    return str(obj.version_id) != str(posted[0] or "").strip()


def commit_or_stale() -> bool:
    """Commit; False (rolled back) when another person saved the same row meanwhile."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return False
    return True


def conflict_rows(form, obj, names) -> list[dict]:
    """Side by side: what this person typed and what is stored now."""
    rows = []
    for name in names:
        field = form[name]
        mine = display(name, field.data) if field.type == "SelectField" else field._value()
        theirs = display(name, getattr(obj, name))
        rows.append({"label": form[name].label.text, "mine": mine or "", "theirs": theirs,
                     "differs": (mine or "") != theirs})
    return rows

