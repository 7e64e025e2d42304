"""Severe adverse events on the dashboard, and the aggregate tables to Excel (issue 15), from
outside: the counts per facility with their drill-down links, the people's identifiers in
full only for the facility's own data-entry account (P1), and each table's workbook equal to
the page's table, in Vietnamese, without personal data, audited (P2.4), POST with CSRF,
another scope's facility 404."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import (
    all_values,
    audit,
    dose_correction,
    fresh_otp,
    hidden_inputs,
    sheet_xml,
    workbook,
)
from tests.reports.support import _line, _readable, _subtree, add_dose, add_person, table_row, text
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.recipients.models import Aefi, Dose
from vaxportal.reports import aefi
from vaxportal.reports.models import TargetPopulation
from vaxportal.validators import local_today

TODAY = local_today()
PERIOD = {"start": (TODAY - timedelta(days=59)).strftime("%d/%m/%Y"),
          "end": TODAY.strftime("%d/%m/%Y")}
NAMES = ("Trần Văn Nặng", "Lê Thị Hai", "Phạm Văn Nhẹ", "Đỗ Thị Xa", "Vũ Văn Cũ")


@pytest.fixture
def events(place):
    """S1: two severe events (one of them before the period) and a mild one; S1B: one
    severe; S2 (another district): one severe."""
    people = {name: add_person(place[key], name=name, group=group, born=born)
              for name, key, group, born in (
                  ("Trần Văn Nặng", "s1", "N01", date(1950, 3, 1)),
                  ("Lê Thị Hai", "s1b", "N07", date(1990, 5, 5)),
                  ("Phạm Văn Nhẹ", "s1", None, date(2010, 7, 7)),
                  ("Đỗ Thị Xa", "s2", "N01", date(1985, 1, 1)),
                  ("Vũ Văn Cũ", "s1", None, date(1970, 1, 1)))}
    db.session.flush()
    severe = [add_dose(people["Trần Văn Nặng"], "AZ", 1, TODAY - timedelta(days=40)),
              add_dose(people["Trần Văn Nặng"], "AZ", 2, TODAY - timedelta(days=5)),
              add_dose(people["Lê Thị Hai"], "PFIZER", 1, TODAY - timedelta(days=10)),
              add_dose(people["Đỗ Thị Xa"], "AZ", 1, TODAY - timedelta(days=3)),
              add_dose(people["Vũ Văn Cũ"], "AZ", 1, TODAY - timedelta(days=200))]
    for dose in severe:
        dose.aefi = Aefi.severe
    add_dose(people["Phạm Văn Nhẹ"], "PFIZER", 1, TODAY - timedelta(days=8)).aefi = Aefi.mild
    db.session.add(TargetPopulation(facility_id=place["s1"].id, total=30,
                                    period_start=TODAY - timedelta(days=100),
                                    period_end=TODAY + timedelta(days=100)))
    db.session.commit()
    return people


def _masked(value: str) -> str:
    return "*" * (len(value) - 3) + value[-3:]


# -- severe AEFI on the dashboard --------------------------------------------------------


def test_p1_severe_aefi_counted_per_station_with_drill_down_in_the_subtree(signed_in, place,
                                                                           events):
    supervisor = signed_in("supervisor", facility=place["d1"])
    html = text(supervisor.get("/reports/", query_string=PERIOD))
    section = html.split('id="aefi-heading"')[1]
    assert table_row(section, str(place["s1"].id)) == [place["s1"].name, "2"]
    assert table_row(section, str(place["s1b"].id)) == [place["s1b"].name, "1"]
    assert table_row(section, "total")[1:] == ["3"]  # not S2's, not the mild one, not older
    assert f'href="/reports/f/{place["s1"].id}?' in section
    assert "Phạm Văn Nhẹ" not in section and "Vũ Văn Cũ" not in section
    assert "Đỗ Thị Xa" not in html and place["s2"].name not in html
    # the province's reviewer reads a line per district
    reviewer = signed_in("reviewer", facility=place["doh"])
    section = text(reviewer.get("/reports/", query_string=PERIOD)).split('id="aefi-heading"')[1]
    assert table_row(section, str(place["d1"].id))[1:] == ["3"]
    assert table_row(section, str(place["d2"].id))[1:] == ["1"]
    assert table_row(section, "total")[1:] == ["4"]


def test_p1_severe_aefi_identifiers_in_full_only_for_the_station_data_entry(signed_in, place,
                                                                           events):
    person = events["Trần Văn Nặng"]
    nurse = signed_in("data_entry", facility=place["s1"])
    html = text(nurse.get("/reports/", query_string=PERIOD))
    listed = html.split('id="aefi-list"')[1]
    assert person.national_id in listed and person.phone in listed
    assert f'href="/recipients/{person.id}"' in listed
    assert "Lê Thị Hai" not in listed  # S1B's event is outside the nurse's scope
    for role, home in (("supervisor", "d1"), ("reviewer", "doh")):
        listed = text(signed_in(role, facility=place[home]).get(
            f"/reports/f/{place['s1'].id}", query_string=PERIOD)).split('id="aefi-list"')[1]
        assert "Trần Văn Nặng" in listed and f'href="/recipients/{person.id}"' in listed, role
        assert person.national_id not in listed and person.phone not in listed, role
        assert _masked(person.national_id) in listed and _masked(person.phone) in listed, role


def test_p1_a_severe_aefi_given_away_from_home_stays_masked_for_the_vaccinating_station(
        signed_in, place, events):
    """S2's person vaccinated at S1: S1's nurse counts the event but reads the identifiers
    masked (the person belongs to S2); S2's own nurse reads them in full."""
    person = events["Đỗ Thị Xa"]
    add_dose(person, "AZ", 2, TODAY - timedelta(days=1), facility_id=place["s1"].id).aefi = (
        Aefi.severe)
    db.session.commit()
    listed = text(signed_in("data_entry", facility=place["s1"]).get(
        "/reports/", query_string=PERIOD)).split('id="aefi-list"')[1]
    assert "Đỗ Thị Xa" in listed and f'href="/recipients/{person.id}"' not in listed
    assert person.phone not in listed and _masked(person.phone) in listed
    assert person.national_id not in listed
    listed = text(signed_in("data_entry", facility=place["s2"]).get(
        "/reports/", query_string=PERIOD)).split('id="aefi-list"')[1]
    assert person.phone in listed and person.national_id in listed
    assert f'href="/recipients/{person.id}"' in listed


def test_severe_aefi_list_shows_one_page_latest_first(app, signed_in, place, events):
    app.config["PAGE_SIZE"] = 1
    client = signed_in("supervisor", facility=place["d1"])
    url = f"/reports/f/{place['d1'].id}"
    first = text(client.get(url, query_string=PERIOD)).split('id="aefi-list"')[1]
    assert "Trần Văn Nặng" in first and "Lê Thị Hai" not in first  # 5 days ago, then 10
    assert "Trang 1 / 3" in first and 'hx-target="#report-panel"' in first
    second = text(client.get(url, query_string={**PERIOD, "page": "2"}))
    assert "Lê Thị Hai" in second.split('id="aefi-list"')[1]


def test_severe_aefi_follow_a_correction_and_a_deletion(signed_in, place, events):
    """The nurse corrects one event to "none" and deletes the other (each with its code and
    reason): the district's counts follow at once."""
    nurse = signed_in("data_entry", facility=place["s1"])
    fresh_otp(nurse)
    later, earlier = db.session.scalars(
        sa.select(Dose).where(Dose.recipient_id == events["Trần Văn Nặng"].id)
        .order_by(Dose.given_on.desc()))
    data = dose_correction(nurse, later, given_on=later.given_on.strftime("%d/%m/%Y"),
                           dose_number="2", lot_number=later.lot_number, aefi="none")
    assert nurse.post(f"/recipients/doses/{later.id}/edit", data=data).status_code == 303
    supervisor = signed_in("supervisor", facility=place["d1"])

    def severe_lines():
        section = text(supervisor.get("/reports/", query_string=PERIOD)).split(
            'id="aefi-heading"')[1]
        return re.findall(r'<tr data-key="(\d+|total)">', section.split("</table>")[0])

    assert severe_lines() == [str(place["s1"].id), str(place["s1b"].id), "total"]
    assert table_row(text(supervisor.get("/reports/", query_string=PERIOD)).split(
        'id="aefi-heading"')[1], str(place["s1"].id))[1:] == ["1"]
    page = text(nurse.get(f"/recipients/doses/{earlier.id}/delete"))
    response = nurse.post(f"/recipients/doses/{earlier.id}/delete",
                          data=hidden_inputs(page) | {"reason": "Ghi trùng mũi tiêm"})
    assert response.status_code == 303
    assert severe_lines() == [str(place["s1b"].id), "total"]


def _brute_severe(account, node, start: date, end: date) -> dict[int, set[int]]:
    """{line: severe doses' ids} from every row: given in the subtree and the scope over
    the period, with a severe AEFI."""
    facilities = {f.id: f for f in db.session.scalars(sa.select(Facility))}
    keep = _subtree(node) & _readable(account)
    out: dict[int, set[int]] = {}
    for dose in db.session.scalars(sa.select(Dose)):
        if (dose.aefi == Aefi.severe and dose.facility_id in keep
                and start <= dose.given_on <= end):
            out.setdefault(_line(facilities, node, dose.facility_id), set()).add(dose.id)
    return out


@pytest.fixture
def readers(place, factory):
    """(account, node it reads): a district, the province, a station, a drill-down."""
    return [(factory.account(role, place[home]), place[key]) for role, home, key in (
        ("supervisor", "d1", "d1"), ("reviewer", "doh", "doh"), ("data_entry", "s1", "s1"),
        ("supervisor", "d1", "s1b"), ("reviewer", "doh", "d2"))]


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doses=st.lists(st.tuples(
    st.sampled_from(("s1", "s1b", "s2", "d1")), st.sampled_from(("s1", "s2", "d1")),
    st.sampled_from(tuple(Aefi)), st.integers(0, 90)), min_size=1, max_size=10),
    period=st.tuples(st.integers(0, 60), st.integers(0, 60)))
def test_p1_severe_aefi_figures_equal_a_brute_force_count(place, readers, doses, period):
    """Counts per line, the total and the pages of events, for each reader and node, against
    every row (doses count where they were given; a dose given elsewhere than the person's
    home follows its facility)."""
    for dose in db.session.scalars(sa.select(Dose)):
        db.session.delete(dose)
    for home, given_at, kind, days_ago in doses:
        person = add_person(place[home])
        db.session.flush()
        add_dose(person, "AZ", 1, TODAY - timedelta(days=days_ago),
                 facility_id=place[given_at].id).aefi = kind
    db.session.commit()
    end = TODAY - timedelta(days=min(period))
    start = TODAY - timedelta(days=max(period))
    for account, node in readers:
        want = _brute_severe(account, node, start, end)
        lines, total = aefi.counts(account, node, start, end)
        assert {line.facility_id: line.severe for line in lines} == {
            line: len(ids) for line, ids in want.items()}, (account.role, node.code)
        assert total == sum(len(ids) for ids in want.values())
        listed = [row for number in (1, 2, 3, 4)
                  for row in aefi.page(account, node, start, end, number, 3, total).rows
                  if number <= -(-total // 3)]
        assert {row["dose_id"] for row in listed} == set().union(*want.values())
        assert len(listed) == total
        assert [row["given_on"] for row in listed] == sorted(
            (row["given_on"] for row in listed), reverse=True)


# -- aggregate tables to Excel -----------------------------------------------------------


def _page_table(html: str, table_id: str) -> list[list[str]]:
    """Every line of the page's table ``table_id`` (headings first), tags stripped."""
    match = re.search(rf'<table class="table" id="{table_id}">(.*?)</table>', html, re.S)
    assert match, table_id
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)]


def _export_form(html: str, table: str) -> dict[str, str]:
    """The hidden fields of the export button of ``table`` on the page."""
    for form in re.findall(r'<form class="inline-form report-export".*?</form>', html, re.S):
        fields = {unescape(name): unescape(value) for name, value in re.findall(
            r'<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"', form)}
        if fields.get("table") == table:
            return fields
    raise AssertionError(f"no export button for {table}")


def _as_shown(value, share: bool = False) -> str:
    """A workbook cell as the page writes it (a share as a percentage)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if share:
        return f"{value * 100:.1f}%".replace(".", ",")
    return str(value)


def _sheet_table(data: bytes, first_heading: str, shares: bool) -> list[list[str]]:
    """The workbook's table from its heading line down; with ``shares``, each count and the
    share beside it joined as the page shows them ("2 (6,7%)")."""
    rows = [list(row) for row in workbook(data).worksheets[0].iter_rows(values_only=True)]
    start = next(i for i, row in enumerate(rows) if row[0] == first_heading)
    table = []
    for number, row in enumerate(rows[start:]):
        cells = [_as_shown(v) for v in row]
        if shares:
            cells = cells[:2] + ([row[i] for i in (2, 4, 6)] if number == 0 else [
                f"{cells[i]} ({_as_shown(row[i + 1], share=True)})" for i in (2, 4, 6)])
        table.append([str(c) for c in cells])
    return table


def _export(client, url: str, page_html: str, table: str):
    response = client.post(url, data=_export_form(page_html, table))
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    return response.data


@pytest.mark.parametrize(("table", "table_id", "query"), [
    ("coverage", "coverage-table", {"by": "facility"}),
    ("coverage", "coverage-table", {"by": "group"}),
    ("coverage", "coverage-table", {"by": "band"}),
    ("vaccine", "vaccine-table", {}),
    ("time", "time-table", {"step": "day"}),
    ("time", "time-table", {"step": "week"}),
    ("aefi", "aefi-table", {}),
])
def test_each_dashboard_table_exports_the_cells_the_page_shows(signed_in, place, events,
                                                               table, table_id, query):
    reviewer = signed_in("reviewer", facility=place["doh"])
    url = f"/reports/f/{place['d1'].id}"
    html = text(reviewer.get(url, query_string={**PERIOD, **query}))
    shown = _page_table(html, table_id)
    assert len(shown) > 2
    data = _export(reviewer, f"{url}/export", html, table)
    assert _sheet_table(data, shown[0][0], shares=table == "coverage") == shown
    assert "<f>" not in sheet_xml(data)  # text stays text


def test_quality_counts_export_the_cells_the_page_shows(signed_in, place, events):
    supervisor = signed_in("supervisor", facility=place["d1"])
    url = f"/reports/f/{place['d1'].id}"
    html = text(supervisor.get(f"{url}/quality"))
    shown = _page_table(html, "quality-counts")
    data = _export(supervisor, f"{url}/export", html, "quality")
    assert _sheet_table(data, shown[0][0], shares=False) == shown


def test_p1_aggregate_workbooks_hold_no_personal_data(signed_in, place, events):
    supervisor = signed_in("supervisor", facility=place["d1"])
    url = f"/reports/f/{place['d1'].id}"
    html = text(supervisor.get(url, query_string=PERIOD))
    assert "Trần Văn Nặng" in html  # the page lists the person; the workbook must not
    secrets = [value for person in events.values()
               for value in (person.full_name, person.national_id, person.phone)]
    for table in ("coverage", "vaccine", "time", "aefi"):
        values = " ".join(str(v) for v in all_values(workbook(_export(
            supervisor, f"{url}/export", html, table))))
        assert not [s for s in secrets if s in values or s[-6:] in values], table
        assert "không chứa dữ liệu cá nhân" in values, table


def test_p2_4_aggregate_export_is_audited_with_its_table_and_filter(signed_in, place, events):
    reviewer = signed_in("reviewer", facility=place["doh"])
    url = f"/reports/f/{place['d1'].id}"
    html = text(reviewer.get(url, query_string={**PERIOD, "by": "band", "step": "week"}))
    _export(reviewer, f"{url}/export", html, "coverage")
    (event,) = audit("export_aggregate")
    assert event.category == "access" and event.account_id == reviewer.account.id
    assert event.facility_id == place["d1"].id
    assert event.details["table"] == "coverage"
    assert event.details["filter"] == {**PERIOD, "by": "band", "step": "week"}
    assert not [name for name in NAMES if name in str(event.details)]


def test_workbook_is_in_vietnamese_when_the_interface_is_english(signed_in, place, events):
    reviewer = signed_in("reviewer", facility=place["doh"])
    reviewer.post("/lang", data={"lang": "en"})
    url = f"/reports/f/{place['d1'].id}"
    html = text(reviewer.get(url, query_string=PERIOD))
    assert "Coverage" in html  # the page itself is English
    values = [str(v) for v in all_values(workbook(_export(reviewer, f"{url}/export", html,
                                                            "coverage")))]
    assert "Đối tượng cần tiêm" in values and "Đã tiêm mũi 1" in values
    assert not [v for v in values if "Target" in v]


def test_p1_aggregate_export_of_another_scope_answers_404_and_needs_post_with_csrf(
        signed_in, place, events):
    supervisor = signed_in("supervisor", facility=place["d1"])
    html = text(supervisor.get("/reports/", query_string=PERIOD))
    form = _export_form(html, "coverage")
    assert supervisor.post(f"/reports/f/{place['s2'].id}/export", data=form).status_code == 404
    assert supervisor.post(f"/reports/f/{place['d2'].id}/export", data=form).status_code == 404
    url = f"/reports/f/{place['d1'].id}/export"
    without = {k: v for k, v in form.items() if k != "csrf_token"}
    assert supervisor.post(url, data=without, csrf=False).status_code == 400
    assert supervisor.get(url).status_code == 405
    assert supervisor.post(url, data={**form, "table": "people"}).status_code == 400
    assert not audit("export_aggregate")
    admin = signed_in("admin", facility=place["doh"])
    assert admin.post(url, data=without).status_code == 403
