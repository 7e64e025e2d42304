"""The dashboard (coverage, doses over time) and the due lists. Views only load the facility
through the account's scope, read the form and render; figures come from ``coverage`` and
``due``."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from io import BytesIO

import sqlalchemy as sa
from flask import abort, current_app, request, send_file, url_for
from flask_babel import force_locale, format_decimal, format_percent

from vaxportal import htmx, policy
from vaxportal.audit import events
from vaxportal.auth import sessions
from vaxportal.auth.current import current_account
from vaxportal.exports.views import XLSX
from vaxportal.exports.xlsx import Watermark
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.facilities.tree import ancestors
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients import due
from vaxportal.recipients.models import Dose, Recipient, Vaccine
from vaxportal.recipients.search import Page, RegisterFilter, save_search
from vaxportal.reports import aefi, bp, charts, coverage, quality, tables
from vaxportal.reports.forms import DashboardForm, DueExportForm, DueForm, TableExportForm
from vaxportal.timeutil import utcnow
from vaxportal.validators import local_today, page_number


def _account():
    return current_account()


@bp.app_template_filter("share")
def _share(value: float | None) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0%")


@bp.context_processor
def _helpers():
    return {"number": format_decimal,
            "may_export": lambda: policy.may(Perm.export_recipients),
            "may_enter_targets": lambda: policy.may(Perm.manage_targets)}


def facility_in_scope_or_404(facility_id: int) -> Facility:
    """A facility whose figures the account reads; any other answers 404 (P1)."""
    facility = db.session.get(Facility, facility_id)
    if facility is None or not policy.in_scope(facility.id):
        abort(404)
    return facility


def _trail(facility: Facility) -> list[Facility]:
    """The facilities above this one that the account may open (its drill-up links)."""
    above = ancestors(facility)
    readable = policy.scope().contains_many(f.id for f in above)  # one query for them all
    return [f for f in above if f.id in readable]


# -- the dashboard ----------------------------------------------------------------------------


@bp.get("/")
@permission_required(Perm.read_reports)
def index():
    return _dashboard(_account().facility)


@bp.get("/f/<int:facility_id>")
@permission_required(Perm.read_reports)
def facility(facility_id: int):
    return _dashboard(facility_in_scope_or_404(facility_id))


def _dashboard(node: Facility):
    account = _account()
    form = DashboardForm(formdata=request.args)
    form.validate()
    start, end = form.period()
    values = form.clean()
    form.show_period()
    cover = coverage.coverage(account, node, end, values["by"])
    by_vaccine = coverage.doses_by_vaccine(account, node, start, end)
    over_time = coverage.doses_over_time(account, node, start, end, values["step"])
    numbers = tables.dose_numbers(by_vaccine)
    return htmx.render(
        "reports/index.html", "reports/_panel.html", form=form, node=node,
        trail=_trail(node), cover=cover, by=values["by"], args=values, start=start, end=end,
        coverage_chart=charts.horizontal(
            [(line.label, (line.dose1, line.complete, line.booster), line.target)
             for line in [cover.total, *cover.lines]]),
        by_vaccine=by_vaccine, numbers=numbers,
        vaccine_chart=charts.horizontal([(row["vaccine"], (row["total"],), None)
                                         for row in by_vaccine]),
        over_time=over_time, step=values["step"],
        time_chart=charts.vertical([(day.strftime("%d/%m/%Y"), n) for day, n in over_time]),
        vaccine_totals=tables.vaccine_totals(by_vaccine, numbers),
        **_severe_events(node, start, end), export_forms=_export_forms(values),
    )


def _page_asked() -> int:
    try:
        return page_number(request.args.get("page", 1))
    except ValueError:
        return 1


def _severe_events(node: Facility, start: date, end: date) -> dict:
    """The severe AEFI of the subtree over the period: counts per line, one page of the
    events; identifiers in full only for the data-entry account of the person's own
    facility, masked for every other reader (``policy.sees_contact_phone``,
    ``policy.mask_field``, P1): a dose given elsewhere does not open them."""
    account = _account()
    lines, total = aefi.counts(account, node, start, end)
    events_page = aefi.page(account, node, start, end, _page_asked(),
                            int(current_app.config["PAGE_SIZE"]), total)
    readable = policy.scope(account).contains_many({row["home_id"] for row in events_page.rows})
    for row in events_page.rows:
        row["linked"] = row["home_id"] in readable  # the record opens only in scope
        if not policy.sees_contact_phone(row["home_id"], account):
            row.update({key: policy.mask_field(key, row[key]) for key in ("national_id", "phone")})
    return {"severe_lines": lines, "severe_total": total, "severe_events": events_page}


def _export_forms(values: dict) -> dict[str, TableExportForm]:
    return {key: TableExportForm(formdata=None, table=key, **values) for key in tables.TABLES}


# -- aggregate tables to Excel ---------------------------------------------------------------


@bp.post("/f/<int:facility_id>/export")
@permission_required(Perm.read_reports)
def table_export(facility_id: int):
    """One aggregate table of the dashboard (or the data-quality counts) as the page shows
    it, in a Vietnamese workbook; no personal data, so no code; audited with the table and
    its filter."""
    node = facility_in_scope_or_404(facility_id)
    form = TableExportForm()
    if not form.validate():
        abort(400)
    filters = DashboardForm(formdata=request.form)
    filters.validate()
    start, end = filters.period()
    values = filters.clean()
    account = _account()
    ask = tables.Request(account, node, start, end, values["by"], values["step"],
                         local_today())
    export_id, custodian = uuid.uuid4().hex, account.current_custodian
    buffer = BytesIO()
    with force_locale("vi"):
        table = tables.TABLES[form.table.data](ask)
        tables.write(table, buffer, Watermark(
            account=account.username,
            person=custodian.full_name if custodian else "",
            at=utcnow(), export_id=export_id,
            scope=f"{node.name}: {table.title}, {table.period}"))
    events.record("export_aggregate", category="access", entity="facility",
                  entity_id=node.id, facility_id=node.id,
                  details={"table": table.key, "filter": values, "rows": len(table.rows),
                           "export_id": export_id})
    db.session.commit()
    buffer.seek(0)
    return send_file(buffer, mimetype=XLSX, as_attachment=True, max_age=0,
                     download_name=f"bao-cao-{table.key}-{node.id}-{end:%Y%m%d}.xlsx")


# -- who is due ------------------------------------------------------------------------------


def _due_filter(node: Facility, status: str) -> RegisterFilter:
    return RegisterFilter(facility_id=node.id, due=status, due_on=local_today().isoformat())


@bp.get("/f/<int:facility_id>/due")
@permission_required(Perm.read_reports)
def due_list(facility_id: int):
    node = facility_in_scope_or_404(facility_id)
    form = DueForm(formdata=request.args)
    status = form.status.data if form.status.data in due.STATUSES else due.DUE
    page = _page_asked()
    register_filter = _due_filter(node, status)
    return htmx.render(
        "reports/due.html", "reports/_due_rows.html", node=node, form=form, due_status=status,
        trail=_trail(node), rows=_due_page(register_filter, page), today=local_today(),
        days_late=due.overdue_days(), full_phone=policy.sees_contact_phone(node.id),
        export_form=DueExportForm(status=status),
    )


def _due_page(register_filter: RegisterFilter, page: int) -> Page:
    """One page of the list: the person, the phone, the last dose and when the next falls
    due (computed for the page's rows only)."""
    account = _account()
    per_page = int(current_app.config["PAGE_SIZE"])
    total = register_filter.count(account)
    page = min(page, max(1, -(-total // per_page)))
    last = sa.orm.aliased(Dose)
    today = date.fromisoformat(register_filter.due_on)
    stmt = (register_filter.statement(
        account, Recipient.id, Recipient.full_name, Recipient.date_of_birth, Recipient.phone,
        last.given_on, last.dose_number, Vaccine.name.label("vaccine"),
        Vaccine.min_interval_days)
        .join_from(Recipient, last, sa.and_(
            last.recipient_id == Recipient.id,
            *due.due_dose_clauses(register_filter.due, today, dose=last)))
        .join_from(last, Vaccine, Vaccine.id == last.vaccine_id))
    full_phone = policy.sees_contact_phone(register_filter.facility_id, account)
    rows = []
    for row in db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)):
        item = dict(row._mapping)
        item["due_on"] = item["given_on"] + timedelta(days=item["min_interval_days"])
        item["late"] = (today - item["due_on"]).days
        item["phone_shown"] = item["phone"] if full_phone else policy.mask_identifier(
            item["phone"])
        rows.append(item)
    return Page(rows=rows, page=page, per_page=per_page, total=total)


@bp.post("/f/<int:facility_id>/due/export")
@permission_required(Perm.read_reports, Perm.export_recipients)
def due_export(facility_id: int):
    """The list goes to Excel through the export flow (its statement, then its own OTP):
    the filter is stored like a register search, the URL carries only its random id."""
    node = facility_in_scope_or_404(facility_id)
    form = DueExportForm()
    if not form.validate():
        abort(400)
    status = form.status.data if form.status.data in due.STATUSES else due.DUE
    session_row = sessions.current()
    sid = save_search(_due_filter(node, status), _account(), session_row and session_row.id)
    db.session.commit()
    return htmx.redirect_to(url_for("exports.new", s=sid))


# -- data quality ----------------------------------------------------------------------------


@bp.get("/f/<int:facility_id>/quality")
@permission_required(Perm.read_reports)
def quality_list(facility_id: int):
    """Counts per facility of every check, and one page of the people the chosen check flags
    (links to their records by id only)."""
    node = facility_in_scope_or_404(facility_id)
    account = _account()
    today = local_today()
    check = request.args.get("check", "")
    check = check if check in quality.BY_KEY else quality.CHECKS[0].key
    figures = tables.quality_counts(account, node, today)
    return htmx.render(
        "reports/quality.html", "reports/_quality_rows.html", node=node, trail=_trail(node),
        checks=quality.CHECKS, check=quality.BY_KEY[check], counts=figures.counts,
        lines=figures.lines, names=figures.names, totals=figures.totals,
        rows=quality.page(account, node, check, today, _page_asked(),
                          int(current_app.config["PAGE_SIZE"])),
        export_form=TableExportForm(formdata=None, table="quality"),
    )
