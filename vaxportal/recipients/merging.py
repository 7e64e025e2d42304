"""Merging a pair of duplicate records field by field, and undoing it.

The supervisor chooses, for every field of ``fields.RECIPIENT``, which record's value the kept
record holds; the chosen values go through the register's rules once
(``services.validate_recipient_data``), every dose of the other record moves to the kept one,
and the other record stays, marked as merged (``merged_into_id``): hidden from the register,
its search and exports, still readable in the audit trail. A ``RecipientMerge`` row keeps
both records' values from before, so the merge can be undone exactly while neither record
has changed since.

Contract::

    rows = comparison(first, second)            # [Row], values shown as the reader may
    picks = default_choices(kept, gone)         # {field key: record id}
    plan = plan_merge(kept, gone, picks)        # .clean (stored values), .errors, .choices
    merge = merge(candidate, kept, gone, plan)  # flushed, not committed; audited
    undo_problem(merge) -> str | None           # why it cannot be undone now
    undo(merge, candidate)                      # UndoRefused; flushed, not committed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from vaxportal import policy
from vaxportal.audit import events
from vaxportal.auth.current import current_account
from vaxportal.extensions import db
from vaxportal.recipients import fields, helpers
from vaxportal.recipients.dosing import recipient_changing
from vaxportal.recipients.models import Dose, DuplicateCandidate, Recipient, RecipientMerge
from vaxportal.recipients.services import validate_recipient_data
from vaxportal.timeutil import utcnow

#: what a merge keeps of each record to put it back: every field, and the older free text
SNAPSHOT_KEYS = (*fields.FIELD_KEYS, "uncoded")


class UndoRefused(Exception):
    """The merge cannot be undone; the message says why, in the reader's language."""


# -- comparing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    label: Any
    values: tuple[str, str]  # as the page shows them (masked for who may not see them)
    same: bool


def shown(key: str, value) -> str:
    """A stored value as the comparison shows it: masked for a reader who may not see
    identifiers in full (``policy.mask_field``), coded values and dates as words."""
    if value is None or value == "":
        return ""
    if not policy.sees_full_identity():
        value = policy.mask_field(key, value)
    return helpers.display(key, value)


def comparison(first: Recipient, second: Recipient) -> list[Row]:
    """Every field of the field spec, side by side."""
    rows = []
    for spec in fields.RECIPIENT:
        one, two = getattr(first, spec.key), getattr(second, spec.key)
        rows.append(Row(spec.key, spec.label, (shown(spec.key, one), shown(spec.key, two)),
                        same=_blank(one) == _blank(two)))
    return rows


def _blank(value):
    return None if value == "" else value


def default_choices(kept: Recipient, gone: Recipient) -> dict[str, int]:
    """The kept record's value, or the other's where the kept one has none."""
    return {key: gone.id if _blank(getattr(kept, key)) is None
            and _blank(getattr(gone, key)) is not None else kept.id
            for key in fields.FIELD_KEYS}


# -- merging -----------------------------------------------------------------------------


@dataclass
class Plan:
    choices: dict[str, int]
    clean: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def plan_merge(kept: Recipient, gone: Recipient, picks: dict[str, int | None]) -> Plan:
    """The values the kept record will hold: per field the picked record's (a pick naming
    neither record falls back to the default), normalised once by the register's rules."""
    defaults = default_choices(kept, gone)
    choices = {key: picks.get(key) if picks.get(key) in (kept.id, gone.id) else defaults[key]
               for key in fields.FIELD_KEYS}
    source = {kept.id: kept, gone.id: gone}
    clean, errors = validate_recipient_data(
        {key: getattr(source[choices[key]], key) for key in fields.FIELD_KEYS})
    return Plan(choices=choices, clean=clean, errors=errors)


def snapshot(recipient: Recipient) -> dict[str, Any]:
    return {key: _to_json(getattr(recipient, key)) for key in SNAPSHOT_KEYS}


def _to_json(value):
    return value.isoformat() if isinstance(value, date) else value


def _from_json(key: str, value):
    if value is not None and key in fields.FIELD_KEYS and fields.spec(key).kind == "date":
        return date.fromisoformat(value)
    return value


def merge(candidate: DuplicateCandidate, kept: Recipient, gone: Recipient,
          plan: Plan) -> RecipientMerge:
    """Merge ``gone`` into ``kept`` as ``plan`` says. Certificates carrying a name or birth
    date the merged record no longer holds are revoked (``recipient_changing``)."""
    account = current_account()
    kept_before, gone_before = snapshot(kept), snapshot(gone)
    changed = {key for key, value in plan.clean.items() if getattr(kept, key) != value}
    differs = {key for key, value in plan.clean.items() if getattr(gone, key) != value}
    gone.merged_into_id = kept.id
    if "national_id" in changed and gone.national_id == plan.clean["national_id"]:
        gone.national_id = None  # a national ID is held by one record: the kept one now
    db.session.flush()
    for key in changed:
        setattr(kept, key, plan.clean[key])
    moved = list(db.session.scalars(
        sa.select(Dose).where(Dose.recipient_id == gone.id).order_by(Dose.given_on, Dose.id)))
    for dose in moved:
        dose.recipient_id = kept.id
    for recipient, keys in ((kept, changed), (gone, differs)):
        if keys:
            recipient_changing.send(recipient, fields=keys)
    db.session.flush()
    db.session.expire(kept, ["doses"])
    db.session.expire(gone, ["doses"])
    row = RecipientMerge(
        candidate_id=candidate.id, kept_id=kept.id, gone_id=gone.id,
        facility_id=kept.facility_id, choices=plan.choices, kept_before=kept_before,
        gone_before=gone_before, moved_dose_ids=sorted(d.id for d in moved),
        kept_version=kept.version_id, gone_version=gone.version_id,
        merged_by_id=account and account.id)
    db.session.add(row)
    _resolve(candidate, "merged", account)
    events.record("merge", category="data", entity="recipient", entity_id=kept.id,
                  facility_id=kept.facility_id,
                  details={"candidate_id": candidate.id, "merged_id": gone.id,
                           "choices": plan.choices, "changed": sorted(changed),
                           "doses_moved": row.moved_dose_ids})
    db.session.flush()
    return row


def _resolve(candidate: DuplicateCandidate, status: str, account) -> None:
    candidate.status = status
    done = status != "open"
    candidate.resolved_at = utcnow() if done else None
    candidate.resolved_by_id = account.id if done and account else None


# -- undoing -------------------------------------------------------------------------------


def last_merge(candidate: DuplicateCandidate) -> RecipientMerge | None:
    """The merge of this pair still in force, if the pair is merged."""
    if candidate.status != "merged":
        return None
    return db.session.scalar(
        sa.select(RecipientMerge).where(RecipientMerge.candidate_id == candidate.id,
                                        RecipientMerge.undone_at.is_(None))
        .options(joinedload(RecipientMerge.kept), joinedload(RecipientMerge.gone))
        .order_by(RecipientMerge.id.desc()).limit(1))


def undo_problem(merge: RecipientMerge) -> str | None:
    """Why the merge cannot be undone now, or None: either record edited since (its version
    moved on), a moved dose deleted, a national ID to give back held by a third record."""
    kept, gone = merge.kept, merge.gone
    if merge.undone_at is not None:
        return _("Lần gộp này đã được hoàn tác.")
    if kept.version_id != merge.kept_version or gone.version_id != merge.gone_version:
        return _("Không thể hoàn tác: hồ sơ đã được sửa sau khi gộp. Hãy sửa lại trực tiếp "
                 "trên hồ sơ nếu cần.")
    ids = merge.moved_dose_ids or []
    still = db.session.scalar(sa.select(sa.func.count()).select_from(Dose).where(
        Dose.id.in_(ids), Dose.recipient_id == kept.id)) if ids else 0
    if still != len(ids):
        return _("Không thể hoàn tác: một mũi tiêm được chuyển khi gộp đã bị xoá hoặc "
                 "chuyển đi sau đó.")
    wanted = {merge.kept_before.get("national_id"), merge.gone_before.get("national_id")}
    wanted.discard(None)
    if wanted and db.session.scalar(sa.select(Recipient.id).where(
            Recipient.national_id.in_(sorted(wanted)),
            Recipient.id.notin_((kept.id, gone.id))).limit(1)):
        return _("Không thể hoàn tác: số CCCD/CMND của một trong hai hồ sơ nay đã thuộc một "
                 "đối tượng khác.")
    return None


def undo(merge: RecipientMerge, candidate: DuplicateCandidate) -> None:
    """Put both records back as they were before the merge, the moved doses with them, and
    the pair back in the queue (``UndoRefused`` when ``undo_problem`` says so)."""
    problem = undo_problem(merge)
    if problem:
        raise UndoRefused(problem)
    account = current_account()
    kept, gone = merge.kept, merge.gone
    changed = {key for key in fields.FIELD_KEYS
               if _to_json(getattr(kept, key)) != merge.kept_before.get(key)}
    _restore(kept, merge.kept_before)
    db.session.flush()  # the kept record gives back a national ID the other one held
    _restore(gone, merge.gone_before)
    gone.merged_into_id = None
    for dose in db.session.scalars(sa.select(Dose).where(Dose.id.in_(merge.moved_dose_ids))):
        dose.recipient_id = gone.id
    if changed:
        recipient_changing.send(kept, fields=changed)
    merge.undone_at = utcnow()
    merge.undone_by_id = account and account.id
    _resolve(candidate, "open", account)
    events.record("unmerge", category="data", entity="recipient", entity_id=kept.id,
                  facility_id=kept.facility_id,
                  details={"candidate_id": candidate.id, "merged_id": gone.id,
                           "merge_id": merge.id, "restored": sorted(changed),
                           "doses_moved_back": merge.moved_dose_ids})
    db.session.flush()
    db.session.expire(kept, ["doses"])
    db.session.expire(gone, ["doses"])


def _restore(recipient: Recipient, values: dict[str, Any]) -> None:
    for key in SNAPSHOT_KEYS:  # ``uncoded`` last: setting a coded field may prune it
        if key in values:
            setattr(recipient, key, _from_json(key, values[key]))
