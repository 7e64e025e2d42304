"""A province's register at scale, for the benchmarks: An Giang's communes under its
district health centres, recipients with realistic Vietnamese names, 12-digit CCCD, birth
dates, phones and insurance numbers, their doses, and the audit trail of that history.

    .venv/bin/python bench/generate.py --scale 0.05 [--uri postgresql+psycopg://...]

``--scale 1`` is a province: 2,000,000 recipients and their doses (2.7 each on average,
about 5.3 million: a series stops at the end of 2023). The people are
spread over the communes with a realistic skew (a few large urban wards, many small rural
communes), not evenly. Every derived column is filled by the app's own functions
(``text.clean``, ``models.search_keys``, ``registry.change``), a sample of the
rows is checked against the register form's rules, and the audit rows are written by the
chain's own ``chain.append`` in batches, so ``vaxportal audit verify`` checks a realistic
trail. Rows are loaded with COPY on PostgreSQL and ``executemany`` on SQLite through an
engine of their own: the app's guard refuses bulk writes to audited tables by design, and
this loader writes the audit rows itself; the coverage summary, which the session hook keeps
for ORM writes, is computed at the end (``reports.summary.rebuild``). It drops and creates
every table of the database (``bench.common.bench_app``): give it a database of its own.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import bench_app  # noqa: E402
from vaxportal.audit import chain, registry  # noqa: E402
from vaxportal.auth.models import Account, AccountStatus, Role  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.facilities import tree  # noqa: E402
from vaxportal.facilities.models import FacilityKind  # noqa: E402
from vaxportal.recipients import codes  # noqa: E402
from vaxportal.recipients.demo import FIRST_DAY, MOBILE_PREFIXES, OCCUPATIONS, STREETS  # noqa: E402
from vaxportal.recipients.models import Dose, Recipient, Vaccine, search_keys  # noqa: E402
from vaxportal.recipients.services import FIELD_KEYS, validate_recipient_data  # noqa: E402
from vaxportal.recipients.vaccines import seed_vaccines  # noqa: E402
from vaxportal.reports import summary  # noqa: E402
from vaxportal.text import clean  # noqa: E402
from vaxportal.timeutil import utcnow  # noqa: E402

PROVINCE_RECIPIENTS = 2_000_000
PROVINCE = "91"  # An Giang
CCCD_PROVINCE = "089"  # An Giang's code in the CCCD number
DISTRICTS = 11
BATCH = 20_000

# Family names with their share of the population (Nguyễn is about 38 %).
FAMILY = (("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Huỳnh", 4), ("Hoàng", 1.1),
          ("Phan", 4.5), ("Võ", 3.9), ("Vũ", 1), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4),
          ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5), ("Đinh", 0.6), ("Trương", 1),
          ("Lâm", 0.8), ("Châu", 0.6), ("Thái", 0.4), ("Tô", 0.3), ("La", 0.2), ("Kim", 0.2),
          ("Danh", 0.3), ("Thạch", 0.2), ("Mai", 0.4), ("Lưu", 0.3), ("Quách", 0.2))
MIDDLE = {"male": (("Văn", 45), ("Hữu", 6), ("Đức", 5), ("Minh", 10), ("Quốc", 6),
                   ("Thành", 6), ("Công", 4), ("Hoàng", 4), ("Thanh", 6), ("Tấn", 4),
                   ("Ngọc", 2), ("Trọng", 2)),
          "female": (("Thị", 55), ("Ngọc", 10), ("Thu", 5), ("Kim", 6), ("Thanh", 6),
                     ("Mỹ", 5), ("Bích", 3), ("Hồng", 4), ("Phương", 3), ("Diễm", 3))}
GIVEN = {"male": ("An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Khoa", "Long", "Nam",
                  "Phúc", "Quang", "Sơn", "Tài", "Thắng", "Toàn", "Trung", "Vinh", "Huy",
                  "Khang", "Kiệt", "Lộc", "Nghĩa", "Nhân", "Phát", "Phong", "Tâm", "Thịnh",
                  "Tuấn", "Tú", "Việt", "Vũ", "Bảo", "Duy", "Hiếu", "Hoàng", "Khải", "Lâm",
                  "Minh", "Quý", "Sang", "Thái", "Thiện", "Tín", "Trí", "Trọng", "Tường",
                  "Hậu", "Hưng", "Luân"),
         "female": ("An", "Anh", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
                    "Mai", "Nga", "Oanh", "Phương", "Thảo", "Trang", "Uyên", "Yến", "Diệu",
                    "Giang", "Hằng", "Hiền", "Huyền", "Khánh", "Liên", "Loan", "Ly", "My",
                    "Ngân", "Ngọc", "Nhung", "Như", "Nhi", "Quyên", "Quỳnh", "Tâm", "Thúy",
                    "Thư", "Tiên", "Trâm", "Trinh", "Tuyết", "Vân", "Vy", "Xuân", "Ánh",
                    "Châu", "Đào", "Hồng", "Kiều")}
ETHNICITY = (("01", 94), ("04", 3), ("17", 1.5), ("05", 1.5))  # Kinh, Hoa, Chăm, Khmer
PRIORITY = ("N01", "N02", "N05", "N07", "N08", "N09", "N12", "N18")
# doses per person, before a series is cut at LAST_DAY (about 2.7 on average after)
DOSES = ((0, 3), (1, 5), (2, 17), (3, 45), (4, 30))
LAST_DAY = date(2023, 12, 31)


@dataclass
class Place:
    """The tree as the generator needs it: commune stations and their weights."""

    station_ids: list[int] = field(default_factory=list)
    ward_of: dict[int, str] = field(default_factory=dict)
    cum_weights: list[float] = field(default_factory=list)
    accounts: dict[str, int] = field(default_factory=dict)


def build_place(rng: random.Random) -> Place:
    """DOH → 11 district health centres → a commune station for each of An Giang's communes
    (through the ORM: the audit hook writes their rows); one account of each role."""
    doh = tree.add_facility("SYT-AG", "Sở Y tế An Giang", FacilityKind.provincial_doh)
    districts = [tree.add_facility(f"TTYT-{n:02d}", f"Trung tâm Y tế khu vực {n}",
                                   FacilityKind.district_health_centre, doh)
                 for n in range(1, DISTRICTS + 1)]
    place = Place()
    weights = []
    for number, (ward, name) in enumerate(codes._wards()[PROVINCE]):
        station = tree.add_facility(f"TYT-{ward}", f"Trạm Y tế {name}",
                                    FacilityKind.commune_station,
                                    districts[number % DISTRICTS])
        place.station_ids.append(station.id)
        place.ward_of[station.id] = ward
        urban = 2.5 if name.startswith("Phường") else 1.0
        weights.append(urban * math.exp(rng.gauss(0, 0.8)))
    total = 0.0
    for weight in weights:
        total += weight
        place.cum_weights.append(total)
    biggest = place.station_ids[max(range(len(weights)), key=weights.__getitem__)]
    for username, role, facility_id in (
        ("bench.nurse", Role.data_entry, biggest),
        ("bench.supervisor", Role.supervisor, districts[0].id),
        ("bench.reviewer", Role.reviewer, doh.id),
    ):
        account = Account(username=username, role=role, facility_id=facility_id,
                          phone=f"+849{rng.randrange(10**8):08d}", password_hash="-",
                          status=AccountStatus.active, must_change_password=False,
                          phone_verified_at=utcnow())
        db.session.add(account)
        db.session.flush()
        place.accounts[username] = account.id
    seed_vaccines()
    db.session.commit()
    return place


class People:
    """Deterministic people: name, sex, birth date, identifiers, address."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.national_ids: set[int] = set()
        self.family = [name for name, _w in FAMILY]
        self.family_cum = _cumulative(weight for _n, weight in FAMILY)
        self.middle = {g: ([n for n, _w in m], _cumulative(w for _n, w in m))
                       for g, m in MIDDLE.items()}
        self.ethnicity = ([c for c, _w in ETHNICITY], _cumulative(w for _c, w in ETHNICITY))

    def person(self, ward: str) -> dict:
        rng = self.rng
        gender = "male" if rng.random() < 0.49 else "female"
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 88))
        names, cum = self.middle[gender]
        given = rng.choice(GIVEN[gender])
        if rng.random() < 0.25:  # a two-word given name: "Ngọc Anh"
            given = f"{rng.choice(GIVEN[gender])} {given}"
        full = " ".join((rng.choices(self.family, cum_weights=self.family_cum)[0],
                         rng.choices(names, cum_weights=cum)[0], given))
        codes_, cum_e = self.ethnicity
        return {
            "full_name": clean(full), "date_of_birth": born, "gender": gender,
            "national_id": self.national_id(born, gender),
            "insurance_number": self.insurance() if rng.random() < 0.85 else None,
            "phone": f"+84{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
            if rng.random() < 0.75 else None,
            "occupation": rng.choice(OCCUPATIONS),
            "ethnicity": rng.choices(codes_, cum_weights=cum_e)[0], "nationality": "VN",
            "priority_group": rng.choice(PRIORITY) if rng.random() < 0.6 else None,
            "province": PROVINCE, "district": None, "ward": ward,
            "street": f"{rng.randrange(1, 400)} {rng.choice(STREETS)}",
        }

    def national_id(self, born: date, gender: str) -> str:
        """CCCD: province, century and sex, year of birth, six digits; unique."""
        century_gender = (0 if born.year < 2000 else 2) + (1 if gender == "female" else 0)
        head = int(f"{CCCD_PROVINCE}{century_gender}{born.year % 100:02d}") * 10**6
        while True:
            number = head + self.rng.randrange(10**6)
            if number not in self.national_ids:
                self.national_ids.add(number)
                return f"{number:012d}"

    def insurance(self) -> str:
        rng = self.rng
        return (f"{rng.choice(('GD', 'HT', 'DN', 'CN', 'TE', 'HN'))}{rng.randrange(1, 6)}89"
                f"{rng.randrange(10**10):010d}")


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def check_against_the_form(people: People, ward: str) -> None:
    """The generated values are those the register form would store (a sample: the form is
    too slow for every row)."""
    for _ in range(100):
        data = people.person(ward)
        cleaned, errors = validate_recipient_data(data)
        differs = {key: (data.get(key), cleaned.get(key)) for key in FIELD_KEYS
                   if cleaned.get(key) != data.get(key)}
        if errors or differs:
            raise SystemExit(f"generator differs from the form's rules: {errors or differs}")


# -- the rows -------------------------------------------------------------------------------

RECIPIENT_COLUMNS = ("id", *FIELD_KEYS, "name_key", "name_words", "facility_id", "created_at",
                     "updated_at", "version_id")
DOSE_COLUMNS = ("id", "recipient_id", "facility_id", "vaccine_id", "lot_number", "dose_number",
                "given_on", "vaccinator", "aefi", "aefi_note", "created_at", "version_id")


class Generator:
    def __init__(self, rng: random.Random, place: Place, total: int,
                 vaccines: list[tuple[int, str, int]]):
        self.rng, self.place, self.total, self.vaccines = rng, place, total, vaccines
        self.people = People(rng)
        self.next_dose = 1

    def batch(self, first: int, size: int) -> tuple[list[dict], list[dict]]:
        """Recipients ``first`` .. ``first + size - 1`` (their search keys as the register
        writes them: ``models.search_keys``) and their doses."""
        rng, place = self.rng, self.place
        stations = rng.choices(place.station_ids, cum_weights=place.cum_weights, k=size)
        recipients, doses = [], []
        for offset, station in enumerate(stations):
            rid = first + offset
            row = self.people.person(place.ward_of[station])
            registered = self._registered_at(rid)
            name_key, words = search_keys(row["full_name"])
            row.update(id=rid, name_key=name_key, name_words=words, facility_id=station,
                       created_at=registered, updated_at=registered, version_id=1)
            recipients.append(row)
            doses.extend(self._doses(rid, station, registered))
        return recipients, doses

    def _registered_at(self, rid: int) -> datetime:
        """Registrations spread over the campaign, in id order."""
        span = (LAST_DAY - FIRST_DAY).days * 86400
        at = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
        return at + timedelta(seconds=span * (rid - 1) / max(1, self.total))

    def _doses(self, rid: int, station: int, registered: datetime) -> list[dict]:
        rng = self.rng
        count = rng.choices([n for n, _w in DOSES], weights=[w for _n, w in DOSES])[0]
        vaccine_id, code, interval = rng.choice(self.vaccines)
        given = registered.date()
        rows = []
        for number in range(1, count + 1):
            if given > LAST_DAY:
                break
            if number == 3:  # boosters: often another vaccine
                vaccine_id, code, interval = rng.choice(self.vaccines)
            facility = station if rng.random() < 0.92 else rng.choices(
                self.place.station_ids, cum_weights=self.place.cum_weights)[0]
            mild = rng.random() < 0.04
            rows.append({
                "id": self.next_dose, "recipient_id": rid, "facility_id": facility,
                "vaccine_id": vaccine_id, "lot_number": f"{code}-{rng.randrange(1000, 9999)}",
                "dose_number": number, "given_on": given,
                "vaccinator": f"{rng.choice(self.people.family)} Thị "
                              f"{rng.choice(GIVEN['female'])}",
                "aefi": "mild" if mild else "none",
                "aefi_note": "Sốt nhẹ, đau tại chỗ tiêm" if mild else None,
                "created_at": datetime.combine(given, datetime.min.time(), UTC)
                + timedelta(hours=8 + rng.randrange(9)),
                "version_id": 1,
            })
            self.next_dose += 1
            given += timedelta(days=max(interval, 21) + rng.randrange(0, 120))
        return rows


def audit_rows(model, rows: list[dict]) -> list[dict]:
    """The audit rows the hook writes for these inserts: the same ``changes`` (every
    audited column set, as ``registry.change`` gives it), entity, facility and time."""
    spec = registry.spec_for(model)
    audited = registry.audited_columns(sa.inspect(model), spec)
    out = []
    for row in rows:
        changes = {key: registry.change(spec, key, None, row[key])
                   for key, _c in audited if row.get(key) is not None}
        out.append({"category": spec.category, "action": "insert", "entity": spec.entity,
                    "entity_id": str(row["id"]),
                    "facility_id": spec.facility_of(SimpleNamespace(**row)),
                    "actor": "bench.generate", "changes": changes, "at": row["created_at"]})
    return out


# -- loading ----------------------------------------------------------------------------------

def load(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: list[dict]) -> None:
    """COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        names = ", ".join(columns)
        with raw.cursor().copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(_naive_utc(row.get(name)) for name in columns))
        return
    conn.execute(table.insert(), [{name: row.get(name) for name in columns} for row in rows])


def _naive_utc(value):
    """As ``timeutil.UTCDateTime`` stores a time (COPY bypasses the column types)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def generate(uri: str | None, scale: float, seed: int = 2026, audit: bool = True,
             summary_tables: bool = True, folder: Path | None = None):
    """Build the database; returns (app, place, counts). ``summary_tables=False`` leaves the
    coverage summary empty (the register, export and audit benchmarks never read it; its
    rebuild in Python is most of a large build's time). ``folder`` keeps the SQLite file (and
    the audit checkpoints) there instead of in a temporary folder."""
    app = bench_app(uri, folder)
    rng = random.Random(seed)
    total = max(1000, int(PROVINCE_RECIPIENTS * scale))
    with app.app_context():
        place = build_place(rng)
        vaccines = [(v.id, v.code, v.min_interval_days) for v in db.session.scalars(
            sa.select(Vaccine).where(Vaccine.active.is_(True)).order_by(Vaccine.id))]
        generator = Generator(rng, place, total, vaccines)
        check_against_the_form(People(random.Random(seed + 1)),
                               place.ward_of[place.station_ids[0]])
        engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])  # no app guard
        with engine.begin() as conn:
            _before_load(conn)
        counts = {"recipients": 0, "doses": 0, "audit rows": 0}
        for first in range(1, total + 1, BATCH):
            size = min(BATCH, total - first + 1)
            recipients, doses = generator.batch(first, size)
            with engine.begin() as conn:
                load(conn, Recipient.__table__, RECIPIENT_COLUMNS, recipients)
                load(conn, Dose.__table__, DOSE_COLUMNS, doses)
                if audit:
                    counts["audit rows"] += len(chain.append(
                        conn, audit_rows(Recipient, recipients) + audit_rows(Dose, doses)))
            counts["recipients"] += len(recipients)
            counts["doses"] += len(doses)
        with engine.begin() as conn:  # COPY bypassed the ORM and so the summary's hook
            if summary_tables:
                started = time.perf_counter()
                counts["coverage summary people"] = summary.rebuild(conn)
                counts["coverage summary seconds"] = round(time.perf_counter() - started)
            _after_load(conn)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")  # not in a transaction
        engine.dispose()
    return app, place, counts


def _name_words_index() -> sa.Index:
    return next(index for index in Recipient.__table__.indexes
                if index.name == "ix_recipient_name_words")


def _before_load(conn: sa.Connection) -> None:
    """PostgreSQL: the names' GIN index dropped for the load and built once after it
    (``_after_load``): it has no pending list, so kept row by row it would make the load
    several times longer (a migration builds it over the filled column in the same way)."""
    if conn.dialect.name == "postgresql":
        _name_words_index().drop(conn)


def _after_load(conn: sa.Connection) -> None:
    """PostgreSQL: the names' index built and sequences past the ids written; then
    (``generate``, outside a transaction) ``VACUUM (ANALYZE)``: the statistics, and the
    visibility map, as autovacuum leaves a table after a load (since PostgreSQL 13 it also
    vacuums a table that only grew), without which no index-only scan is planned (a
    station's capped count was a sequential scan of 4-8 ms on the unvacuumed 2,000,000
    rows, an index-only scan of about 1 ms after). SQLite is left as the app leaves it (no
    ANALYZE)."""
    if conn.dialect.name != "postgresql":
        return
    _name_words_index().create(conn)
    for table in ("recipient", "dose"):
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.05,
                        help="1.0 = a province: 2,000,000 recipients, ~5,300,000 doses")
    parser.add_argument("--uri")
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--no-summary", action="store_true",
                        help="leave the coverage summary's tables empty")
    args = parser.parse_args()
    started = time.perf_counter()
    app, _place, counts = generate(args.uri, args.scale, audit=not args.no_audit,
                                   summary_tables=not args.no_summary)
    print(", ".join(f"{value} {key}" for key, value in counts.items())
          + f" in {time.perf_counter() - started:.0f} s: "
          + app.config["SQLALCHEMY_DATABASE_URI"].split("@")[-1])


if __name__ == "__main__":
    main()
