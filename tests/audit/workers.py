"""A writer process for the concurrency test: its own app on the same database (PostgreSQL, or
the test's SQLite file)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

ROUNDS = 15
ROWS_PER_ROUND = 3  # a recipient, its edit, an access event
ROWS_PER_WORKER = ROUNDS * ROWS_PER_ROUND


def write_many(uri: str, tmp: str, facility_id: int, worker: int, start) -> None:
    from tests.settings import base_config
    from vaxportal import create_app
    from vaxportal.audit import events
    from vaxportal.extensions import db
    from vaxportal.recipients.models import Recipient

    Path(tmp).mkdir(parents=True, exist_ok=True)
    app = create_app(base_config(uri, Path(tmp)))
    with app.app_context():
        db.session.execute(sa.select(Recipient.id).limit(1))  # connected before the start
        db.session.rollback()
        sqlite = db.engine.dialect.name == "sqlite"
        start.wait(60)  # both processes ready: they start writing together
        for n in range(ROUNDS):
            recipient = Recipient(full_name=f"Người {worker}-{n}", date_of_birth=date(1990, 1, 1),
                                  gender="female", facility_id=facility_id,
                                  national_id=f"0891{worker:02d}{n:06d}")
            db.session.add(recipient)
            db.session.flush()
            time.sleep(0.005)  # hold the append lock a moment: the other writer must wait
            db.session.commit()
            recipient.occupation = "Công nhân"
            events.record("view_identity", category="access", entity="recipient",
                          entity_id=recipient.id, facility_id=facility_id)
            db.session.commit()
            if sqlite:  # SQLite hands its lock to no one in turn: let the waiting writer in
                time.sleep(0.03)
        db.engine.dispose()
