"""Fixtures of the facilities tests: their province (a support unit under the DOH, two stations
under one district: the tree pages are checked row by row), a signed-in admin with a fresh
OTP and a station's account. Written-request fields and page readers are in
``tests/helpers.py``."""

from __future__ import annotations

import pytest

from tests.helpers import fresh_otp

#: MIN (ministry IT) → DOH → D1 → S1, S2; DOH → VT (support unit)
PROVINCE = (
    ("MIN", "MIN", "ministry", None, "Cục Công nghệ thông tin"),
    ("DOH", "DOH", "provincial_doh", "MIN", "Sở Y tế An Giang"),
    ("D1", "D1", "district_health_centre", "DOH", "TTYT Long Xuyên"),
    ("S1", "S1", "commune_station", "D1", "Trạm Y tế Mỹ Bình"),
    ("S2", "S2", "commune_station", "D1", "Trạm Y tế Mỹ Xuyên"),
    ("VT", "VT", "support_unit", "DOH", "Viettel An Giang"),
)


@pytest.fixture
def province(factory):
    """MIN (ministry IT) → DOH → D1 → S1, S2; DOH → VT (support unit)."""
    return factory.tree(PROVINCE)


@pytest.fixture
def admin(signed_in, province):
    """An admin of the ministry IT department, with a fresh OTP."""
    client = signed_in("admin", facility=province["MIN"], username="admin.cntt",
                       full_name="Lê Minh Quản")
    fresh_otp(client)
    return client


@pytest.fixture
def holder(signed_in, province):
    """Station S1's account, signed in (its custodian's own browser)."""
    return signed_in("data_entry", facility=province["S1"], username="tyt.mybinh")
