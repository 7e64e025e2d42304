"""Across facilities: the exact-ID look-up with its reason, and the supervisor's queue of
possible duplicates."""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from vaxportal import htmx, policy, validators
from vaxportal.audit import events
from vaxportal.auth import throttle
from vaxportal.auth.current import current_account
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients import bp, dosing, helpers
from vaxportal.recipients.forms import DoseForm, LookupForm, ResolveForm
from vaxportal.recipients.models import CrossLookup, DuplicateCandidate, Recipient
from vaxportal.recipients.services import find_by_id_number
from vaxportal.timeutil import utcnow

LOOKUP_GRANT = timedelta(minutes=30)


# -- cross-facility look-up ----------------------------------------------------------------


def _lookup_throttled():
    """Too many look-ups by this account for now: the form comes back as typed, with the
    reason, and nothing is looked up or recorded (P1)."""
    form = LookupForm()
    form.form_errors.append(_("Tài khoản đã tra cứu quá nhiều lượt trong thời gian ngắn. "
                              "Những gì bạn đã nhập vẫn còn; vui lòng đợi một lúc rồi gửi lại."))
    return render_template("recipients/lookup.html", form=form, results=None), 429


@bp.route("/lookup", methods=["GET", "POST"])
@permission_required(Perm.cross_facility_lookup)
@throttle.limited_or(throttle.lookup_limits, _lookup_throttled)
def lookup():
    """Exact national ID or insurance number across the platform, with a mandatory reason
    (an access event); the answer is a POST response, never a URL with the number in it."""
    form = LookupForm()
    results = None
    if form.validate_on_submit():
        found = find_by_id_number(form.id_number.data)
        events.record("cross_facility_lookup", category="access", entity="recipient",
                      entity_id=found[0].id if len(found) == 1 else None,
                      facility_id=current_account().facility_id,
                      details={"reason": form.reason.data, "found": [r.id for r in found]})
        results = [_grant(recipient, form.reason.data) for recipient in found]
        db.session.commit()
        helpers.with_doses(found)
    return render_template("recipients/lookup.html", form=form, results=results)


def _grant(recipient: Recipient, reason: str) -> dict:
    token = secrets.token_urlsafe(16)
    db.session.add(CrossLookup(id=token, account_id=current_account().id,
                               recipient_id=recipient.id, reason=reason[:300]))
    return _result(recipient, token)


def _result(recipient: Recipient, token: str, form: DoseForm | None = None, warning=None,
            lot_warning=None):
    own = current_account().facility_id
    may_record = (policy.has_perm(current_account(), Perm.record_doses)
                  and policy.scope().writable.contains(own))
    if may_record and form is None:
        form = dosing.new_dose_form(recipient, own)
    return {
        "recipient": recipient, "token": token, "form": form if may_record else None,
        "warning": warning, "lot_warning": lot_warning,
        "url": url_for("recipients.show", recipient_id=recipient.id)
        if policy.scope().contains(recipient.facility_id) else None,
    }


@bp.post("/lookup/<token>/doses")
@permission_required(Perm.cross_facility_lookup, Perm.record_doses)
def lookup_dose(token: str):
    """A dose given at the account's OWN facility to a person found by the look-up."""
    grant = db.session.get(CrossLookup, token[:32])
    if (grant is None or grant.account_id != current_account().id
            or utcnow() - grant.created_at > LOOKUP_GRANT):
        abort(404)
    own = current_account().facility_id
    if not policy.scope().writable.contains(own):
        abort(404)
    form = dosing.with_choices(DoseForm())
    entry = dosing.enter_dose(form, grant.recipient, own)
    if entry.dose is None:
        helpers.with_doses([grant.recipient])
        results = [_result(grant.recipient, token, form, entry.warning, entry.lot_warning)]
        return render_template("recipients/lookup.html", form=LookupForm(formdata=None),
                               results=results)
    flash(*dosing.commit_entry(entry, form).notice)
    return htmx.redirect_to(url_for("recipients.lookup"))


# -- possible duplicates -------------------------------------------------------------------


#: the queue's two lists: pairs waiting for a decision, and pairs merged (to undo one)
QUEUE_STATUSES = ("open", "merged")


@bp.get("/duplicates")
@permission_required(Perm.resolve_duplicates)
def duplicates():
    scope = policy.scope()
    status = request.args.get("status", "open")
    status = status if status in QUEUE_STATUSES else "open"
    stmt = scope.filter(
        sa.select(DuplicateCandidate).where(DuplicateCandidate.status == status),
        DuplicateCandidate.facility_id,
    ).options(*(joinedload(side).options(joinedload(Recipient.facility),
                                         selectinload(Recipient.doses))
                for side in (DuplicateCandidate.recipient, DuplicateCandidate.other))
    ).order_by(DuplicateCandidate.created_at, DuplicateCandidate.id)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=validators.page_number),
                       per_page=int(current_app.config["PAGE_SIZE"]), error_out=False)
    shown = _facilities(page.items)
    return render_template("recipients/duplicates.html", page=page, form=ResolveForm(),
                           status=status, writable=scope.writable.contains_many(shown),
                           readable=scope.contains_many(shown))


def _facilities(candidates) -> set[int]:
    return {r.facility_id for c in candidates for r in (c.recipient, c.other)}


@bp.post("/duplicates/<int:candidate_id>")
@permission_required(Perm.resolve_duplicates)
def resolve_duplicate(candidate_id: int):
    """Mark a pair as two different people. A merge is chosen field by field on the pair's
    page and needs a fresh OTP (``merge_views.merge_duplicate``)."""
    candidate = policy.get_in_scope_or_404(DuplicateCandidate, candidate_id, write=True)
    decision = ResolveForm().decision.data or ""
    if decision != "distinct":
        abort(400)
    if candidate.status != "open":
        flash(_("Cặp hồ sơ này đã được xử lý."), "info")
        return htmx.redirect_to(url_for("recipients.duplicates"))
    candidate.status = "distinct"
    candidate.resolved_at = utcnow()
    candidate.resolved_by_id = current_account().id
    flash(_("Đã ghi nhận: hai hồ sơ là hai người khác nhau."), "success")
    db.session.commit()
    return htmx.redirect_to(url_for("recipients.duplicates"))
