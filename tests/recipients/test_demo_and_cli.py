"""`vaxportal seed-demo` adds demo recipients; `vaxportal seed-vaccines` loads the catalogue."""

from __future__ import annotations

import random

import sqlalchemy as sa

from vaxportal.recipients.demo import _person
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.services import validate_recipient_data


def test_seed_vaccines_cli_is_idempotent(runner, db):
    first = runner.invoke(args=["seed-vaccines"])
    assert first.exit_code == 0, first.output
    names = set(db.session.scalars(sa.select(Vaccine.name)))
    assert {"Vaxzevria (AstraZeneca)", "Comirnaty (Pfizer-BioNTech)", "Spikevax (Moderna)",
            "BBIBP-CorV (Sinopharm, Vero Cell)", "Sputnik V", "Abdala", "Hayat-Vax"} <= names
    again = runner.invoke(args=["seed-vaccines"])
    assert "0" in again.output
    assert db.session.scalar(sa.select(sa.func.count(Vaccine.id))) == len(names)


def test_nothing_is_seeded_at_start_up(app, db):
    assert db.session.scalar(sa.select(sa.func.count(Vaccine.id))) == 0


def test_seed_demo_adds_a_few_hundred_recipients_with_doses(runner, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    count = db.session.scalar(sa.select(sa.func.count(Recipient.id)))
    assert 200 <= count <= 600
    assert db.session.scalar(sa.select(sa.func.count(Dose.id))) > count
    facilities = db.session.scalar(sa.select(sa.func.count(sa.distinct(Recipient.facility_id))))
    assert facilities >= 6
    names = list(db.session.scalars(sa.select(Recipient.full_name)))
    assert any(n.startswith("Đặng") for n in names)
    assert any(n.startswith("Nguyễn") for n in names)
    sample = db.session.scalars(sa.select(Recipient).limit(20)).all()
    for r in sample:  # demo data follows the entry rules
        data = {k: getattr(r, k) for k in ("full_name", "date_of_birth", "gender",
                                           "national_id", "insurance_number", "phone")}
        assert validate_recipient_data(data)[1] == {}


def test_seed_demo_is_deterministic(runner, db):
    """The same people every run: the generator is ``random.Random(2021)``."""
    runner.invoke(args=["seed-demo"])
    first = db.session.scalar(sa.select(Recipient).order_by(Recipient.id).limit(1))
    expected = _person(random.Random(2021), set())
    assert (first.full_name, first.national_id) == (expected["full_name"],
                                                    expected["national_id"])
