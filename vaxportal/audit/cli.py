"""``vaxportal audit verify``, ``checkpoint`` and ``adopt-unkeyed`` (P2.4)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from vaxportal.audit import integrity

audit_cli = AppGroup("audit", help="Nhật ký kiểm tra (P2.4).")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check every row's keyed hash, its link to the previous row and every signed
    checkpoint; exit 1 at the first break."""
    verdict = integrity.verify_now()
    click.echo(integrity.message(verdict), err=not verdict.ok)
    if not verdict.ok:
        raise SystemExit(1)


@audit_cli.command("checkpoint")
def checkpoint_command() -> None:
    """Sign the head of the chain (row count, last id and hash) and keep it outside the
    database (AUDIT_CHECKPOINT_DIR, and the configured SMS/URL recipient)."""
    record = integrity.take_checkpoint()
    click.echo(_("Đã ghi điểm kiểm soát: %(n)s bản ghi, bản ghi cuối #%(id)s.",
                 n=record["count"], id=record["last_id"]))


@audit_cli.command("adopt-unkeyed")
def adopt_unkeyed_command() -> None:
    """Once, after upgrading a trail written before the chain was keyed: sign the head of
    its rows that carry the old public hash (intact from the first row), so that verify
    accepts exactly those rows as they are now and checks every later one with the key."""
    record = integrity.adopt_unkeyed()
    if record is None:
        click.echo(_("Không có bản ghi nào mang mã băm cũ (không khoá)."))
        return
    click.echo(_("Đã ký nhận %(n)s bản ghi mang mã băm cũ, đến bản ghi #%(id)s; các bản ghi "
                 "sau được kiểm tra bằng khoá.", n=record["count"], id=record["last_id"]))
