"""A pair of possible duplicates, field by field: the comparison, the merge and its undo
(supervisors; both records in the write scope; a fresh OTP for the merge and the undo, P3.4,
asked only once the pair is known to lie in scope)."""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from vaxportal import htmx, policy
from vaxportal.audit import events
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients import bp, fields, helpers, merging
from vaxportal.recipients.forms import MergeForm, UndoMergeForm, as_choices
from vaxportal.recipients.models import DuplicateCandidate, Recipient

_SHOWN = (joinedload(Recipient.facility), selectinload(Recipient.doses))


def _pair(candidate_id: int, **_ignored) -> tuple[DuplicateCandidate, Recipient, Recipient]:
    """The candidate and its two records, each in the account's write scope (404 otherwise,
    before any code is asked for: ``fresh_otp_required(load=...)``)."""
    candidate = policy.get_in_scope_or_404(DuplicateCandidate, candidate_id, write=True)
    first, second = (policy.get_in_scope_or_404(Recipient, rid, write=True, options=_SHOWN)
                     for rid in (candidate.recipient_id, candidate.other_id))
    return candidate, first, second


def _merge_form(first: Recipient, second: Recipient, formdata=None) -> MergeForm:
    """The form with each group's two options (the new record's value first); unless posted,
    the older record is kept and each field takes its default."""
    form = MergeForm(formdata=formdata)
    form.keep.choices = as_choices(
        [(r.id, _("Giữ hồ sơ số %(id)s", id=r.id)) for r in (first, second)])
    kept_id = form.keep.data if form.keep.data in (first.id, second.id) else second.id
    form.keep.data = kept_id
    kept, gone = (first, second) if kept_id == first.id else (second, first)
    defaults = merging.default_choices(kept, gone)
    for row in merging.comparison(first, second):
        pick = form[f"pick_{row.key}"]
        pick.choices = as_choices([(first.id, row.values[0] or _("(trống)")),
                                   (second.id, row.values[1] or _("(trống)"))])
        if pick.data not in (first.id, second.id):
            pick.data = defaults[row.key]
    if formdata is None:
        form.recipient_version.data = str(first.version_id)
        form.other_version.data = str(second.version_id)
    return form


def _page(candidate, first, second, form=None, status: int = 200):
    merge = merging.last_merge(candidate)
    form = form if form is not None else _merge_form(first, second)
    return render_template(
        "recipients/duplicate.html", candidate=candidate, pair=(first, second),
        rows=merging.comparison(first, second), form=form, merge=merge,
        mergeable=candidate.status == "open" and not _merged_elsewhere(first, second),
        undo_form=UndoMergeForm(formdata=None),
        undo_problem=merge and merging.undo_problem(merge)), status


@bp.get("/duplicates/<int:candidate_id>")
@permission_required(Perm.resolve_duplicates)
def duplicate(candidate_id: int):
    """The two records side by side, each field with the choice of the value to keep."""
    candidate, first, second = _pair(candidate_id)
    for recipient in (first, second):
        events.record("view_identity", category="access", entity="recipient",
                      entity_id=recipient.id, facility_id=recipient.facility_id,
                      details={"via": "duplicate_compare", "candidate_id": candidate.id})
    page = _page(candidate, first, second)
    db.session.commit()  # after rendering: a commit would expire what the page shows
    return page


def _merged_elsewhere(*records: Recipient) -> bool:
    """A record of the pair was merged into another record since the pair was queued."""
    return any(record.merged_into_id for record in records)


def _stale(form: MergeForm, first: Recipient, second: Recipient) -> bool:
    posted = [(f.raw_data or [""])[0].strip() for f in (form.recipient_version,
                                                         form.other_version)]
    return posted != [str(first.version_id), str(second.version_id)]


@bp.post("/duplicates/<int:candidate_id>/merge")
@permission_required(Perm.resolve_duplicates)
@fresh_otp_required(load=_pair)
def merge_duplicate(candidate_id: int):
    """Merge as chosen: the kept record takes the chosen values, the other's doses move to
    it, the other stays as merged (P2.4: audited by the hook, and a ``merge`` event)."""
    candidate, first, second = _pair(candidate_id)
    back = url_for("recipients.duplicate", candidate_id=candidate.id)
    if candidate.status != "open":
        flash(_("Cặp hồ sơ này đã được xử lý."), "info")
        return htmx.redirect_to(back)
    if _merged_elsewhere(first, second):
        flash(_("Một hồ sơ của cặp này đã được gộp vào hồ sơ khác: không thể gộp nữa."),
              "error")
        return htmx.redirect_to(back)
    form = _merge_form(first, second, request.form)
    if _stale(form, first, second):
        form.form_errors.append(_("Một trong hai hồ sơ vừa được sửa (hoặc trang đã cũ): hãy "
                                  "xem lại các giá trị bên dưới rồi gộp lại."))
        form.recipient_version.data = str(first.version_id)
        form.other_version.data = str(second.version_id)
        return _page(candidate, first, second, form, 409)
    kept, gone = (first, second) if form.keep.data == first.id else (second, first)
    plan = merging.plan_merge(kept, gone, {key: form[f"pick_{key}"].data
                                           for key in fields.FIELD_KEYS})
    if plan.errors:
        form.form_errors.extend(f"{fields.spec(key).label}: {message}"
                                for key, message in plan.errors.items())
        return _page(candidate, first, second, form, 400)
    merge = merging.merge(candidate, kept, gone, plan)
    moved = len(merge.moved_dose_ids)
    if not helpers.commit_or_stale():
        abort(409)
    flash(_("Đã gộp hồ sơ; %(n)s mũi tiêm được chuyển sang hồ sơ giữ lại.", n=moved),
          "success")
    return htmx.redirect_to(back)


@bp.post("/duplicates/<int:candidate_id>/undo")
@permission_required(Perm.resolve_duplicates)
@fresh_otp_required(load=_pair)
def undo_merge(candidate_id: int):
    """Undo the pair's merge: both records as they were, the doses back, the pair back in
    the queue; refused (and said why) when either record changed since."""
    candidate, _first, _second = _pair(candidate_id)
    back = url_for("recipients.duplicate", candidate_id=candidate.id)
    merge = merging.last_merge(candidate)
    if merge is None:
        flash(_("Cặp hồ sơ này không ở trạng thái đã gộp; không có gì để hoàn tác."), "info")
        return htmx.redirect_to(back)
    try:
        merging.undo(merge, candidate)
    except merging.UndoRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return htmx.redirect_to(back)
    if not helpers.commit_or_stale():
        flash(_("Không thể hoàn tác: hồ sơ vừa được sửa. Vui lòng thử lại."), "error")
        return htmx.redirect_to(back)
    flash(_("Đã hoàn tác việc gộp: hai hồ sơ trở lại như trước và cặp trở lại hàng chờ."),
          "success")
    return htmx.redirect_to(back)
