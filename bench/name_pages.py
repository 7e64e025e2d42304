"""A typed name's page of the register, common and rare names, in three scopes: the page as
the register reads it (``search._page_rows``: the whole-name part by the name index, the
other matches only when it runs short, ``RegisterFilter._name_page``) against the one
ranked statement it replaced (``RegisterFilter.ranked_statement``: every match through the
words' index, sorted), same run, same data, called alternately (``common.paired``).

    .venv/bin/python bench/name_pages.py --uri URI [--names "nguyen" "nguyen thi" ...]

``URI``: a database ``bench/generate.py`` made (its accounts ``bench.nurse``,
``bench.supervisor``, ``bench.reviewer``); nothing is written to it. The ratio is the page
over the one statement: below 1 the two parts are cheaper. Both give the same rows (checked
before timing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import paired  # noqa: E402
from vaxportal import create_app  # noqa: E402
from vaxportal.auth.models import Account  # noqa: E402
from vaxportal.extensions import db  # noqa: E402
from vaxportal.recipients.search import (  # noqa: E402
    RegisterFilter,
    _page_columns,
    _page_rows,
    search_choices,
)

ACCOUNTS = (("nurse, own commune station", "bench.nurse"),
            ("supervisor, district", "bench.supervisor"),
            ("reviewer, province", "bench.reviewer"))
#: common names typed from their start, one typed out of order (no whole-name part), and
#: rarer full names
NAMES = ("nguyen", "nguyen thi", "tran van", "thi nguyen", "le thi hong", "pham van an")
PER_PAGE = 25


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--names", nargs="*", default=list(NAMES))
    parser.add_argument("--page", type=int, default=1)
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.uri, "SECRET_KEY": "bench",
                      "OTP_ENCRYPTION_KEY": "bench", "AUDIT_KEY": "bench", "TESTING": True})
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"a name's page {args.page} ({PER_PAGE} rows), {dialect}: two parts vs the one "
              f"ranked statement (ratio below 1: the two parts cheaper)")
        for label, username in ACCOUNTS:
            account = db.session.scalar(sa.select(Account).where(Account.username == username))
            for q in args.names:
                mine, base = measure(account, q, args.page)
                print(f"  {label:<28} {q!r:<15} {mine * 1e3:8.1f} ms vs {base * 1e3:8.1f} ms"
                      f"  x{mine / base:5.2f}", flush=True)
                db.session.rollback()


def measure(account, q: str, page_number: int) -> tuple[float, float]:
    """Median seconds of the register's page and of the one ranked statement."""
    register_filter = RegisterFilter(q=q)
    search_choices(account)  # as in the register's request: the scope's shape is known
    one = (register_filter.ranked_statement(account, *_page_columns())
           .limit(PER_PAGE).offset((page_number - 1) * PER_PAGE))
    conn = db.session.connection()

    def page():
        return [row["id"] for row in _page_rows(register_filter, account, page_number,
                                                PER_PAGE)]

    def one_statement():
        return [row.id for row in conn.execute(one)]

    if page() != one_statement():
        raise SystemExit(f"{account.username} {q!r}: the two reads differ")
    return paired(page, one_statement)


if __name__ == "__main__":
    main()
