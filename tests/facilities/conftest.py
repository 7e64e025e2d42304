"""Fixtures of the facilities tests: a small province, a signed-in admin, request fields."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from tests.helpers import RECENT
from vaxportal.auth.models import Account, UserSession, WrittenRequest
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

REQUEST = {"ref_number": "123/SYT-NVY", "ref_date": RECENT,
           "reason": "Theo công văn đề nghị của đơn vị"}


@pytest.fixture
def province(factory):
    """MIN (ministry IT) → DOH → D1 → S1, S2; DOH → VT (support unit)."""
    ministry = factory.facility("MIN", "ministry", name="Cục Công nghệ thông tin")
    doh = factory.facility("DOH", "provincial_doh", parent=ministry, name="Sở Y tế An Giang")
    d1 = factory.facility("D1", "district_health_centre", parent=doh, name="TTYT Long Xuyên")
    s1 = factory.facility("S1", "commune_station", parent=d1, name="Trạm Y tế Mỹ Bình")
    s2 = factory.facility("S2", "commune_station", parent=d1, name="Trạm Y tế Mỹ Xuyên")
    vt = factory.facility("VT", "support_unit", parent=doh, name="Viettel An Giang")
    return {"MIN": ministry, "DOH": doh, "D1": d1, "S1": s1, "S2": s2, "VT": vt}


def fresh(client) -> None:
    """The client's session passed an OTP just now (the admin's own step-up, P3.4)."""
    row = db.session.scalar(
        sa.select(UserSession).where(UserSession.account_id == client.account.id)
        .order_by(UserSession.id.desc())
    )
    row.step_up_at = utcnow()
    db.session.commit()


@pytest.fixture
def admin(signed_in, province):
    """An admin of the ministry IT department, with a fresh OTP."""
    client = signed_in("admin", facility=province["MIN"], username="admin.cntt",
                       full_name="Lê Minh Quản")
    fresh(client)
    return client


@pytest.fixture
def holder(signed_in, province):
    """Station S1's account, signed in (its custodian's own browser)."""
    return signed_in("data_entry", facility=province["S1"], username="tyt.mybinh")


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, name: str) -> str:
    """The message shown beside field ``name`` ('' when none)."""
    match = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return unescape(match.group(1)) if match else ""


def input_value(page: str, name: str) -> str | None:
    for tag in re.findall(r"<(?:input|textarea)[^>]*>(?:[^<]*</textarea>)?", page):
        if f'name="{name}"' in tag:
            if tag.startswith("<textarea"):
                return unescape(re.sub(r"^<textarea[^>]*>|</textarea>$", "", tag)).strip()
            value = re.search(r'value="([^"]*)"', tag)
            return unescape(value.group(1)) if value else ""
    return None


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def written(account: Account) -> list[WrittenRequest]:
    return list(db.session.scalars(
        sa.select(WrittenRequest).where(WrittenRequest.account_id == account.id)
        .order_by(WrittenRequest.id)
    ))
