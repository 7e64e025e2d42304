"""The operator's install-time commands (P2.3): `vaxportal create-facility` and
`vaxportal create-account` (P4.1), good and bad input."""

from __future__ import annotations

import sqlalchemy as sa

from vaxportal.auth.models import Account, AccountStatus
from vaxportal.auth.passwords import verify_password
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility


def _facility(code) -> Facility | None:
    return db.session.scalar(sa.select(Facility).where(Facility.code == code))


def _account(username) -> Account | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Account).where(Account.username == username))


def test_create_facility_under_a_parent(runner):
    result = runner.invoke(args=["create-facility", "syt-ag", "--name", "Sở Y tế An Giang",
                                 "--kind", "provincial_doh"])
    assert result.exit_code == 0 and "Đã tạo cơ sở SYT-AG." in result.output
    result = runner.invoke(args=["create-facility", "TTYT-LX", "--name", "TTYT Long Xuyên",
                                 "--kind", "district_health_centre", "--parent", "syt-ag"])
    assert result.exit_code == 0, result.output
    parent, child = _facility("SYT-AG"), _facility("TTYT-LX")
    assert child.parent_id == parent.id and child.path == f"/{parent.id}/{child.id}/"


def test_create_facility_bad_input(runner, factory):
    factory.facility("S1", "commune_station")
    cases = [
        (["S1", "--name", "Trùng", "--kind", "cdc"], 1, "Mã cơ sở S1 đã tồn tại."),
        (["S9", "--name", "Mồ côi", "--kind", "cdc", "--parent", "KHONG"], 1,
         "Không có cơ sở cấp trên mã KHONG."),
        (["Mã sai", "--name", "X", "--kind", "cdc"], 1, "Mã cơ sở dài 1-32 ký tự"),
        (["S9", "--name", "   ", "--kind", "cdc"], 1, "Tên cơ sở dài 1-200 ký tự"),
        (["S9", "--name", "X", "--kind", "spaceport"], 2, "Invalid value for '--kind'"),
        (["S9", "--kind", "cdc"], 2, "Missing option '--name'"),
    ]
    for args, code, message in cases:
        result = runner.invoke(args=["create-facility", *args])
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
    assert _facility("S9") is None


OPTIONS = {"--role": "data_entry", "--facility": "s1", "--phone": "0912 345 678",
           "--full-name": "Đặng Thị Lan", "--gender": "female", "--position": "Y sĩ",
           "--email": "lan@example.vn"}


def _args(username="tyt.mybinh", **changes) -> list[str]:
    options = OPTIONS | {f"--{k.replace('_', '-')}": v for k, v in changes.items()}
    return ["create-account", username, *[part for pair in options.items() for part in pair]]


def test_p4_1_create_account_sends_the_initial_password_by_sms_only(runner, factory, outbox):
    factory.facility("S1", "commune_station", name="Trạm Y tế Mỹ Bình")
    result = runner.invoke(args=_args())
    assert result.exit_code == 0, result.output
    assert "Đã cấp tài khoản tyt.mybinh cho S1" in result.output
    (sms,) = [m for m in outbox() if m["kind"] == "initial_password"]
    assert sms["to"] == "+84912345678" and sms["secret"] in sms["body"]
    assert sms["secret"] not in result.output
    account = _account("tyt.mybinh")
    assert account.status == AccountStatus.pending and account.must_change_password
    assert verify_password(account.password_hash, sms["secret"])
    custodian = account.current_custodian
    assert (custodian.full_name, custodian.unit, custodian.gender) == (
        "Đặng Thị Lan", "Trạm Y tế Mỹ Bình", "female")


def test_p4_1_create_account_bad_input(runner, factory, outbox):
    factory.facility("S1", "commune_station")
    factory.facility("S2", "commune_station")
    assert runner.invoke(args=_args()).exit_code == 0
    cases = [
        (_args("tyt.khac"), 1, "đã có một tài khoản đang hoạt động"),
        (_args("tyt.khac", facility="KHONGCO"), 1, "Không có cơ sở mã KHONGCO."),
        (_args("tyt.khac", facility="S2"), 1, "Số điện thoại này đang gắn với một tài khoản"),
        (_args("tyt.khac", facility="S2", phone="12345"), 1, "Số điện thoại không hợp lệ"),
        (_args(facility="S2"), 1, "Tên đăng nhập tyt.mybinh đã được dùng."),
        (_args("tên có dấu", facility="S2"), 1, "Tên đăng nhập"),
        (_args("tyt.khac", facility="S2", email="khong-phai-email"), 1,
         "Địa chỉ email không hợp lệ."),
        (_args("tyt.khac", facility="S2", full_name=" "), 1,
         "Cần họ và tên người quản lý tài khoản."),
        (_args("tyt.khac", facility="S2", role="god"), 2, "Invalid value for '--role'"),
    ]
    for args, code, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
    assert _account("tyt.khac") is None
    assert len([m for m in outbox() if m["kind"] == "initial_password"]) == 1
