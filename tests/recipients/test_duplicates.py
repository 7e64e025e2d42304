"""The supervisor's queue of possible duplicates: merge keeps both histories, or distinct."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.helpers import add_dose, html
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate, Recipient
from vaxportal.recipients.search import RegisterFilter


@pytest.fixture
def pair(person):
    old = person("s1", full_name="Lê Văn Trùng")
    new = person("s1b", full_name="LE VAN TRUNG", national_id=None)
    add_dose(old, "AZ", date(2021, 6, 1), number=1)
    add_dose(new, "AZ", date(2021, 7, 1), number=2, lot="AZ-2")
    candidate = DuplicateCandidate(recipient_id=new.id, other_id=old.id,
                                   facility_id=new.facility_id)
    db.session.add(candidate)
    db.session.commit()
    return old, new, candidate


def test_queue_lists_open_pairs_in_scope(supervisor, pair):
    body = html(supervisor.get("/recipients/duplicates"))
    assert "Lê Văn Trùng" in body and "LE VAN TRUNG" in body
    assert 'value="keep:' in body and 'value="distinct"' in body


def test_queue_is_for_supervisors(nurse, signed_in, place, pair):
    assert nurse.get("/recipients/duplicates").status_code == 403
    reviewer = signed_in("reviewer", facility=place["doh"])
    assert reviewer.get("/recipients/duplicates").status_code == 403


def test_p1_supervisor_outside_the_subtree_refused(signed_in, place, pair):
    other = signed_in("supervisor", facility=place["d2"])
    assert "LE VAN TRUNG" not in html(other.get("/recipients/duplicates"))
    response = other.post(f"/recipients/duplicates/{pair[2].id}", data={"decision": "distinct"})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(DuplicateCandidate, pair[2].id).status == "open"


def test_merge_moves_doses_to_the_kept_record_and_is_audited(supervisor, pair):
    old, new, candidate = pair
    response = supervisor.post(f"/recipients/duplicates/{candidate.id}",
                               data={"decision": f"keep:{old.id}"})
    assert response.status_code == 303
    db.session.expire_all()
    kept, gone = db.session.get(Recipient, old.id), db.session.get(Recipient, new.id)
    assert [d.dose_number for d in kept.doses] == [1, 2]
    assert gone.doses == [] and gone.merged_into_id == kept.id
    assert db.session.get(DuplicateCandidate, candidate.id).status == "merged"
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "merge_recipients"))
    assert event.entity_id == str(kept.id) and event.details["merged_id"] == gone.id
    # the merged record leaves the register; its page points to the kept one
    names = [r.full_name for r in db.session.scalars(
        RegisterFilter(q="le van trung").statement(supervisor.account))]
    assert names == ["Lê Văn Trùng"]
    assert f'href="/recipients/{kept.id}"' in html(supervisor.get(f"/recipients/{gone.id}"))


def test_mark_distinct(supervisor, pair):
    candidate = pair[2]
    supervisor.post(f"/recipients/duplicates/{candidate.id}", data={"decision": "distinct"})
    db.session.expire_all()
    row = db.session.get(DuplicateCandidate, candidate.id)
    assert row.status == "distinct" and row.resolved_by_id == supervisor.account.id
    assert "LE VAN TRUNG" not in html(supervisor.get("/recipients/duplicates"))


def test_merge_refuses_a_record_outside_the_pair(supervisor, pair, person):
    stranger = person("s1")
    response = supervisor.post(f"/recipients/duplicates/{pair[2].id}",
                               data={"decision": f"keep:{stranger.id}"})
    assert response.status_code == 400
