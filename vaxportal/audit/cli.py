"""``vaxportal audit verify`` and ``vaxportal audit checkpoint`` (P2.4)."""

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
