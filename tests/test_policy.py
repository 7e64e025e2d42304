"""The policy module: the role table and the scope rule (P1, P2.1, P2.2)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation
from vaxportal.policy import (
    DATA_PERMS,
    ROLE_PERMS,
    Perm,
    has_perm,
    in_scope,
    mask_identifier,
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
    doh = factory.facility("DOH", "provincial_doh")
    district = factory.facility("D1", "district_health_centre", parent=doh)
    other_district = factory.facility("D2", "district_health_centre", parent=doh)
    station = factory.facility("S1", "commune_station", parent=district)
    deep = factory.facility("S1A", "commune_station", parent=station)
    far = factory.facility("S2", "commune_station", parent=other_district)
    return {"doh": doh, "district": district, "other": other_district, "station": station,
            "deep": deep, "far": far}


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


def test_p1_one_masked_form_of_an_identifier():
    assert mask_identifier("079123456789") == "*********789"
    assert mask_identifier("+84912345678") == "*********678"
    assert mask_identifier("GD4890123456789") == "************789"
    assert mask_identifier("123456") == "*****6"
    assert mask_identifier("7") == "*"  # too short to show a tail: masked whole
    assert mask_identifier(None) == mask_identifier("") == ""
