"""What a duplicate check at entry may show of a record already registered (P1).

In the account's scope the helpful warning stays: name, birth date, facility and a link.
Outside it the check names the facility only (nothing the user did not type is echoed), the
showing is an access event, and for a national ID the cross-facility look-up is offered
(exact ID, a reason, audited) with the ID in a form to POST, never in a URL.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _

from vaxportal import policy
from vaxportal.audit import events
from vaxportal.auth.current import current_account
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.policy import Perm
from vaxportal.recipients.forms import LookupForm, RecipientForm
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.services import find_by_national_id, find_possible_duplicates


def duplicate_checks(form: RecipientForm, clean: dict) -> dict:
    """Same national ID: blocked, pointing to the record. Same folded name + date of birth +
    gender: a warning the person may override ("register anyway")."""
    existing = registered_id(form, clean.get("national_id"))
    if existing is not None:
        return {"existing": existing, "duplicates": [], "offer": lookup_offer(existing)}
    matches = find_possible_duplicates(clean["full_name"], clean["date_of_birth"],
                                       clean["gender"])
    return {"existing": None, "duplicates": [existing_summary(m, record=False) for m in matches],
            "offer": None}


def registered_id(form: RecipientForm, national_id: str | None) -> dict | None:
    """The summary of the record already holding ``national_id`` (the field gets its error),
    or None."""
    found = find_by_national_id(national_id)
    if found is None:
        return None
    form.national_id.errors.append(_("Số CCCD/CMND này đã được đăng ký."))
    summary = existing_summary(found)
    summary["national_id"] = national_id  # as typed: a merged record may hold another
    return summary


def existing_summary(recipient: Recipient, record: bool = True) -> dict:
    """What a duplicate check may show of a record (P1). In the account's scope: name, birth
    date, facility and a link. Outside it: the facility only, so that nothing the user did not
    type is echoed (an access event records that it was shown)."""
    readable = policy.scope().contains(recipient.facility_id)
    facility = db.session.get(Facility, recipient.facility_id)  # held already, or one query
    summary = {"in_scope": readable, "facility": facility.name}
    if not readable:
        if record:
            events.record("view_minimal", category="access", entity="recipient",
                          entity_id=recipient.id, facility_id=recipient.facility_id,
                          details={"via": "duplicate_check"})
        return summary
    summary.update(id=recipient.id, full_name=recipient.full_name,
                   date_of_birth=recipient.date_of_birth,
                   url=url_for("recipients.show", recipient_id=recipient.id))
    return summary


def lookup_offer(existing: dict | None) -> dict | None:
    """For a national ID registered outside the account's scope: the cross-facility look-up
    (exact ID, a reason, audited), its form holding the ID to send by POST, never in a URL."""
    if existing is None or existing["in_scope"] or not policy.has_perm(
        current_account(), Perm.cross_facility_lookup
    ):
        return None
    return {"facility": existing["facility"],
            "form": LookupForm(formdata=None, id_number=existing["national_id"])}


def search_lookup_offer(national_id: str) -> dict | None:
    """For a register search by a national ID that found nobody in the account's scope: the
    cross-facility look-up with the ID filled in (sent by POST). Nothing is looked up here,
    so the offer is the same whether or not the ID is registered elsewhere."""
    if not policy.has_perm(current_account(), Perm.cross_facility_lookup):
        return None
    return {"facility": None, "form": LookupForm(formdata=None, id_number=national_id)}
