"""Install-time commands of the operator (P2.3): facilities and the first accounts."""

from __future__ import annotations

import click
from flask_babel import gettext as _

from vaxportal.auth.models import Role
from vaxportal.extensions import db
from vaxportal.facilities import lifecycle, tree
from vaxportal.facilities.models import FacilityKind
from vaxportal.sms import SmsError

KINDS = [kind.value for kind in FacilityKind]
ROLES = [role.value for role in Role]


@click.command("create-facility")
@click.argument("code")
@click.option("--name", required=True, help="Tên cơ sở.")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="Loại cơ sở.")
@click.option("--parent", "parent_code", help="Mã cơ sở cấp trên.")
def create_facility_command(code: str, name: str, kind: str, parent_code: str | None) -> None:
    """Tạo cơ sở mã CODE trong cây cơ sở (--kind: loại cơ sở)."""
    try:
        facility = lifecycle.create_facility(code, name, kind, parent_code)
        db.session.commit()
    except lifecycle.LifecycleError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(_("Đã tạo cơ sở %(code)s.", code=facility.code))


@click.command("create-account")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="Vai trò.")
@click.option("--facility", "facility_code", required=True, help="Mã cơ sở.")
@click.option("--phone", required=True, help="Số điện thoại đăng ký của đơn vị.")
@click.option("--full-name", required=True, help="Họ tên người quản lý tài khoản.")
@click.option("--gender", type=click.Choice(lifecycle.GENDERS), help="Giới tính.")
@click.option("--position", help="Chức vụ.")
@click.option("--email", help="Thư điện tử.")
@click.option("--unit", help="Đơn vị công tác (mặc định: tên cơ sở).")
def create_account_command(username, role, facility_code, phone, full_name, gender, position,
                           email, unit) -> None:
    """Cấp tài khoản USERNAME cho một cơ sở; mật khẩu ban đầu chỉ gửi qua SMS tới PHONE."""
    facility = tree.by_code(facility_code.strip().upper())
    if facility is None:
        raise click.ClickException(_("Không có cơ sở mã %(code)s.", code=facility_code))
    custodian = {"full_name": full_name, "gender": gender, "position": position,
                 "email": email, "unit": unit or facility.name, "phone": phone}
    try:
        account = lifecycle.issue_account(facility, username, role, phone, custodian)
        db.session.commit()
    except (lifecycle.LifecycleError, SmsError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(_("Đã cấp tài khoản %(username)s cho %(code)s; mật khẩu ban đầu đã gửi qua SMS "
                 "tới số đăng ký.", username=account.username, code=facility.code))


def init_app(app) -> None:
    app.cli.add_command(create_facility_command)
    app.cli.add_command(create_account_command)
