"""The recipient register's search at scale: tens of thousands of recipients spread over the
demo province's facilities, searched by the demo accounts of three scopes (one commune
station, a district, the province), against the baseline of one recipient read by primary
key, same run, same data.

    .venv/bin/python bench/search.py [--recipients 50000] [--uri postgresql+psycopg://...]

Each measured call is what one request of the register does: ``register_page`` (the capped
count for the header, one page of 25 rows, their facility names and dose counts), with the
per-request caches of the scope cleared before every call. Each line's ratio is
against the baseline called alternately with it (``common.paired``), so that the tests
other people run on the same machine weigh on both alike.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask import g  # noqa: E402

from bench.common import bench_app, paired, report, timed  # noqa: E402
from vaxportal import demo, policy  # noqa: E402
from vaxportal.auth.models import Account, AccountStatus  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.facilities import tree  # noqa: E402
from vaxportal.facilities.models import Facility  # noqa: E402
from vaxportal.recipients.codes import CODED_FIELDS  # noqa: E402
from vaxportal.recipients.demo import ENTRY_KINDS, _person  # noqa: E402
from vaxportal.recipients.models import Recipient  # noqa: E402
from vaxportal.recipients.search import (  # noqa: E402
    COUNT_CAP,
    ROW_COLUMNS,
    RegisterFilter,
    register_page,
)
from vaxportal.recipients.services import FIELD_KEYS, validate_recipient_data  # noqa: E402

NAME = "nguyen van an"
PAGE_SIZE = 25
CHUNK = 5_000
#: the demo accounts of the three scopes: one facility, a district, the province
ACCOUNTS = (("data_entry, own commune station", "tyt.mybinh"),
            ("supervisor, district subtree", "ttyt.longxuyen"),
            ("reviewer, province subtree", "syt.angiang"))


def seed(total: int) -> None:
    """The demo province's facilities and accounts, then ``total`` recipients spread evenly
    over the facilities that enter data, added through the ORM in chunks (the audit hook
    writes a row for each, as in production)."""
    facilities = province()
    entry = [f.id for _code, f in sorted(facilities.items()) if f.kind in ENTRY_KINDS]
    rng, used = random.Random(2026), set()
    _check_generator(rng, used)
    batch = []
    for number in range(total):
        values = _stored(_person(rng, used))
        batch.append(Recipient(facility_id=entry[number % len(entry)], **values))
        if len(batch) == CHUNK:
            db.session.add_all(batch)
            db.session.commit()
            db.session.expunge_all()
            batch = []
    db.session.add_all(batch)
    db.session.commit()
    db.session.expunge_all()


def province() -> dict[str, Facility]:
    """The facility tree and accounts of ``vaxportal seed-demo``, without what costs time
    and plays no part in a search (password hashing, SMS, the demo recipients' doses)."""
    facilities: dict[str, Facility] = {}
    for code, name, kind, parent, username, role, phone, _person_name in demo.FACILITIES:
        facility = tree.add_facility(code, name, kind, facilities.get(parent))
        facilities[code] = facility
        db.session.add(Account(username=username, role=role, facility_id=facility.id,
                               phone=f"+84{phone[1:]}", password_hash="-",
                               status=AccountStatus.active))
    db.session.commit()
    return facilities


#: the code the register form stores for a text of a coded field: {(field, text, province
#: text): code}, each learnt from the form on the first person that carries it
_CODES: dict[tuple[str, str, str | None], str | None] = {}


def _stored(data: dict) -> dict:
    """The values the register form stores for a generated person. The demo's generator
    writes the coded fields as people type them ("Kinh", "An Giang", "Long Xuyên"), which
    the form stores as codes: each text's code is the form's own, asked once (the form is
    too slow for every row); the other fields are stored as generated."""
    def key(field: str) -> tuple[str, str, str | None]:
        return (field, data[field], data.get("province"))

    coded = [field for field in CODED_FIELDS if data.get(field)]
    if any(key(field) not in _CODES for field in coded):
        clean, errors = validate_recipient_data(data)
        if errors:
            raise SystemExit(f"generator differs from the form's rules: {errors}")
        _CODES.update({key(field): clean.get(field) for field in coded})
    values = {field: data.get(field) for field in FIELD_KEYS}
    values.update({field: _CODES[key(field)] for field in coded})
    return values


def _check_generator(rng: random.Random, used: set[str]) -> None:
    """The generated people, their coded fields as codes (``_stored``), are what the
    register form would have stored; checked on a sample, the form is too slow for every
    row."""
    for _ in range(200):
        data = _person(rng, used)
        clean, errors = validate_recipient_data(data)
        stored = _stored(data)
        if errors or any(clean.get(key) != value for key, value in stored.items()):
            raise SystemExit(f"generator differs from the form's rules: {errors or clean}")


def analyze() -> None:
    """PostgreSQL plans from statistics that autovacuum would have gathered by now; SQLite
    is left as the app leaves it (no ANALYZE)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def request(account, fn):
    """A call as one request makes it: no scope kept from an earlier call (``policy.scope``)
    and the search box's choices not read yet."""
    def call():
        policy.forget_scopes()
        g.pop(f"_recipients_search_choices_{account.id}", None)
        g.pop("_facility_paths", None)
        return fn()
    return call


def page_of(register_filter: RegisterFilter, account):
    return request(account, lambda: register_page(register_filter, account, 1, PAGE_SIZE))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=50_000)
    parser.add_argument("--uri")
    args = parser.parse_args()
    app = bench_app(args.uri)
    with app.app_context():
        started = time.perf_counter()
        seed(args.recipients)
        analyze()
        dialect = db.session.get_bind().dialect.name
        total = db.session.scalar(sa.select(sa.func.count(Recipient.id)))
        print(f"{dialect}: {total} recipients, built in {time.perf_counter() - started:.0f} s")
        run(db.session.scalar(sa.select(sa.func.min(Recipient.id))))


def run(some_id: int) -> None:
    accounts = {name: db.session.scalar(sa.select(Account).where(Account.username == name))
                for _label, name in ACCOUNTS}

    def baseline():
        return db.session.execute(sa.select(*ROW_COLUMNS).where(Recipient.id == some_id)).all()

    def measure(name: str, fn) -> None:
        value, base = paired(fn, baseline)
        report(name, value, base)

    first = timed(baseline)
    report("baseline: one recipient by primary key", first, first)
    own = accounts["tyt.mybinh"]
    national_id = db.session.scalar(sa.select(Recipient.national_id).where(
        Recipient.facility_id == own.facility_id).order_by(Recipient.id.desc()).limit(1))
    for label, username in ACCOUNTS:
        account = accounts[username]
        print(f"-- {label} ({username}): {RegisterFilter().count(account)} in scope")
        cases = (
            (f'name "{NAME}"', RegisterFilter(q=NAME)),
            ('any part of a name "dao"', RegisterFilter(q="dao")),
            ('any part of a name "thi dao"', RegisterFilter(q="thi dao")),
            ("national ID, exact", RegisterFilter(q=national_id)),
            ("no filter (the register's first page)", RegisterFilter()),
        )
        for name, register_filter in cases:
            page = page_of(register_filter, account)()
            hits = f"{page.total}{'+' if page.capped else ''}"
            measure(f"  page: {name} [{hits}]", page_of(register_filter, account))
        measure(f"  header count alone, capped at {COUNT_CAP}",
                request(account, lambda a=account: RegisterFilter().count(a, cap=COUNT_CAP)))
    reviewer = accounts["syt.angiang"]
    broad = RegisterFilter(q="nguyen")
    measure(f'  page: name "nguyen", province [{broad.count(reviewer)}]',
            page_of(broad, reviewer))
    measure("  export confirmation: uncapped count, province",
            request(reviewer, lambda: RegisterFilter().count(reviewer)))


if __name__ == "__main__":
    main()
