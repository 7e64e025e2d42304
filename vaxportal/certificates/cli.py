"""``vaxportal certificates keygen | trust-list | verify``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from vaxportal.certificates import keys, services
from vaxportal.certificates.present import OUTCOME_LABELS


@click.group("certificates")
def group() -> None:
    """Chứng nhận tiêm chủng (EU DCC): khoá ký, danh sách tin cậy, kiểm tra."""


@group.command("keygen")
@click.option("--force", is_flag=True, help="Ghi đè khoá đã có.")
@with_appcontext
def keygen(force: bool) -> None:
    """Tạo khoá P-256 và chứng thư tự ký của đơn vị ký (tệp khoá chỉ ứng dụng đọc được)."""
    key_path, cert_path = keys.paths(current_app)
    if key_path.exists() and not force:
        raise click.ClickException(_("Khoá đã có: %(path)s (dùng --force để thay).",
                                     path=key_path))
    signer = keys.generate(Path(key_path), Path(cert_path),
                           common_name=current_app.config["CERT_SIGNER_NAME"],
                           days=int(current_app.config["CERT_SIGNER_DAYS"]))
    click.echo(_("Đã tạo khoá %(key)s và chứng thư %(cert)s.", key=key_path, cert=cert_path))
    click.echo("kid: " + signer.kid.hex())


@group.command("trust-list")
@with_appcontext
def trust_list() -> None:
    """In danh sách khoá công khai (kid -> chứng thư DER, base64) cho bên kiểm tra."""
    click.echo(json.dumps(keys.trust_list(), indent=2, sort_keys=True))


@group.command("verify")
@click.argument("hc1", required=False)
@with_appcontext
def verify(hc1: str | None) -> None:
    """Kiểm tra một chứng nhận HC1:... (đọc từ stdin nếu không truyền)."""
    text = hc1 if hc1 else sys.stdin.read()
    shown = services.check(text.strip())
    click.echo(f"{shown.outcome.value}: {outcome_label(shown.outcome)}")
    if shown.doses is not None:
        click.echo(f"{shown.name} · {shown.birth_date}")
        for dose in shown.doses:
            click.echo(f"  {dose['vaccine']} {dose['number']}/{dose['series']} "
                       f"{dose['given_on']} {dose['country']}")
    if shown.outcome.value != "valid":
        sys.exit(1)


def outcome_label(outcome) -> str:
    return str(OUTCOME_LABELS[outcome])
