"""Delegation (letter item 3): a support unit's data-entry account gets data-entry scope over a
named facility for a period, against a written request; it ends by itself, or early."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import REQUEST, approve_pending, field_error, html, input_value, reload, written
from vaxportal.extensions import db
from vaxportal.facilities.models import Delegation
from vaxportal.policy import in_scope
from vaxportal.validators import format_date_vn, local_today


@pytest.fixture
def helper(factory, province):
    """The support unit's (Viettel's) data-entry account."""
    return factory.account("data_entry", province["VT"], username="viettel.ag")


def _period(days_from=0, days_to=30) -> dict:
    today = local_today()
    return {"starts_on": format_date_vn(today + timedelta(days=days_from)),
            "ends_on": format_date_vn(today + timedelta(days=days_to))}


def _delegate(admin, account, code="S2", **data):
    """Request the delegation; the delegated facility's own account approves it (P2.1)."""
    response = admin.post(f"/facilities/accounts/{account.id}/delegate",
                          data=REQUEST | {"facility_code": code} | _period() | data)
    if response.status_code == 303:
        approve_pending(admin.application)
    return response


def _delegations(account) -> list[Delegation]:
    db.session.expire_all()
    stmt = sa.select(Delegation).where(Delegation.account_id == account.id)
    return list(db.session.scalars(stmt))


def test_delegation_gives_scope_over_the_named_facility(admin, helper, province):
    assert not in_scope(province["S2"].id, helper)
    response = _delegate(admin, helper)
    assert response.status_code == 303
    (delegation,) = _delegations(helper)
    assert delegation.facility_id == province["S2"].id
    assert delegation.starts_on == local_today()
    assert delegation.ends_on == local_today() + timedelta(days=30)
    assert (delegation.request_ref, delegation.reason) == ("123/SYT-NVY",
                                                           "Theo công văn đề nghị của đơn vị")
    assert delegation.granted_by_id == admin.account.id
    assert [r.action for r in written(helper)] == ["delegate"]
    assert in_scope(province["S2"].id, reload(helper))
    assert not in_scope(province["S1"].id, helper)
    page = html(admin.get(f"/facilities/accounts/{helper.id}"))
    assert "Đang hiệu lực" in page and "Trạm Y tế Mỹ Xuyên" in page


def test_delegation_ends_by_itself_after_its_last_day(admin, helper, province):
    _delegate(admin, helper)
    (delegation,) = _delegations(helper)
    delegation.starts_on = local_today() - timedelta(days=10)
    delegation.ends_on = local_today() - timedelta(days=1)
    db.session.commit()
    assert not in_scope(province["S2"].id, helper)
    assert "Đã hết hạn" in html(admin.get(f"/facilities/accounts/{helper.id}"))


def test_delegation_can_be_ended_early(admin, helper, province):
    _delegate(admin, helper)
    (delegation,) = _delegations(helper)
    page = html(admin.get(f"/facilities/accounts/{helper.id}"))
    assert f"/facilities/delegations/{delegation.id}/end" in page
    response = admin.post(f"/facilities/delegations/{delegation.id}/end",
                          data=REQUEST | {"reason": "Đã hoàn thành nhập liệu"})
    assert response.status_code == 303
    assert reload(delegation).ended_at is not None
    assert not in_scope(province["S2"].id, helper)
    assert [r.action for r in written(helper)] == ["delegate", "end_delegation"]
    assert "Đã kết thúc sớm" in html(admin.get(f"/facilities/accounts/{helper.id}"))


def test_delegation_only_for_a_support_units_data_entry_account(admin, factory, province):
    station = factory.account("data_entry", province["S1"])
    response = _delegate(admin, station)
    assert response.status_code == 200
    assert "Chỉ tài khoản nhập liệu của đơn vị hỗ trợ" in html(response)
    assert _delegations(station) == []
    page = html(admin.get(f"/facilities/accounts/{station.id}"))
    assert "/delegate" not in page


def test_delegation_form_errors_beside_fields(admin, helper):
    page = html(_delegate(admin, helper, code="KHONGCO", **_period(5, 1)))
    assert "Không có cơ sở mã KHONGCO" in field_error(page, "facility_code")
    page = html(_delegate(admin, helper, **_period(5, 1)))
    assert "không được trước ngày bắt đầu" in field_error(page, "ends_on")
    assert input_value(page, "starts_on") == _period(5, 1)["starts_on"]
    page = html(_delegate(admin, helper, ends_on="32/01/2030"))
    assert "không có trên lịch" in field_error(page, "ends_on")
    assert _delegations(helper) == []


def test_delegation_overlapping_the_same_facility_is_refused(admin, helper):
    assert _delegate(admin, helper).status_code == 303
    page = html(_delegate(admin, helper, **_period(10, 40)))
    assert "đã được uỷ quyền" in field_error(page, "facility_code")
    assert len(_delegations(helper)) == 1


def test_p4_2_revoking_the_support_account_ends_its_delegations(admin, helper):
    _delegate(admin, helper)
    admin.post(f"/facilities/accounts/{helper.id}/revoke", data=REQUEST)
    (delegation,) = _delegations(helper)
    assert delegation.ended_at is not None
