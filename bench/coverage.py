"""Coverage at scale (issue 15): a district's and the province's coverage, and the doses of a
month by day, against the baseline of one recipient read by primary key, same run, same data.
The issue's target is p95 <= 20x the baseline; the line says PASS or FAIL.

    .venv/bin/python bench/coverage.py [--recipients 20000] [--uri …]
    .venv/bin/python bench/coverage.py --scale 0.05 [--uri …]   # bench/generate.py's province

``--recipients`` builds a small even province through the ORM (the summary kept by its
session hook); ``--scale`` loads ``bench/generate.py``'s province (An Giang's communes, COPY,
the summary rebuilt at the end) and measures with its supervisor and reviewer.
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
from bench.generate import generate  # noqa: E402
from vaxportal.auth.models import Account  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.facilities import tree  # noqa: E402
from vaxportal.facilities.models import Facility  # noqa: E402
from vaxportal.recipients.models import Dose, Recipient, Vaccine  # noqa: E402
from vaxportal.recipients.vaccines import seed_vaccines  # noqa: E402
from vaxportal.reports import coverage  # noqa: E402

TARGET = 20.0
AS_OF = date(2022, 6, 30)
GENERATED_AS_OF = date(2023, 6, 30)
CHUNK = 2_000


def build(recipients: int):
    """A province of 10 districts of 10 communes; people spread over the communes, each
    with 0 to 3 doses."""
    province = tree.add_facility("P", "Sở Y tế", "provincial_doh")
    communes, district = [], None
    for d in range(10):
        district = tree.add_facility(f"D{d}", f"TTYT {d}", "district_health_centre", province)
        communes += [tree.add_facility(f"D{d}C{c}", f"TYT {d}.{c}", "commune_station",
                                       district) for c in range(10)]
    seed_vaccines()
    db.session.commit()
    vaccines = list(db.session.scalars(sa.select(Vaccine)))
    rng = random.Random(15)
    for start in range(0, recipients, CHUNK):
        people = []
        for n in range(start, min(recipients, start + CHUNK)):
            people.append(Recipient(
                full_name=f"Nguyễn Văn {n}", date_of_birth=date(1940, 1, 1) + timedelta(
                    days=rng.randrange(30_000)), gender="male",
                facility_id=rng.choice(communes).id, priority_group=rng.choice(
                    (None, "N01", "N08"))))
        db.session.add_all(people)
        db.session.flush()
        for person in people:
            vaccine, day = rng.choice(vaccines), date(2021, 6, 1)
            for number in range(1, rng.randrange(5)):
                day += timedelta(days=rng.randrange(21, 90))
                db.session.add(Dose(recipient_id=person.id, facility_id=person.facility_id,
                                    vaccine_id=vaccine.id, lot_number="L", vaccinator="V",
                                    dose_number=number, given_on=day))
        db.session.commit()
    return province, district


def p95_pair(fn, baseline, rounds: int = 30) -> tuple[float, float]:
    """p95 seconds of ``fn`` and of ``baseline``, called alternately (after a warm-up), so
    that a load on the shared machine weighs on both alike."""
    fn()
    baseline()
    measured, base = [], []
    for _ in range(rounds):
        for call, samples in ((baseline, base), (fn, measured)):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
    return (statistics.quantiles(measured, n=20)[18], statistics.quantiles(base, n=20)[18])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--scale", type=float,
                        help="bench/generate.py's province instead (1.0 = 2,000,000 people)")
    parser.add_argument("--uri")
    args = parser.parse_args()
    as_of = AS_OF
    if args.scale:
        started = time.perf_counter()
        app, place, counts = generate(args.uri, args.scale, audit=False)
        print(f"generated in {time.perf_counter() - started:.0f} s: {counts}")
        as_of = GENERATED_AS_OF
    else:
        app = bench_app(args.uri)
    with app.app_context():
        if args.scale:
            reviewer, supervisor = (db.session.get(Account, place.accounts[name])
                                    for name in ("bench.reviewer", "bench.supervisor"))
            province, district = reviewer.facility, supervisor.facility
        else:
            ids = [f.id for f in build(args.recipients)]
            db.session.expunge_all()  # measure with a session as fresh as a request's
            province, district = (db.session.get(Facility, i) for i in ids)
            reviewer = Account(username="r", role="reviewer", facility_id=province.id,
                               phone="+84900000001", password_hash="x")
            supervisor = Account(username="s", role="supervisor", facility_id=district.id,
                                 phone="+84900000002", password_hash="x")
        people = db.session.scalar(sa.select(sa.func.count(Recipient.id)))
        doses = db.session.scalar(sa.select(sa.func.count(Dose.id)))
        print(f"recipients: {people}, doses: {doses}, as of {as_of}")
        some = db.session.scalar(sa.select(sa.func.max(Recipient.id))) // 2
        def baseline():
            db.session.execute(sa.select(Recipient.id, Recipient.full_name)
                               .where(Recipient.id == some)).all()

        cases = (
            ("district coverage by facility (supervisor)",
             lambda: coverage.coverage(supervisor, district, as_of, "facility")),
            ("province coverage by facility (reviewer)",
             lambda: coverage.coverage(reviewer, province, as_of, "facility")),
            ("province coverage by priority group (reviewer)",
             lambda: coverage.coverage(reviewer, province, as_of, "group")),
            ("province coverage by age band (reviewer)",
             lambda: coverage.coverage(reviewer, province, as_of, "band")),
            ("province doses of a month by day (reviewer)",
             lambda: coverage.doses_over_time(reviewer, province, as_of - timedelta(days=29),
                                              as_of)),
        )
        for name, fn in cases:
            value, base = p95_pair(fn, baseline)
            ratio = value / base
            verdict = "PASS" if ratio <= TARGET else "FAIL"
            print(f"{name:<46} p95 {value * 1e3:8.1f} ms, key {base * 1e6:7.0f} us  "
                  f"x{ratio:8.1f}  {verdict} (target x{TARGET:.0f})")
        db.session.rollback()


if __name__ == "__main__":
    main()
