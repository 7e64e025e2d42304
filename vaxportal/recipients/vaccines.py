"""The vaccine catalogue: the COVID-19 vaccines used in Vietnam.

Nothing is seeded at import or start-up: ``seed_vaccines()`` runs from ``vaxportal
seed-vaccines``, from ``vaxportal seed-demo`` and from tests.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from flask_babel import gettext as _

from vaxportal.extensions import db
from vaxportal.recipients.models import Vaccine

# (code, name, manufacturer, doses in the primary series, minimum interval in days)
CATALOGUE = (
    ("AZ", "Vaxzevria (AstraZeneca)", "AstraZeneca", 2, 28),
    ("PFIZER", "Comirnaty (Pfizer-BioNTech)", "Pfizer-BioNTech", 2, 21),
    ("MODERNA", "Spikevax (Moderna)", "Moderna", 2, 28),
    ("VEROCELL", "BBIBP-CorV (Sinopharm, Vero Cell)", "Sinopharm (Beijing Institute)", 2, 21),
    ("SPUTNIKV", "Sputnik V", "Gamaleya", 2, 21),
    ("ABDALA", "Abdala", "CIGB (Cuba)", 3, 14),
    ("HAYAT", "Hayat-Vax", "Julphar / Sinopharm", 2, 21),
    ("JANSSEN", "Jcovden (Janssen)", "Janssen (Johnson & Johnson)", 1, 0),
    ("COVAXIN", "Covaxin", "Bharat Biotech", 2, 28),
)


def seed_vaccines() -> int:
    """Add the catalogue's vaccines that are missing (by code); returns how many were added.
    Flushes, does not commit."""
    existing = set(db.session.scalars(sa.select(Vaccine.code)))
    added = 0
    for code, name, manufacturer, doses, interval in CATALOGUE:
        if code in existing:
            continue
        db.session.add(Vaccine(code=code, name=name, manufacturer=manufacturer,
                               doses_in_series=doses, min_interval_days=interval))
        added += 1
    db.session.flush()
    return added


def active_vaccines() -> list[Vaccine]:
    return list(db.session.scalars(
        sa.select(Vaccine).where(Vaccine.active.is_(True)).order_by(Vaccine.name)
    ))


@click.command("seed-vaccines")
@with_appcontext
def seed_vaccines_command() -> None:
    """Nạp danh mục vắc xin COVID-19 (chạy lại không thêm gì)."""
    added = seed_vaccines()
    db.session.commit()
    click.echo(_("Đã thêm %(n)s vắc xin vào danh mục.", n=added))
