"""``vaxportal seed-demo``: the province from the Department of Health letter, as demo data."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from vaxportal.audit import events
from vaxportal.auth import sessions
from vaxportal.auth.models import Account, AccountStatus
from vaxportal.extensions import db
from vaxportal.facilities import lifecycle, tree
from vaxportal.facilities.models import Facility
from vaxportal.facilities.models import FacilityKind as K

# (code, name, kind, parent code, username, role, phone, custodian)
FACILITIES = (
    ("BYT-CNTT", "Cục Công nghệ thông tin - Bộ Y tế", K.ministry, None,
     "admin.cntt", "admin", "0901000001", "Lê Minh Quản"),
    ("SYT-AG", "Sở Y tế An Giang", K.provincial_doh, "BYT-CNTT",
     "syt.angiang", "reviewer", "0901000002", "Trần Thị Duyệt"),
    # the second administrator: approves what the first requests (P2.1, two people for access)
    ("SYT-AG-CNTT", "Phòng Công nghệ thông tin - Sở Y tế An Giang", K.provincial_doh, "SYT-AG",
     "admin.syt", "admin", "0901000017", "Châu Văn Duyệt"),
    ("CDC-AG", "Trung tâm Kiểm soát bệnh tật An Giang", K.cdc, "SYT-AG",
     "cdc.angiang", "reviewer", "0901000003", "Phạm Văn Kiểm"),
    ("TTYT-LX", "Trung tâm Y tế thành phố Long Xuyên", K.district_health_centre, "SYT-AG",
     "ttyt.longxuyen", "supervisor", "0901000004", "Nguyễn Thị Giám"),
    ("TTYT-CD", "Trung tâm Y tế thành phố Châu Đốc", K.district_health_centre, "SYT-AG",
     "ttyt.chaudoc", "supervisor", "0901000005", "Võ Văn Sát"),
    ("TTYT-TC", "Trung tâm Y tế thị xã Tân Châu", K.district_health_centre, "SYT-AG",
     "ttyt.tanchau", "supervisor", "0901000006", "Huỳnh Thị Hoa"),
    ("TYT-MB", "Trạm Y tế phường Mỹ Bình", K.commune_station, "TTYT-LX",
     "tyt.mybinh", "data_entry", "0901000007", "Đặng Thị Lan"),
    ("TYT-MX", "Trạm Y tế phường Mỹ Xuyên", K.commune_station, "TTYT-LX",
     "tyt.myxuyen", "data_entry", "0901000008", "Lý Văn Tâm"),
    ("TYT-VM", "Trạm Y tế phường Vĩnh Mỹ", K.commune_station, "TTYT-CD",
     "tyt.vinhmy", "data_entry", "0901000009", "Ngô Thị Mai"),
    ("TYT-NS", "Trạm Y tế phường Núi Sam", K.commune_station, "TTYT-CD",
     "tyt.nuisam", "data_entry", "0901000010", "Trương Văn Hùng"),
    ("BV-DKTTAG", "Bệnh viện Đa khoa Trung tâm An Giang", K.public_hospital, "SYT-AG",
     "bv.dkttag", "data_entry", "0901000011", "Bùi Thị Ngọc"),
    ("BV-HP", "Bệnh viện Hạnh Phúc", K.private_hospital, "SYT-AG",
     "bv.hanhphuc", "data_entry", "0901000012", "Đỗ Văn Phúc"),
    ("QY-BCHQS", "Ban Quân Y - Bộ Chỉ huy Quân sự tỉnh", K.military_medical, "SYT-AG",
     "quany.ag", "data_entry", "0901000013", "Hoàng Văn Quân"),
    ("BX-CA", "Bệnh xá Công an tỉnh", K.police_infirmary, "SYT-AG",
     "bxca.ag", "data_entry", "0901000014", "Phan Thị An"),
    ("VNVC-LX", "Trung tâm tiêm chủng VNVC Long Xuyên", K.vaccination_centre, "SYT-AG",
     "vnvc.longxuyen", "data_entry", "0901000015", "Mai Văn Vũ"),
    ("VT-AG", "Viettel An Giang (hỗ trợ nhập liệu)", K.support_unit, "SYT-AG",
     "viettel.ag", "data_entry", "0901000016", "Tạ Thị Việt"),
)

#: domains add their demo data here (called with the created facilities by code)
EXTRA_SEEDERS: list = []


def seed() -> dict[str, Facility]:
    facilities: dict[str, Facility] = {}
    for code, name, kind, parent, username, role, phone, person in FACILITIES:
        facility = tree.add_facility(code, name, kind, facilities.get(parent))
        facilities[code] = facility
        lifecycle.issue_account(facility, username, role, phone, {
            "full_name": person, "unit": name, "position": "Cán bộ phụ trách tiêm chủng",
            "phone": phone,
        })
    for seeder in EXTRA_SEEDERS:
        seeder(facilities)
    return facilities


@click.command("seed-demo")
@click.option("--show", is_flag=True, help="Liệt kê các tài khoản mẫu và cách nhận lại mật khẩu.")
@click.option("--reissue", metavar="USERNAME",
              help="Gửi mật khẩu ban đầu mới qua SMS (console) cho một tài khoản mẫu.")
def seed_demo_command(show: bool, reissue: str | None) -> None:
    """Nạp dữ liệu mẫu của tỉnh (một lần; chạy lại không thay đổi gì)."""
    if reissue:
        reissue_demo_password(reissue)
        return
    if show:
        show_demo_accounts()
        return
    if db.session.scalar(sa.select(sa.func.count(Facility.id))):
        click.echo(_("Dữ liệu đã có sẵn; không nạp lại dữ liệu mẫu."))
        return
    seed()
    db.session.commit()
    show_demo_accounts()


def _demo_accounts() -> list[tuple[tuple, Account | None]]:
    """Each row of ``FACILITIES`` with its account in the database (``None`` if absent)."""
    usernames = [row[4] for row in FACILITIES]
    accounts = {a.username: a for a in db.session.scalars(
        sa.select(Account).where(Account.username.in_(usernames)))}
    return [(row, accounts.get(row[4])) for row in FACILITIES]


def show_demo_accounts() -> None:
    """The demo accounts (facility code, username, role, facility) and how to get an
    account's initial password again. Prints no password and sends nothing."""
    click.echo(f"{_('Mã cơ sở'):<12} {_('Tài khoản'):<16} {_('Vai trò'):<11} {_('Cơ sở')}")
    for (code, name, _kind, _parent, username, role, _phone, _person), account in \
            _demo_accounts():
        if account is not None:
            click.echo(f"{code:<12} {username:<16} {role:<11} {name}")
    click.echo(_("Mật khẩu ban đầu của từng tài khoản được gửi qua SMS (xem dòng [DEV SMS])."))
    click.echo(_("Mất mật khẩu ban đầu? Chạy `vaxportal seed-demo --reissue TÀI_KHOẢN` (ví dụ "
                 "`vaxportal seed-demo --reissue %(username)s`): một mật khẩu ban đầu mới được "
                 "gửi qua SMS tới màn hình console; chỉ dùng được ở chế độ phát triển.",
                 username=FACILITIES[7][4]))


def reissue_demo_password(username: str) -> None:
    """A new initial password for a demo account, by SMS to the console (P4.3b: changed at
    the next sign-in). Development only: in production a forgotten password goes through a
    written request and a second person's approval (P4.3c)."""
    if not (current_app.debug or current_app.testing) or not _clear_text_sms():
        raise click.ClickException(_("Chỉ dùng được ở chế độ phát triển hoặc kiểm thử, với SMS "
                                     "hiện trên console."))
    account = {row[4]: acc for row, acc in _demo_accounts()}.get(username)
    if account is None or account.status == AccountStatus.revoked:
        raise click.ClickException(_("%(username)s không phải là tài khoản mẫu đang dùng.",
                                     username=username))
    ended = sessions.end_all(account.id, "password_reissued")
    events.record("demo_password_reissued", category="account", entity="account",
                  entity_id=account.id, facility_id=account.facility_id,
                  details={"username": account.username, "sessions_ended": ended})
    lifecycle.send_initial_password(account)
    db.session.commit()
    click.echo(_("Đã gửi mật khẩu ban đầu mới cho %(username)s qua SMS (xem dòng [DEV SMS]).",
                 username=account.username))


def _clear_text_sms() -> bool:
    backend = str(current_app.config.get("SMS_BACKEND") or "console")
    return backend == "console" or backend.startswith("file:")
