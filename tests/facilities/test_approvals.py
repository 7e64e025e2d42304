"""The approval setting (P2.1): ``two_admins`` by default; ``none`` for a one-person trial,
with a warning at start; any other value stops the start."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from vaxportal import create_app
from vaxportal.auth.models import Account
from vaxportal.extensions import db
from vaxportal.facilities.models import PendingAction

ISSUE = {"username": "tyt.mybinh", "role": "data_entry", "phone": "0912 345 678",
         "full_name": "Đặng Thị Lan", "gender": "female", "unit": "Trạm Y tế Mỹ Bình",
         "position": "Cán bộ tiêm chủng", "email": "lan.dt@example.vn",
         "custodian_phone": "0913 111 222"}


def test_p2_1_two_admins_is_the_default(app):
    assert app.config["ACCOUNT_APPROVAL"] == "two_admins"


def test_p2_1_none_is_a_one_person_trial_with_a_warning(config, caplog):
    with caplog.at_level(logging.WARNING):
        create_app(config | {"ACCOUNT_APPROVAL": "none"})
    assert any("VAXPORTAL_ACCOUNT_APPROVAL=none" in r.getMessage() for r in caplog.records)


def test_p2_1_an_unknown_approval_mode_stops_the_start(config):
    with pytest.raises(RuntimeError, match="VAXPORTAL_ACCOUNT_APPROVAL"):
        create_app(config | {"ACCOUNT_APPROVAL": "one_admin"})


def test_p2_1_with_none_an_issue_takes_effect_at_once(app, admin, province, outbox):
    app.config["ACCOUNT_APPROVAL"] = "none"
    response = admin.post(f"/facilities/{province['S1'].id}/accounts/new", data=ISSUE)
    assert response.status_code == 303
    account = db.session.scalar(sa.select(Account).where(Account.username == "tyt.mybinh"))
    assert account is not None
    assert response.headers["Location"].endswith(f"/facilities/accounts/{account.id}")
    assert db.session.scalar(sa.select(sa.func.count(PendingAction.id))) == 0
    assert [m["to"] for m in outbox() if m["kind"] == "initial_password"] == ["+84912345678"]
