"""What the coverage summary costs the doses' write path (issue 15): a dose recorded the way
the dose form records it (one ORM object, one commit, audited by the session hook), with the
summary's session events (``reports/summary.py``) and without them, alternately on the same
data, so a load on the shared machine weighs on both alike.

    .venv/bin/python bench/summary_upkeep.py [--people 2000] [--doses 300] [--uri …]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import bench_app  # noqa: E402
from bench.coverage import build  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.recipients.models import Dose, Recipient, Vaccine  # noqa: E402
from vaxportal.reports import summary  # noqa: E402

ROUND = 10


def record(rng: random.Random, people: list[tuple[int, int]], vaccines: list[int]) -> float:
    """Seconds to record one dose for a random person, committed."""
    rid, facility = rng.choice(people)
    start = time.perf_counter()
    db.session.add(Dose(recipient_id=rid, facility_id=facility, vaccine_id=rng.choice(vaccines),
                        lot_number="L", vaccinator="V", dose_number=rng.randrange(1, 5),
                        given_on=date(2022, 1, 1) + timedelta(days=rng.randrange(365))))
    db.session.commit()
    return time.perf_counter() - start


def arguments(doses: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--doses", type=int, default=doses)
    parser.add_argument("--uri")
    return parser.parse_args()


def people_and_vaccines(people: int) -> tuple[list, list[int]]:
    """``bench/coverage.py``'s province of ``people``: (recipient id, facility id) of each,
    and the vaccines' ids (in an app context)."""
    build(people)
    return (db.session.execute(sa.select(Recipient.id, Recipient.facility_id)).all(),
            list(db.session.scalars(sa.select(Vaccine.id))))


def main() -> None:
    args = arguments(doses=300)
    app = bench_app(args.uri)
    with app.app_context():
        people, vaccines = people_and_vaccines(args.people)
        rng = random.Random(15)
        samples = {True: [], False: []}
        for n in range(args.doses // ROUND):
            for on in (n % 2 == 0, n % 2 == 1):
                (summary.install if on else summary.uninstall)()
                samples[on] += [record(rng, people, vaccines) for _ in range(ROUND)]
        summary.install()
        with_, without = (statistics.median(samples[k]) for k in (True, False))
        p95 = {k: statistics.quantiles(v, n=20)[18] for k, v in samples.items()}
        print(f"people {args.people}, doses recorded {2 * len(samples[True])}")
        print(f"one dose, audited, without the summary: median {without * 1e3:6.1f} ms, "
              f"p95 {p95[False] * 1e3:6.1f} ms")
        print(f"one dose, audited, with the summary:    median {with_ * 1e3:6.1f} ms, "
              f"p95 {p95[True] * 1e3:6.1f} ms  x{with_ / without:.2f}")
        db.session.rollback()


if __name__ == "__main__":
    main()
