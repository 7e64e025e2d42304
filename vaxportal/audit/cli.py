"""``vaxportal audit verify``: walk the hash chain of the audit trail (P2.4)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from vaxportal.audit import chain
from vaxportal.extensions import db

audit_cli = AppGroup("audit", help="Nhật ký kiểm tra (P2.4).")

REASONS = {
    "missing": lambda v: _("bản ghi #%(id)s đã bị xoá", id=v.missing_id),
    "link": lambda v: _("mã băm của bản ghi trước không khớp"),
    "content": lambda v: _("nội dung đã bị sửa"),
}


@audit_cli.command("verify")
def verify_command() -> None:
    """Check every row's hash and its link to the previous row; exit 1 at the first break."""
    with db.engine.connect() as conn:
        verdict = chain.verify(conn)
    if verdict.ok:
        click.echo(_("Đã kiểm tra %(n)s bản ghi: chuỗi nhật ký nguyên vẹn.", n=verdict.checked))
        return
    click.echo(_("Chuỗi nhật ký bị phá vỡ tại bản ghi #%(id)s (%(reason)s); %(n)s bản ghi "
                 "trước đó hợp lệ.", id=verdict.broken_id,
                 reason=REASONS[verdict.reason](verdict), n=verdict.checked), err=True)
    raise SystemExit(1)
