"""``vaxportal priority-groups add|withdraw`` (the list an administrator extends) and
``vaxportal codes match|unmatched`` (older free text that matched no code, for review)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from flask_babel import gettext as _

from vaxportal.extensions import db
from vaxportal.recipients import codes
from vaxportal.recipients.models import PriorityGroup, Recipient

priority_cli = AppGroup("priority-groups", help="Danh mục nhóm ưu tiên (thêm, rút).")
codes_cli = AppGroup("codes", help="Danh mục mã hoá: rà soát giá trị cũ chưa có mã.")


@priority_cli.command("list")
def list_groups() -> None:
    """Every priority group, active or not."""
    active = dict(codes.priority_groups())
    for code, name in codes.priority_groups(active_only=False):
        mark = "" if code in active else _("[đã rút]") + " "
        click.echo(f"{code}\t{mark}{name}")


@priority_cli.command("add")
@click.argument("code")
@click.argument("label")
def add_group(code: str, label: str) -> None:
    """Add a group (or relabel one): CODE of letters and digits, LABEL in Vietnamese."""
    code = code.strip().upper()
    label = " ".join(label.split())
    if not code.isalnum() or len(code) > 16 or not label or len(label) > 300:
        raise click.UsageError(_("Mã gồm chữ và số (tối đa 16 ký tự); tên từ 1 đến 300 ký tự."))
    row = db.session.get(PriorityGroup, code) or PriorityGroup(code=code)
    row.label, row.active = label, True
    db.session.add(row)
    db.session.commit()
    codes.forget_labels()
    click.echo(f"{code}\t{label}")


@priority_cli.command("withdraw")
@click.argument("code")
def withdraw_group(code: str) -> None:
    """No longer offered for new entries; records that hold it keep it."""
    code = code.strip().upper()
    name = dict(codes.priority_groups(active_only=False)).get(code)
    if name is None:
        raise click.UsageError(_("Không có nhóm ưu tiên với mã này."))
    row = db.session.get(PriorityGroup, code) or PriorityGroup(code=code, label=name)
    row.active = False
    db.session.add(row)
    db.session.commit()
    codes.forget_labels()
    click.echo(f"{code}\t{_('[đã rút]')} {name}")


@codes_cli.command("match")
def match() -> None:
    """Older free text to codes where it matches; the rest kept for review (audited)."""
    kept = codes.match_older_values()
    db.session.commit()
    click.echo(_("Xong. Số hồ sơ còn giá trị chưa có mã: %(n)s (xem: vaxportal codes "
                 "unmatched).", n=kept))


@codes_cli.command("unmatched")
def unmatched() -> None:
    """Each older value that matched no code: field, value, how many records, their ids
    (to open at /recipients/<id> and choose the code)."""
    found: dict[tuple[str, str], list[int]] = {}
    rows = db.session.execute(
        sa.select(Recipient.id, Recipient.uncoded).where(Recipient.uncoded.isnot(None))
        .order_by(Recipient.id))
    for recipient_id, uncoded in rows:
        for key, text in (uncoded or {}).items():
            found.setdefault((key, str(text)), []).append(recipient_id)
    if not found:
        click.echo(_("Không còn giá trị nào chưa có mã."))
        return
    for (key, text), ids in sorted(found.items()):
        shown = " ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")
        click.echo(f"{key}\t{text}\t{len(ids)}\t{shown}")
