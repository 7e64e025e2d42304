"""The supervisor's queue of possible duplicates: merge keeps both histories, or distinct."""

from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import add_dose, html
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate


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
    assert f'href="/recipients/duplicates/{pair[2].id}"' in body  # compare and merge
    assert 'value="distinct"' in body


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


def test_mark_distinct(supervisor, pair):
    candidate = pair[2]
    supervisor.post(f"/recipients/duplicates/{candidate.id}", data={"decision": "distinct"})
    db.session.expire_all()
    row = db.session.get(DuplicateCandidate, candidate.id)
    assert row.status == "distinct" and row.resolved_by_id == supervisor.account.id
    assert "LE VAN TRUNG" not in html(supervisor.get("/recipients/duplicates"))


def test_p3_4_the_queue_button_merges_nothing(supervisor, pair, person):
    """A merge is chosen on the pair's page behind a fresh OTP (tests/recipients/
    test_merge.py); the queue's button only marks a pair distinct."""
    stranger = person("s1")
    response = supervisor.post(f"/recipients/duplicates/{pair[2].id}",
                               data={"decision": f"keep:{stranger.id}"})
    assert response.status_code == 400
    for decision in (f"keep:{pair[0].id}", "merge", ""):
        response = supervisor.post(f"/recipients/duplicates/{pair[2].id}",
                                   data={"decision": decision})
        assert response.status_code == 400, decision
    db.session.expire_all()
    assert db.session.get(DuplicateCandidate, pair[2].id).status == "open"
    assert pair[1].merged_into_id is None


def test_p1_the_queue_names_only_the_facility_of_a_record_outside_the_scope(supervisor, person):
    """A pair whose older record lies in another district (found by registration or the scan)
    shows that record's facility and nothing of the person: no name, birth date, gender,
    identifier or dose count the supervisor did not type (issue 11, item 3)."""
    far = person("s2", full_name="Phạm Thị Xa", national_id="089085999111",
                 date_of_birth=date(1961, 2, 3))
    near = person("s1", full_name="Phạm Thị Gần", national_id=None)
    db.session.add(DuplicateCandidate(recipient_id=near.id, other_id=far.id,
                                      facility_id=near.facility_id))
    db.session.commit()
    body = html(supervisor.get("/recipients/duplicates"))
    assert "Phạm Thị Gần" in body and far.facility.name in body
    for leaked in ("Phạm Thị Xa", "03/02/1961", "999111", "089085"):
        assert leaked not in body
    assert "Ngoài phạm vi của bạn" in body
