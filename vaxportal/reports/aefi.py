"""Severe adverse events after immunization to follow up: the doses recorded with a severe
AEFI, given in a subtree over a period, counted per line of the dashboard (each child
facility of the node, and the node itself) and listed page by page.

Doses count where they were given (``dose.facility_id``), like every dose figure of the
dashboard; the subtree is read through the account's scope (P1). Each figure is one SQL
statement: only the page shown is loaded into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from vaxportal import policy
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Aefi, Dose, Recipient, Vaccine
from vaxportal.recipients.search import Page
from vaxportal.reports.coverage import facility_lines

#: written into the statement, not bound: the planner then matches the partial index
#: ``ix_dose_severe`` (a bound value hides the condition from it)
SEVERE = sa.literal_column(f"'{Aefi.severe.value}'")


@dataclass(frozen=True)
class Line:
    facility_id: int
    label: str
    severe: int


def _severe(account, node: Facility, start: date, end: date) -> sa.Select:
    """The severe-AEFI doses given in the subtree of ``node`` over the period, in scope."""
    stmt = sa.select().select_from(Dose).where(
        Dose.aefi == SEVERE, Dose.given_on >= start, Dose.given_on <= end)
    return policy.scope(account).filter_below(stmt, Dose.facility_id, node.id)


def counts(account, node: Facility, start: date, end: date) -> tuple[list[Line], int]:
    """The lines with at least one severe event (the node first, then its children by
    name) and the subtree's total."""
    lines = facility_lines(node)
    stmt = (_severe(account, node, start, end)
            .add_columns(lines.c.line, sa.func.count())
            .join(lines, lines.c.fid == Dose.facility_id)
            .group_by(lines.c.line))
    per_line = {line: int(n) for line, n in db.session.execute(stmt)}
    if not per_line:
        return [], 0
    names = dict(db.session.execute(
        sa.select(Facility.id, Facility.name).where(Facility.id.in_(sorted(per_line)))).all())
    order = sorted(per_line, key=lambda fid: (fid != node.id, names.get(fid, ""), fid))
    return ([Line(fid, names.get(fid, ""), per_line[fid]) for fid in order],
            sum(per_line.values()))


def page(account, node: Facility, start: date, end: date, number: int,
         per_page: int, total: int) -> Page:
    """One page of the events (latest first): the dose, its facility and its person's
    identifiers as stored (the view masks them for the reader, ``policy.mask_field``)."""
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    stmt = (_severe(account, node, start, end)
            .add_columns(Dose.id.label("dose_id"), Dose.given_on, Dose.dose_number,
                         Dose.facility_id, Vaccine.name.label("vaccine"),
                         Facility.name.label("facility"), Recipient.id.label("recipient_id"),
                         Recipient.facility_id.label("home_id"), Recipient.full_name,
                         Recipient.national_id, Recipient.phone)
            .join(Vaccine, Vaccine.id == Dose.vaccine_id)
            .join(Facility, Facility.id == Dose.facility_id)
            .join(Recipient, Recipient.id == Dose.recipient_id)
            .order_by(Dose.given_on.desc(), Dose.id.desc())
            .limit(per_page).offset((number - 1) * per_page))
    rows = [dict(row._mapping) for row in db.session.execute(stmt)] if total else []
    return Page(rows=rows, page=number, per_page=per_page, total=total)
