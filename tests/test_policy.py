"""The policy module: the role table and the scope rule (P1, P2.1, P2.2)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation, Facility
from vaxportal.policy import (
    DATA_PERMS,
    ROLE_PERMS,
    Perm,
    Scope,
    forget_scopes,
    has_perm,
    in_scope,
    mask_identifier,
    scope,
    scope_facility_ids,
    sees_contact_phone,
)


def test_p2_1_p2_2_admin_holds_no_data_permission():
    assert not ROLE_PERMS["admin"] & DATA_PERMS


def test_reviewer_is_read_only():
    assert Perm.write_recipients not in ROLE_PERMS["reviewer"]
    assert Perm.record_doses not in ROLE_PERMS["reviewer"]
    assert Perm.read_recipients in ROLE_PERMS["reviewer"]


def test_every_role_has_an_entry_and_no_data_role_manages_accounts():
    assert set(ROLE_PERMS) == {"admin", "data_entry", "supervisor", "reviewer"}
    for role in ("data_entry", "supervisor", "reviewer"):
        assert Perm.manage_accounts not in ROLE_PERMS[role]


def test_p1_reports_for_every_data_role_targets_for_supervisors_only():
    """Issue 15: data_entry reads the reports of its own facility, supervisors and reviewers
    of their subtree; target populations are entered by supervisors; never an admin (P2.1)."""
    assert {role for role, perms in ROLE_PERMS.items() if Perm.read_reports in perms} == {
        "data_entry", "supervisor", "reviewer"}
    assert {role for role, perms in ROLE_PERMS.items() if Perm.manage_targets in perms} == {
        "supervisor"}
    assert {Perm.read_reports, Perm.manage_targets} <= DATA_PERMS


def test_p1_contact_phones_for_the_own_data_entry_account_only(factory, province):
    nurse = factory.account("data_entry", province["station"])
    assert sees_contact_phone(province["station"].id, nurse)
    assert not sees_contact_phone(province["deep"].id, nurse)
    for role, home in (("supervisor", "district"), ("reviewer", "doh"), ("admin", "doh")):
        account = factory.account(role, province[home])
        assert not sees_contact_phone(province["station"].id, account), role
        assert not sees_contact_phone(province[home].id, account), role


@pytest.fixture
def province(factory):
    """DOH → D1 → S1 → S1A (a station under a station); DOH → D2 → S2."""
    return factory.tree((
        ("doh", "DOH", "provincial_doh", None, None),
        ("district", "D1", "district_health_centre", "doh", None),
        ("other", "D2", "district_health_centre", "doh", None),
        ("station", "S1", "commune_station", "district", None),
        ("deep", "S1A", "commune_station", "station", None),
        ("far", "S2", "commune_station", "other", None),
    ))


def _ids(account, write=False):
    return set(db.session.scalars(scope_facility_ids(account, write=write)))


def test_p1_supervisor_scope_is_its_subtree(factory, province):
    supervisor = factory.account("supervisor", province["district"])
    ids = _ids(supervisor)
    assert ids == {province["district"].id, province["station"].id, province["deep"].id}
    assert not in_scope(province["far"].id, supervisor)


def test_p1_data_entry_scope_is_own_facility(factory, province):
    nurse = factory.account("data_entry", province["station"])
    assert _ids(nurse) == {province["station"].id}
    assert _ids(nurse, write=True) == {province["station"].id}


def test_reviewer_reads_subtree_but_writes_nothing(factory, province):
    reviewer = factory.account("reviewer", province["doh"])
    assert len(_ids(reviewer)) == 6
    assert _ids(reviewer, write=True) == set()


def test_p2_1_admin_scope_is_empty(factory, province):
    admin = factory.account("admin", province["doh"])
    assert _ids(admin) == set()
    assert not has_perm(admin, Perm.read_recipients)


def test_delegation_adds_scope_only_while_valid(factory, province):
    support = factory.facility("VT", "support_unit", parent=province["doh"])
    helper = factory.account("data_entry", support)
    today = date.today()
    db.session.add(Delegation(account_id=helper.id, facility_id=province["far"].id,
                              starts_on=today - timedelta(days=1), ends_on=today + timedelta(1),
                              request_ref="12/CV", request_date=today, reason="hỗ trợ"))
    db.session.add(Delegation(account_id=helper.id, facility_id=province["deep"].id,
                              starts_on=today - timedelta(days=9), ends_on=today - timedelta(1),
                              request_ref="11/CV", request_date=today, reason="đã hết hạn"))
    db.session.commit()
    assert _ids(helper) == {support.id, province["far"].id}


def test_a_delegation_gives_scope_only_to_an_account_that_may_receive_one(factory, province):
    """Only a support unit's data-entry account is delegated to (letter item 3): the same
    rule bounds the scope, so a station's nurse has its facility alone, as one equality
    with no sub-select, even if a delegation row names it (written past the form)."""
    station = province["far"]
    nurse = factory.account("data_entry", station)
    today = date.today()
    db.session.add(Delegation(account_id=nurse.id, facility_id=province["deep"].id,
                              starts_on=today - timedelta(days=1), ends_on=today + timedelta(1),
                              request_ref="13/CV", request_date=today, reason="sai quy định"))
    db.session.commit()
    forget_scopes()
    assert _ids(nurse) == {station.id}
    assert scope(nurse).shape == "one" and scope(nurse).parameters() == {
        "scope_facility": station.id}
    assert not in_scope(province["deep"].id, nurse)
    assert in_scope(station.id, nurse)
    stmt = scope(nurse).filter(sa.select(Facility.id), Facility.id)
    assert "IN (SELECT" not in str(stmt) and "facility.id = " in str(stmt)
    # the same condition wherever the scope applies (the audit page's rows too)
    assert str(scope(nurse).condition(Delegation.facility_id)) == \
        "delegation.facility_id = :scope_facility_1"


def test_p1_one_masked_form_of_an_identifier():
    assert mask_identifier("079123456789") == "*********789"
    assert mask_identifier("+84912345678") == "*********678"
    assert mask_identifier("GD4890123456789") == "************789"
    assert mask_identifier("123456") == "*****6"
    assert mask_identifier("7") == "*"  # too short to show a tail: masked whole
    assert mask_identifier(None) == mask_identifier("") == ""


# -- the Scope: one per account and request, many facilities in one query -------------------


@pytest.fixture
def statements(app):
    """The SQL statements sent while the test runs (a list, filled as they go)."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(db.engine, "before_cursor_execute", record)


def _scope_queries(sent: list[str]) -> list[str]:
    """The statements that ask which facilities lie in a subtree scope."""
    return [s for s in sent if "facility.path >=" in s]


def test_p1_contains_many_answers_for_many_facilities_in_one_query(factory, province,
                                                                    statements):
    supervisor = factory.account("supervisor", province["district"])
    scope = Scope(supervisor)
    ids = [province[key].id for key in ("district", "station", "deep", "far", "other")]
    statements.clear()
    inside = scope.contains_many(ids)
    assert inside == {province["district"].id, province["station"].id, province["deep"].id}
    assert not scope.contains(province["far"].id)  # remembered, not asked again
    assert scope.contains(province["deep"].id)
    assert len(statements) == 1


def test_p1_own_facility_is_in_scope_without_a_query(factory, province, statements):
    nurse = factory.account("data_entry", province["station"])
    db.session.refresh(nurse)
    station = nurse.facility_id
    statements.clear()
    assert Scope(nurse).contains(station)
    assert Scope(nurse).writable.contains(station)
    assert statements == []


def test_p1_reviewer_writable_scope_is_empty_and_asks_nothing(factory, province, statements):
    reviewer = factory.account("reviewer", province["doh"])
    db.session.refresh(reviewer)
    ids = [reviewer.facility_id, province["far"].id]
    statements.clear()
    writable = Scope(reviewer).writable
    assert writable.facility_ids() == set()
    assert writable.contains_many(ids) == set()
    assert statements == []


def test_p1_width_and_choices_of_a_scope(factory, province):
    reviewer = Scope(factory.account("reviewer", province["doh"]))
    nurse = Scope(factory.account("data_entry", province["station"]))
    assert reviewer.is_wide and not nurse.is_wide
    assert reviewer.facility_count() == 6 and nurse.facility_count() == 1
    assert nurse.facility_choices() == [(province["station"].id, province["station"].name)]


def test_p1_one_scope_per_account_and_request(app, factory, province):
    supervisor = factory.account("supervisor", province["district"])
    with app.test_request_context():
        kept = scope(supervisor)
        assert scope(supervisor) is kept and kept.writable is scope(supervisor).writable
        forget_scopes()  # what a new request starts with
        assert scope(supervisor) is not kept


def test_p1_filter_restricts_a_query_to_the_scope(factory, province):
    supervisor = Scope(factory.account("supervisor", province["district"]))
    stmt = supervisor.filter(sa.select(Facility.id), Facility.id)
    assert set(db.session.scalars(stmt)) == {
        province["district"].id, province["station"].id, province["deep"].id}
    admin = Scope(factory.account("admin", province["doh"]))
    assert list(db.session.scalars(admin.filter(sa.select(Facility.id), Facility.id))) == []
