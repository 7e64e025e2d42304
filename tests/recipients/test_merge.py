"""The duplicates queue merges field by field (issue 15): the supervisor compares the two
records, chooses the value of each field, the doses all move, the other record stays as
merged; a fresh OTP (P3.4), the subtree's scope (P1), audited (P2.4), undoable; and the
periodic scan that feeds the queue."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import selectinload

from tests.helpers import (
    add_dose,
    audit,
    audit_rows,
    fresh_otp,
    hidden_inputs,
    html,
    issue,
    reload,
    session_row,
)
from tests.settings import PG_URI
from vaxportal import jobs
from vaxportal.audit import chain
from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.recipients import fields, merging, scan
from vaxportal.recipients.models import Dose, DuplicateCandidate, Recipient, RecipientMerge
from vaxportal.recipients.search import RegisterFilter


@pytest.fixture
def config(config):
    """The periodic scan on (the suite's settings keep it off elsewhere)."""
    return {**config, "DUPLICATES_SCAN_EVERY_MINUTES": 30}


@pytest.fixture
def pair(person):
    """An older record at S1 and a newer one at S1B of the same man, each with a dose; they
    differ in name spelling, national ID, phone, insurance number, occupation and street."""
    old = person("s1", full_name="Lê Văn Trùng", phone="+84912000111", occupation="Nông dân",
                 street="Ấp 1")
    new = person("s1b", full_name="LE VAN TRUNG", phone="+84987000222",
                 insurance_number="HS4890123456789", occupation=None, street="Ấp 2")
    add_dose(old, "AZ", date(2021, 6, 1), number=1)
    add_dose(new, "AZ", date(2021, 7, 1), number=2, lot="AZ-2")
    candidate = DuplicateCandidate(recipient_id=new.id, other_id=old.id,
                                   facility_id=new.facility_id)
    db.session.add(candidate)
    db.session.commit()
    return old, new, candidate


def _form(client, candidate) -> dict:
    """The comparison page's form as the browser would send it untouched."""
    page = html(client.get(f"/recipients/duplicates/{candidate.id}"))
    data = hidden_inputs(page)
    data.pop("csrf_token", None)
    for key in ("keep", *(f"pick_{k}" for k in fields.FIELD_KEYS)):
        checked = _checked(page, key)
        if checked is not None:
            data[key] = checked
    return data


def _checked(page: str, name: str) -> str | None:
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag and "checked" in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def _merge(client, candidate, **picks):
    data = _form(client, candidate)
    data.update({key: str(value) for key, value in picks.items()})
    return client.post(f"/recipients/duplicates/{candidate.id}/merge", data=data)


def _state(*recipients) -> dict:
    """Every field of each record, its merge mark and version-free dose ownership."""
    db.session.expire_all()
    out = {}
    for recipient in recipients:
        row = db.session.get(Recipient, recipient.id, options=[selectinload(Recipient.doses)],
                             populate_existing=True)
        out[row.id] = ({key: getattr(row, key) for key in (*fields.FIELD_KEYS, "uncoded",
                                                          "merged_into_id", "name_key")},
                       sorted(d.id for d in row.doses))
    return out


# -- the comparison ----------------------------------------------------------------------------


def test_the_pair_is_compared_field_by_field_with_a_choice_per_field(supervisor, pair):
    old, new, candidate = pair
    page = html(supervisor.get(f"/recipients/duplicates/{candidate.id}"))
    for spec in fields.RECIPIENT:
        assert str(spec.label) in page, spec.key
    assert "+84912000111" in page and "+84987000222" in page
    # differing fields get a choice: by default the kept (older) record's value, or the
    # other's where the kept one is empty
    assert _checked(page, "keep") == str(old.id)
    assert _checked(page, "pick_phone") == str(old.id)
    assert _checked(page, "pick_insurance_number") == str(new.id)
    assert _checked(page, "pick_gender") is None  # the same on both: nothing to choose
    # the queue links to it
    assert f"/recipients/duplicates/{candidate.id}" in html(
        supervisor.get("/recipients/duplicates"))


def test_p1_identifiers_masked_for_a_reader_who_may_not_see_them(pair, app, monkeypatch):
    old, new, _candidate = pair
    monkeypatch.setattr("vaxportal.policy.sees_full_identity", lambda: False)
    with app.test_request_context():
        rows = {row.key: row for row in merging.comparison(new, old)}
    assert rows["phone"].values == ("*********222", "*********111")
    assert rows["full_name"].values == ("LE VAN TRUNG", "Lê Văn Trùng")


# -- merging ---------------------------------------------------------------------------------


def test_p3_4_merge_needs_a_fresh_otp(supervisor, pair, outbox):
    old, new, candidate = pair
    before = _state(old, new)
    response = _merge(supervisor, candidate)
    assert response.status_code == 200 and 'name="stepup_code"' in html(response)
    assert _state(old, new) == before
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"
    fresh_otp(supervisor)
    assert _merge(supervisor, candidate).status_code == 303
    assert db.session.get(DuplicateCandidate, candidate.id).status == "merged"


def test_merge_keeps_every_dose_and_every_field_chosen(supervisor, pair):
    """The second record's phone (and name spelling, street) can be kept."""
    old, new, candidate = pair
    doses = sorted(d.id for d in db.session.scalars(sa.select(Dose)))
    second_id = new.national_id
    fresh_otp(supervisor)
    response = _merge(supervisor, candidate, keep=old.id, pick_phone=new.id,
                      pick_full_name=new.id, pick_street=new.id, pick_national_id=new.id)
    assert response.status_code == 303
    db.session.expire_all()
    kept, gone = (db.session.get(Recipient, r.id, options=[selectinload(Recipient.doses)],
                                 populate_existing=True) for r in (old, new))
    assert kept.phone == "+84987000222" and kept.full_name == "LE VAN TRUNG"
    assert kept.street == "Ấp 2" and kept.occupation == "Nông dân"
    assert kept.insurance_number == "HS4890123456789"  # the empty one took the other's
    assert kept.national_id == second_id and gone.national_id is None
    assert sorted(d.id for d in kept.doses) == doses and gone.doses == []
    assert gone.merged_into_id == kept.id and gone.full_name == "LE VAN TRUNG"
    merge = db.session.scalar(sa.select(RecipientMerge))
    assert merge.choices["phone"] == new.id and merge.choices["occupation"] == old.id
    assert "Đã gộp hồ sơ; 1 mũi tiêm" in html(supervisor.get(response.headers["Location"]))


def test_merged_record_leaves_the_register_and_search_but_is_kept(supervisor, pair):
    old, new, candidate = pair
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id)
    db.session.expire_all()
    names = [r.full_name for r in db.session.scalars(
        RegisterFilter(q="le van trung").statement(supervisor.account))]
    assert names == ["Lê Văn Trùng"]
    page = html(supervisor.post("/recipients/", data={"q": "le van trung"},
                                follow_redirects=True))
    assert f'href="/recipients/{old.id}"' in page and f'href="/recipients/{new.id}"' not in page
    gone = html(supervisor.get(f"/recipients/{new.id}"))  # kept, readable, pointing on
    assert "đã được gộp" in gone and f'href="/recipients/{old.id}"' in gone
    assert db.session.get(Recipient, new.id) is not None


def test_p2_4_merge_is_audited_with_the_field_choices(supervisor, pair):
    old, new, candidate = pair
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id, pick_phone=new.id)
    event = audit("merge")[-1]
    assert event.entity_id == str(old.id) and event.details["merged_id"] == new.id
    assert event.details["choices"]["phone"] == new.id and "phone" in event.details["changed"]
    assert event.account_id == supervisor.account.id
    # the data rows come from the session hook: both records, the moved dose, the merge row
    entities = {(row.entity, row.entity_id) for row in audit_rows(category="data")
                if row.action == "update"}
    assert {("recipient", str(old.id)), ("recipient", str(new.id))} <= entities
    assert any(row.entity == "dose" for row in audit_rows(action="update"))
    assert audit_rows(entity="recipient_merge", action="insert")


def test_certificates_carrying_a_changed_name_are_revoked(supervisor, nurse, pair):
    old, new, candidate = pair
    certificate = issue(nurse, old)  # the nurse of S1, where the old record lives
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id, pick_full_name=new.id)
    assert db.session.get(Certificate, certificate.id).revoked_at is not None


def test_a_certificate_keeps_when_name_and_birth_date_stay(supervisor, nurse, pair):
    old, new, candidate = pair
    certificate = issue(nurse, old)
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id, pick_phone=new.id)
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).revoked_at is None


def test_a_stale_form_merges_nothing(supervisor, pair):
    old, new, candidate = pair
    data = _form(supervisor, candidate)
    new.occupation = "Giáo viên"  # someone saved the newer record meanwhile
    db.session.commit()
    fresh_otp(supervisor)
    response = supervisor.post(f"/recipients/duplicates/{candidate.id}/merge", data=data)
    assert response.status_code == 409 and "vừa được sửa" in html(response)
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"


# -- access ------------------------------------------------------------------------------------


def test_p1_a_supervisor_of_another_district_gets_404_and_no_code(signed_in, place, pair,
                                                                  outbox):
    old, new, candidate = pair
    other = signed_in("supervisor", facility=place["d2"])
    assert other.get(f"/recipients/duplicates/{candidate.id}").status_code == 404
    for action in ("merge", "undo"):
        response = other.post(f"/recipients/duplicates/{candidate.id}/{action}",
                              data={"keep": str(new.id)})
        assert response.status_code == 404, action
    assert outbox() == []  # the scope is checked before any step-up code is sent
    fresh_otp(other)
    assert other.post(f"/recipients/duplicates/{candidate.id}/merge").status_code == 404
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"


def test_p1_a_pair_reaching_outside_the_subtree_is_not_shown(supervisor, person, place):
    mine, theirs = person("s1"), person("s2")
    candidate = DuplicateCandidate(recipient_id=mine.id, other_id=theirs.id,
                                   facility_id=mine.facility_id)
    db.session.add(candidate)
    db.session.commit()
    assert supervisor.get(f"/recipients/duplicates/{candidate.id}").status_code == 404


def test_data_entry_and_reviewer_cannot_merge(nurse, reviewer, pair):
    """Resolving duplicates is the supervisor's permission (``policy.ROLE_PERMS``)."""
    candidate = pair[2]
    for client in (nurse, reviewer):
        fresh_otp(client)
        assert client.get(f"/recipients/duplicates/{candidate.id}").status_code == 403
        for action in ("merge", "undo"):
            assert client.post(f"/recipients/duplicates/{candidate.id}/{action}").status_code \
                == 403
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"


# -- undo --------------------------------------------------------------------------------------


def _undo(client, candidate):
    return client.post(f"/recipients/duplicates/{candidate.id}/undo")


def test_p3_4_undo_needs_a_fresh_otp_and_restores_the_queue(supervisor, pair):
    old, new, candidate = pair
    before = _state(old, new)
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id, pick_phone=new.id, pick_national_id=new.id)
    row = session_row(supervisor)  # the code of the merge is no longer fresh
    row.step_up_at = None
    db.session.commit()
    response = _undo(supervisor, candidate)
    assert 'name="stepup_code"' in html(response)
    assert db.session.get(DuplicateCandidate, candidate.id).status == "merged"
    fresh_otp(supervisor)
    response = _undo(supervisor, candidate)
    assert response.status_code == 303
    assert "Đã hoàn tác" in html(supervisor.get(response.headers["Location"]))
    assert _state(old, new) == before
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"
    assert "LE VAN TRUNG" in html(supervisor.get("/recipients/duplicates"))
    event = audit("unmerge")[-1]
    assert event.details["merged_id"] == new.id and event.account_id == supervisor.account.id


@settings(max_examples=2, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep_new=st.booleans(),
       picks=st.fixed_dictionaries({key: st.booleans() for key in fields.FIELD_KEYS}))
def test_undo_restores_exactly_whatever_was_chosen(supervisor, pair, keep_new, picks):
    old, new, candidate = pair
    before = _state(old, new)
    fresh_otp(supervisor)
    kept = new if keep_new else old
    data = {f"pick_{key}": str((new if take_new else old).id) for key, take_new in picks.items()}
    data.update(keep=str(kept.id), recipient_version=str(reload(new).version_id),
                other_version=str(reload(old).version_id))
    response = supervisor.post(f"/recipients/duplicates/{candidate.id}/merge", data=data)
    assert response.status_code == 303
    assert _state(old, new) != before
    assert _undo(supervisor, candidate).status_code == 303
    assert _state(old, new) == before
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"


def test_undo_is_refused_when_a_record_changed_since_the_merge(supervisor, pair):
    old, new, candidate = pair
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id)
    kept = db.session.get(Recipient, old.id)
    kept.occupation = "Thợ may"
    db.session.commit()
    after_edit = _state(old, new)
    response = _undo(supervisor, candidate)
    assert response.status_code == 303
    page = html(supervisor.get(response.headers["Location"]))
    assert "Không thể hoàn tác: hồ sơ đã được sửa sau khi gộp" in page
    assert _state(old, new) == after_edit
    assert db.session.get(DuplicateCandidate, candidate.id).status == "merged"


def test_undo_is_refused_when_a_moved_dose_was_deleted(supervisor, pair):
    old, new, candidate = pair
    moved = db.session.scalar(sa.select(Dose).where(Dose.recipient_id == new.id))
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id)
    response = supervisor.post(f"/recipients/doses/{moved.id}/delete",
                               data={"reason": "Nhập nhầm mũi", "version_id": "2"})
    assert response.status_code == 303, html(response)
    page = html(supervisor.get(_undo(supervisor, candidate).headers["Location"]))
    assert "mũi tiêm được chuyển khi gộp đã bị xoá" in page


# -- the distinct decision and the quality list ----------------------------------------------


def test_quality_list_leaves_out_pairs_decided_distinct_or_merged(supervisor, pair, person,
                                                                  place):
    old, new, candidate = pair
    third = person("s1", full_name="Trần Thị Ba", date_of_birth=date(1990, 1, 1),
                   gender="female")
    fourth = person("s1", full_name="Tran Thi Ba", date_of_birth=date(1990, 1, 1),
                    gender="female")
    url = f"/reports/f/{place['d1'].id}/quality?check=twice"
    page = html(supervisor.get(url))
    assert "Lê Văn Trùng" in page and "Trần Thị Ba" in page
    supervisor.post(f"/recipients/duplicates/{candidate.id}", data={"decision": "distinct"})
    page = html(supervisor.get(url))
    assert "Lê Văn Trùng" not in page and "Trần Thị Ba" in page
    db.session.add(DuplicateCandidate(recipient_id=fourth.id, other_id=third.id,
                                      facility_id=third.facility_id))
    db.session.commit()
    pair2 = db.session.scalar(sa.select(DuplicateCandidate).where(
        DuplicateCandidate.recipient_id == fourth.id))
    fresh_otp(supervisor)
    assert _merge(supervisor, pair2).status_code == 303
    assert "Trần Thị Ba" not in html(supervisor.get(url))


# -- the periodic scan -------------------------------------------------------------------------


@pytest.fixture
def unqueued(person):
    """Two records of one woman never queued, a pair decided distinct, a merged record."""
    a = person("s1", full_name="Đỗ Thị Quên", gender="female", date_of_birth=date(1960, 3, 3))
    b = person("s2", full_name="DO THI QUEN", gender="female", date_of_birth=date(1960, 3, 3))
    c = person("s1", full_name="Võ Văn Khác")
    d = person("s1b", full_name="Vo Van Khac")
    db.session.add(DuplicateCandidate(recipient_id=d.id, other_id=c.id,
                                      facility_id=d.facility_id, status="distinct"))
    e = person("s1", full_name="Đỗ Thị Quên", gender="female", date_of_birth=date(1960, 3, 3))
    e.merged_into_id = a.id
    db.session.commit()
    return a, b


def _queued() -> list[tuple[int, int, int, str]]:
    db.session.expire_all()
    return [(c.recipient_id, c.other_id, c.facility_id, c.status) for c in db.session.scalars(
        sa.select(DuplicateCandidate).order_by(DuplicateCandidate.id))]


def test_scan_queues_new_pairs_once_never_a_decided_one(runner, unqueued):
    a, b = unqueued
    before = _queued()
    result = runner.invoke(args=["duplicates", "scan"])
    assert result.exit_code == 0, result.output
    assert "Đã thêm 1 cặp hồ sơ nghi trùng" in result.output
    assert _queued() == [*before, (b.id, a.id, b.facility_id, "open")]
    again = runner.invoke(args=["duplicates", "scan"])
    assert "Đã thêm 0 cặp" in again.output and len(_queued()) == len(before) + 1


def test_scan_never_re_adds_a_merged_pair(supervisor, pair, runner):
    old, new, candidate = pair
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id)
    assert "Đã thêm 0 cặp" in runner.invoke(args=["duplicates", "scan"]).output
    assert _undo(supervisor, candidate).status_code == 303  # back in the queue, once
    assert "Đã thêm 0 cặp" in runner.invoke(args=["duplicates", "scan"]).output


def test_scan_runs_as_a_scheduled_job(app, unqueued):
    a, b = unqueued
    started = jobs.enqueue_due(app)  # sync mode (tests): ran at once
    assert scan.JOB in started
    assert (b.id, a.id, b.facility_id, "open") in _queued()
    assert scan.JOB not in jobs.enqueue_due(app)  # not again within the period


def _twins(person, count: int) -> list:
    """``count`` pairs of records of one person each, never queued."""
    made = []
    for n in range(count):
        born = date(1950 + n, 1, 2)
        made.append((person("s1", full_name=f"Lý Thị Sinh {n}", gender="female",
                            date_of_birth=born),
                     person("s2", full_name=f"LY THI SINH {n}", gender="female",
                            date_of_birth=born)))
    db.session.commit()
    return made


def test_scan_queues_its_pairs_a_batch_a_commit(runner, person, monkeypatch):
    """A province's first scan found 20,719 pairs and held them all, with their audit rows,
    in one transaction of a web worker (99 -> 228 MB): the pairs are read as a stream and
    queued ``SCAN_BATCH`` at a time, each batch committed."""
    twins = _twins(person, 5)
    monkeypatch.setattr(scan, "SCAN_BATCH", 2)
    commits = []

    def committed(session):
        commits.append(session)

    sa.event.listen(db.session, "after_commit", committed)
    try:
        result = runner.invoke(args=["duplicates", "scan"])
    finally:
        sa.event.remove(db.session, "after_commit", committed)
    assert "Đã thêm 5 cặp" in result.output, result.output
    assert len(commits) == 3  # 2 + 2 + 1
    assert {(r, o) for r, o, _f, _s in _queued()} >= {(b.id, a.id) for a, b in twins}


def test_two_scans_at_once_queue_each_pair_once(runner, person, monkeypatch):
    """Two web workers in thread mode each run the schedule; the command may run beside
    them: a pair another scan queued after this one read its stream is not queued again,
    in either order (a province's first run under two workers queued each pair twice)."""
    (a, b), (c, d) = _twins(person, 2)
    queue = scan._queue

    def the_other_scan_first(pairs):
        # its own connection and commit, as another process (test data: not audited here)
        with chain.writing(), db.engine.begin() as other:
            other.execute(sa.insert(DuplicateCandidate.__table__), [
                {"recipient_id": b.id, "other_id": a.id, "facility_id": b.facility_id,
                 "status": "open"},
                {"recipient_id": c.id, "other_id": d.id, "facility_id": c.facility_id,
                 "status": "open"}])
        return queue(pairs)

    monkeypatch.setattr(scan, "_queue", the_other_scan_first)
    result = runner.invoke(args=["duplicates", "scan"])
    assert "Đã thêm 0 cặp" in result.output, result.output
    pairs = [(r, o) for r, o, _f, _s in _queued()]
    assert pairs.count((b.id, a.id)) == 1 and (d.id, c.id) not in pairs


def test_p1_the_merge_row_in_the_audit_is_masked_for_a_reviewer(supervisor, reviewer, pair):
    """The before-values the merge keeps are personal data: the audit shows them to a
    reviewer masked like every identifier (``policy.mask_field``)."""
    old, new, candidate = pair
    phone = old.phone
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id, pick_phone=new.id)
    row = audit_rows(entity="recipient_merge", action="insert")[0]
    page = html(reviewer.get(f"/audit/{row.id}"))
    assert reviewer.get(f"/audit/{row.id}").status_code == 200
    assert phone not in page and phone[-3:] in page
    assert phone in html(supervisor.get(f"/audit/{row.id}"))


def test_a_record_merged_through_another_pair_is_not_merged_again(supervisor, pair, person):
    old, new, candidate = pair
    third = person("s1", full_name="Lê Văn Trùng")
    other_pair = DuplicateCandidate(recipient_id=new.id, other_id=third.id,
                                    facility_id=new.facility_id)
    db.session.add(other_pair)
    db.session.commit()
    data = _form(supervisor, other_pair)
    fresh_otp(supervisor)
    _merge(supervisor, candidate, keep=old.id)  # the newer record goes into the older one
    assert "đã được gộp vào hồ sơ khác" in html(
        supervisor.get(f"/recipients/duplicates/{other_pair.id}"))
    response = supervisor.post(f"/recipients/duplicates/{other_pair.id}/merge", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Recipient, new.id).merged_into_id == old.id
    assert db.session.get(DuplicateCandidate, other_pair.id).status == "open"


# -- a pair queued twice (before each scan's batch was read under the chain's lock) -------------


@pytest.fixture
def pair_index_dropped(app):
    """The queue as two scans at once could leave it: the pair's unique index dropped for the
    test (made again afterwards on PostgreSQL, whose schema the next test reuses)."""
    db.session.execute(sa.text("DROP INDEX uq_duplicate_candidate_pair"))
    db.session.commit()
    yield
    db.session.rollback()
    if PG_URI:
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM recipient_merge; DELETE FROM duplicate_candidate")
            cursor.execute("CREATE UNIQUE INDEX IF NOT EXISTS uq_duplicate_candidate_pair "
                           "ON duplicate_candidate (recipient_id, other_id)")
            raw.commit()
        finally:
            raw.close()


def _queue_again(*pairs) -> list[DuplicateCandidate]:
    rows = [DuplicateCandidate(recipient_id=a.id, other_id=b.id, facility_id=a.facility_id,
                               status=status) for a, b, status in pairs]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_a_pair_is_queued_once_the_database_refuses_a_second_row(pair):
    old, new, _candidate = pair
    with pytest.raises(sa.exc.IntegrityError):
        _queue_again((new, old, "open"))
    db.session.rollback()


def test_doubled_pairs_are_removed_keeping_the_decided_row_audited(supervisor, pair, person,
                                                                   pair_index_dropped):
    """P2.4: the rows of a pair queued twice or more (in either order) are removed, each
    removal in the audit trail; the pair's decided row stays, else its first; a merge that
    named a removed row names the one that stays, and can still be undone; then the unique
    index can be made, as the migration ``pairs01`` makes it."""
    old, new, candidate = pair
    fresh_otp(supervisor)
    assert _merge(supervisor, candidate, keep=old.id).status_code == 303
    a = person("s1", full_name="Hồ Thị Hai", date_of_birth=date(1970, 2, 2), gender="female")
    b = person("s2", full_name="HO THI HAI", date_of_birth=date(1970, 2, 2), gender="female")
    c = person("s1", full_name="Mai Văn Ba")
    d = person("s1b", full_name="MAI VAN BA")
    twice_merged, first_open, *others = _queue_again(
        (new, old, "merged"), (b, a, "open"), (b, a, "open"), (a, b, "open"),
        (c, d, "open"), (d, c, "distinct"))
    merge = db.session.scalar(sa.select(RecipientMerge))
    merge.candidate_id = twice_merged.id  # the merge names the pair's later row
    db.session.commit()
    before = len(_queued())

    assert scan.remove_doubled_pairs(db.session) == 4
    db.session.commit()
    queued = _queued()
    assert len(queued) == before - 4
    assert sorted(queued) == sorted([(new.id, old.id, new.facility_id, "merged"),
                                     (b.id, a.id, b.facility_id, "open"),
                                     (d.id, c.id, d.facility_id, "distinct")])
    kept = {row.id for row in db.session.scalars(sa.select(DuplicateCandidate))}
    assert candidate.id in kept and first_open.id in kept
    assert db.session.scalar(sa.select(RecipientMerge.candidate_id)) == candidate.id
    removed = audit_rows(entity="duplicate_candidate", action="delete")
    assert sorted(int(event.entity_id) for event in removed) == sorted(
        [twice_merged.id, *(row.id for row in others[:3])])
    assert chain.verify(db.session.connection(), checkpoints=[]).reason in (None,
                                                                            "no_checkpoint")
    db.session.execute(sa.text("CREATE UNIQUE INDEX uq_duplicate_candidate_pair "
                               "ON duplicate_candidate (recipient_id, other_id)"))
    db.session.commit()
    fresh_otp(supervisor)
    assert _undo(supervisor, candidate).status_code == 303
    assert db.session.get(DuplicateCandidate, candidate.id).status == "open"
    assert scan.remove_doubled_pairs(db.session) == 0
