"""The authorization matrix's world, built once per test: see ``tests/matrix/world.py``."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from tests.matrix.world import (
    ROLES,
    Principal,
    World,
    holdings_of,
    request_export,
    scope_of,
    session_of,
    upload,
)
from vaxportal.audit.models import AuditEvent
from vaxportal.extensions import db
from vaxportal.recipients.models import CrossLookup
from vaxportal.recipients.vaccines import seed_vaccines


@pytest.fixture
def world(app, factory, signed_in, client) -> World:
    ministry = factory.facility("MIN", "ministry", name="Cục Công nghệ thông tin")
    doh_a = factory.facility("DOHA", "provincial_doh", parent=ministry, name="Sở Y tế An Giang")
    d1 = factory.facility("D1", "district_health_centre", parent=doh_a, name="TTYT Long Xuyên")
    s1 = factory.facility("S1", "commune_station", parent=d1, name="Trạm Y tế Mỹ Bình")
    doh_b = factory.facility("DOHB", "provincial_doh", parent=ministry, name="Sở Y tế Kiên Giang")
    d2 = factory.facility("D2", "district_health_centre", parent=doh_b, name="TTYT Rạch Giá")
    s2 = factory.facility("S2", "commune_station", parent=d2, name="Trạm Y tế Vĩnh Thanh")
    unit = factory.facility("VT", "support_unit", parent=ministry, name="Viettel An Giang")
    seed_vaccines()
    db.session.commit()

    support = factory.account("data_entry", unit, username="viettel.ag")
    own = scope_of(factory, s1, "S1", support)
    other = scope_of(factory, s2, "S2", support)

    homes = {"admin": ministry, "data_entry": s1, "supervisor": d1, "reviewer": doh_a}
    principals = {"anonymous": Principal("anonymous", client)}
    for role in ROLES:
        c = signed_in(role, facility=homes[role], username=f"matrix.{role}",
                      full_name=f"Người {role}")
        principals[role] = Principal(role, c, c.account,
                                     session_id=session_of(c.account).id, sign_ins=1)
    # the other scope's own account: its jobs and look-up grant are "another scope's"
    outsider = signed_in("data_entry", facility=s2, username="matrix.outsider")

    holdings = {
        principals["data_entry"].account.id: holdings_of(app, principals["data_entry"],
                                                       own.recipient),
        principals["supervisor"].account.id: holdings_of(app, principals["supervisor"],
                                                       own.recipient),
        principals["reviewer"].account.id: holdings_of(app, principals["reviewer"],
                                                     own.recipient, imports=False),
        outsider.account.id: {
            "export": request_export(outsider), "import": upload(outsider, s2.id, "outsider"),
        },
    }
    grant = secrets.token_urlsafe(16)
    db.session.add(CrossLookup(id=grant, account_id=outsider.account.id,
                               recipient_id=other.recipient.id, reason="Tiêm mũi nhắc"))
    db.session.commit()
    holdings[outsider.account.id]["lookup"] = grant

    security_event = db.session.scalar(
        sa.select(AuditEvent.id).where(AuditEvent.category == "account")
        .order_by(AuditEvent.id.desc()).limit(1))
    assert security_event is not None
    return World(principals=principals, own=own, other=other, security_event=security_event,
                 holdings=holdings, other_account=outsider.account)
