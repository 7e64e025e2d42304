"""The daily report (issue 15) from outside: each facility's day totals against a brute-force
count over random data (hypothesis), the one-click confirmation by the facility's own
data-entry account only (P1, P2.1), audited (P2.4), re-opened by a later correction with what
changed, the supervisor's list of facilities still to confirm within its subtree only (P1),
the day form with and without JavaScript, Vietnamese and English."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import (
    audit_rows,
    dose_correction,
    dose_data,
    fresh_otp,
    hidden_inputs,
    input_value,
)
from tests.reports.support import _readable, _subtree, add_dose, add_person, table_row, text
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.i18n import LANG_COOKIE
from vaxportal.recipients.models import Dose, Vaccine
from vaxportal.reports.models import DailyReportConfirmation
from vaxportal.validators import local_today

DAY = date(2021, 8, 1)
SHOWN = "01/08/2021"
CODES = ("AZ", "PFIZER", "MODERNA")
AZ, PF = "Vaxzevria (AstraZeneca)", "Comirnaty (Pfizer-BioNTech)"
SETTINGS = settings(max_examples=5, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _url(facility) -> str:
    return f"/reports/f/{facility.id}/daily"


def _day_page(client, facility, day: str = SHOWN) -> str:
    response = client.get(_url(facility), query_string={"day": day})
    assert response.status_code == 200
    return text(response)


def _confirm(client, facility, page: str | None = None, **overrides):
    """The confirmation button as the page renders it (its hidden fields), clicked."""
    page = page if page is not None else _day_page(client, facility)
    return client.post(f"{_url(facility)}/confirm", data=hidden_inputs(page) | overrides)


def _confirmation(facility) -> DailyReportConfirmation | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(DailyReportConfirmation).where(
        DailyReportConfirmation.facility_id == facility.id,
        DailyReportConfirmation.day == DAY))


def _status(html: str, facility) -> str:
    return table_row(html, f"f{facility.id}")[1]


@pytest.fixture
def day_doses(place):
    """On DAY: S1 two AZ dose 1 (one severe AEFI) and a PFIZER dose 2; S1B one AZ dose 2;
    S2 (another district) one MODERNA dose 1. The day before: one dose at S1."""
    people = {key: add_person(place[key]) for key in ("s1", "s1b", "s2")}
    extra = add_person(place["s1"], name="Lê Thị Hai")
    db.session.flush()
    severe = add_dose(people["s1"], "AZ", 1, DAY)
    severe.aefi, severe.aefi_note = "severe", "Sốc phản vệ"
    add_dose(extra, "AZ", 1, DAY)
    add_dose(people["s1"], "PFIZER", 2, DAY)
    add_dose(people["s1b"], "AZ", 2, DAY)
    add_dose(people["s2"], "MODERNA", 1, DAY)
    add_dose(extra, "PFIZER", 1, DAY - timedelta(days=1))
    db.session.commit()
    return people


# -- the figures -----------------------------------------------------------------------------


def _brute(account, node, day: date) -> dict:
    """{facility id: {(vaccine name, dose number): [doses, severe]}} of the subtree in scope,
    from every dose row."""
    keep = _subtree(node) & _readable(account)
    names = {v.id: v.name for v in db.session.scalars(sa.select(Vaccine))}
    out: dict = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for dose in db.session.scalars(sa.select(Dose)):
        if dose.facility_id in keep and dose.given_on == day:
            line = out[dose.facility_id][(names[dose.vaccine_id], dose.dose_number)]
            line[0] += 1
            line[1] += dose.aefi == "severe"
    return out


def _expected_rows(per_facility: dict) -> dict[str, list[str]]:
    """The subtree table's rows as the page should print them (prefix ``all``)."""
    whole: dict = defaultdict(lambda: [0, 0])
    for lines in per_facility.values():
        for key, (doses, severe) in lines.items():
            whole[key][0] += doses
            whole[key][1] += severe
    numbers = sorted({number for _name, number in whole})
    rows = {}
    for name in sorted({name for name, _number in whole}):
        cells = [str(whole.get((name, n), [0, 0])[0]) for n in numbers]
        doses = sum(v[0] for (v_name, _n), v in whole.items() if v_name == name)
        severe = sum(v[1] for (v_name, _n), v in whole.items() if v_name == name)
        rows[f"all-{name}"] = [name, *cells, str(doses), str(severe)]
    if whole:
        rows["all-total"] = ["Tổng", *[str(sum(v[0] for (_v, n), v in whole.items() if n == k))
                                       for k in numbers],
                             str(sum(v[0] for v in whole.values())),
                             str(sum(v[1] for v in whole.values()))]
    return rows


@pytest.fixture
def readers(place, signed_in):
    supervisor = signed_in("supervisor", facility=place["d1"])
    return {
        "supervisor": (supervisor, place["d1"]),
        "reviewer": (signed_in("reviewer", facility=place["doh"]), place["doh"]),
        "drill": (supervisor, place["d2"]),  # another district: 404
        "reviewer-district": (signed_in("reviewer", facility=place["doh"]), place["d2"]),
    }


doses_st = st.lists(st.tuples(
    st.sampled_from(("s1", "s1b", "s2", "d1")),
    st.sampled_from(CODES),
    st.integers(1, 3),
    st.integers(0, 2),  # days before DAY
    st.booleans(),  # a severe adverse event
), max_size=10)


@given(rows=doses_st)
@SETTINGS
def test_daily_totals_equal_a_brute_force_count_in_and_out_of_scope(place, readers, rows):
    """Every reader's subtree table and each facility's line, against the rows (P1: only
    what the scope holds); a supervisor asking for another district gets 404."""
    for dose in db.session.scalars(sa.select(Dose)):
        db.session.delete(dose)
    db.session.flush()
    people = {key: add_person(place[key]) for key in ("s1", "s1b", "s2", "d1")}
    db.session.flush()
    for key, code, number, days_before, severe in rows:
        dose = add_dose(people[key], code, number, DAY - timedelta(days=days_before))
        dose.aefi = "severe" if severe else "none"
    db.session.commit()
    for client, node in readers.values():
        response = client.get(_url(node), query_string={"day": SHOWN})
        if node.path.startswith(db.session.get(Facility, client.account.facility_id).path):
            assert response.status_code == 200
        else:
            assert response.status_code == 404
            continue
        html = text(response)
        per_facility = _brute(client.account, node, DAY)
        for key, cells in _expected_rows(per_facility).items():
            assert table_row(html, key) == cells, key
        assert ('data-key="all-total"' in html) == bool(per_facility)
        for fid, lines in per_facility.items():
            row = table_row(html, f"f{fid}")
            assert row[2:] == [str(sum(v[0] for v in lines.values())),
                               str(sum(v[1] for v in lines.values()))]


def test_a_station_day_by_vaccine_and_dose_number(nurse, place, day_doses):
    html = _day_page(nurse, place["s1"])
    assert table_row(html, f"own-{AZ}")[1:] == ["2", "0", "2", "1"]
    assert table_row(html, "own-total")[1:] == ["2", "1", "3", "1"]
    assert "Chưa xác nhận" in html
    # the day before holds only the other dose
    before = _day_page(nurse, place["s1"], (DAY - timedelta(days=1)).strftime("%d/%m/%Y"))
    assert table_row(before, "own-total")[1:] == ["1", "1", "0"]


# -- confirming ------------------------------------------------------------------------------


def test_p1_the_facility_own_data_entry_account_confirms_in_one_click(nurse, place,
                                                                     day_doses):
    page = _day_page(nurse, place["s1"])
    assert f'action="{_url(place["s1"])}/confirm"' in page
    response = _confirm(nurse, place["s1"], page)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{_url(place['s1'])}?day=01/08/2021")
    row = _confirmation(place["s1"])
    assert row.account_id == nurse.account.id
    assert row.totals["lines"] == [["PFIZER", PF, 2, 1, 0], ["AZ", AZ, 1, 2, 1]]
    after = _day_page(nurse, place["s1"])
    assert "Đã xác nhận" in after and f'{_url(place["s1"])}/confirm' not in after


def test_p2_4_a_confirmation_is_audited_as_the_account(nurse, place, day_doses):
    _confirm(nurse, place["s1"])
    rows = audit_rows(entity="daily_report_confirmation")
    assert [r.action for r in rows] == ["insert"]
    assert rows[0].account_id == nurse.account.id
    assert rows[0].facility_id == place["s1"].id


@pytest.mark.parametrize("role, home, status", [
    ("supervisor", "d1", 404),  # the station lies in its scope, but is not its own
    ("reviewer", "doh", 403),
    ("admin", "doh", 403),  # P2.1, P2.2
    ("data_entry", "s1b", 404),  # another station of the district
    ("data_entry", "s2", 404),  # another district's
])
def test_p1_no_one_but_the_facility_confirms_its_day(signed_in, nurse, place, day_doses,
                                                    role, home, status):
    page = _day_page(nurse, place["s1"])
    other = signed_in(role, facility=place[home])
    data = {k: v for k, v in hidden_inputs(page).items() if k != "csrf_token"}
    response = other.post(f"{_url(place['s1'])}/confirm", data=data)
    assert response.status_code == status
    assert _confirmation(place["s1"]) is None
    if role == "supervisor":  # no button on its page either
        assert "/confirm" not in _day_page(other, place["s1"])


def test_confirming_needs_the_csrf_token(nurse, place, day_doses):
    page = _day_page(nurse, place["s1"])
    data = {k: v for k, v in hidden_inputs(page).items() if k != "csrf_token"}
    response = nurse.post(f"{_url(place['s1'])}/confirm", data=data, csrf=False)
    assert response.status_code == 400
    assert _confirmation(place["s1"]) is None


def test_a_day_in_the_future_cannot_be_confirmed(nurse, place, day_doses):
    tomorrow = (local_today() + timedelta(days=1)).strftime("%d/%m/%Y")
    assert _confirm(nurse, place["s1"], day=tomorrow).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(DailyReportConfirmation.id))) == 0


def test_totals_changed_since_the_page_are_not_confirmed(nurse, place, day_doses):
    """The click confirms what the page showed: a dose entered meanwhile refuses it."""
    page = _day_page(nurse, place["s1"])
    add_dose(day_doses["s1"], "PFIZER", 3, DAY)
    db.session.commit()
    response = _confirm(nurse, place["s1"], page)
    assert response.status_code == 303
    assert _confirmation(place["s1"]) is None
    assert "Số liệu của ngày đã thay đổi" in _day_page(nurse, place["s1"])


# -- a correction re-opens the day ---------------------------------------------------------


def _add_dose_over_http(nurse, person) -> None:
    page = text(nurse.get(f"/recipients/{person.id}/doses/new"))
    response = nurse.post(f"/recipients/{person.id}/doses",
                          data=dose_data(page, given_on=SHOWN, lot_number="FF-9"))
    assert response.status_code == 303


def test_a_dose_added_later_reopens_the_day_with_what_changed(nurse, place, person,
                                                              day_doses, signed_in):
    _confirm(nurse, place["s1"])
    _add_dose_over_http(nurse, person("s1", full_name="Đặng Văn Muộn"))
    html = _day_page(nurse, place["s1"])
    assert "Mở lại" in html
    assert table_row(html, f"change-{PF}-1")[1:] == ["1", "0", "1", "0", "0"]
    supervisor = signed_in("supervisor", facility=place["d1"])
    assert _status(_day_page(supervisor, place["d1"]), place["s1"]) == "Mở lại"
    # the facility confirms again
    assert _confirm(nurse, place["s1"]).status_code == 303
    assert "Mở lại" not in _day_page(nurse, place["s1"])
    assert _status(_day_page(supervisor, place["d1"]), place["s1"]) == "Đã xác nhận"
    assert [r.action for r in audit_rows(entity="daily_report_confirmation")] == [
        "insert", "update"]


def test_a_corrected_dose_reopens_the_day_even_with_the_same_totals(nurse, place,
                                                                    day_doses):
    _confirm(nurse, place["s1"])
    dose = db.session.scalar(sa.select(Dose).where(
        Dose.facility_id == place["s1"].id, Dose.given_on == DAY, Dose.dose_number == 2))
    fresh_otp(nurse)
    response = nurse.post(f"/recipients/doses/{dose.id}/edit", data=dose_correction(
        nurse, dose, dose_number="2", given_on=SHOWN, lot_number="FF-77"))
    assert response.status_code == 303
    html = _day_page(nurse, place["s1"])
    assert "Mở lại" in html and "các tổng số không đổi" in html


def test_a_severe_event_recorded_later_reopens_the_day(nurse, place, day_doses):
    _confirm(nurse, place["s1"])
    dose = db.session.scalar(sa.select(Dose).where(
        Dose.facility_id == place["s1"].id, Dose.given_on == DAY, Dose.dose_number == 2))
    fresh_otp(nurse)
    response = nurse.post(f"/recipients/doses/{dose.id}/edit", data=dose_correction(
        nurse, dose, dose_number="2", given_on=SHOWN, aefi="severe",
        aefi_note="Khó thở sau tiêm"))
    assert response.status_code == 303
    html = _day_page(nurse, place["s1"])
    assert table_row(html, f"change-{PF}-2")[1:] == ["2", "1", "1", "0", "1"]


def test_a_deleted_dose_reopens_the_day(nurse, place, day_doses):
    _confirm(nurse, place["s1"])
    dose = db.session.scalar(sa.select(Dose).where(
        Dose.facility_id == place["s1"].id, Dose.given_on == DAY, Dose.dose_number == 2))
    fresh_otp(nurse)
    page = text(nurse.get(f"/recipients/doses/{dose.id}/delete"))
    response = nurse.post(f"/recipients/doses/{dose.id}/delete",
                          data=hidden_inputs(page) | {"reason": "Ghi trùng mũi tiêm"})
    assert response.status_code == 303
    html = _day_page(nurse, place["s1"])
    assert table_row(html, f"change-{PF}-2")[1:] == ["2", "1", "0", "0", "0"]


def test_a_dose_deleted_and_another_entered_in_its_place_reopens_the_day(nurse, place, person,
                                                                         day_doses):
    """The same totals, another person's dose (SQLite may even give it the deleted id)."""
    _add_dose_over_http(nurse, person("s1", full_name="Đặng Văn Một"))
    _confirm(nurse, place["s1"])
    last = db.session.scalar(sa.select(Dose).order_by(Dose.id.desc()).limit(1))
    fresh_otp(nurse)
    page = text(nurse.get(f"/recipients/doses/{last.id}/delete"))
    assert nurse.post(f"/recipients/doses/{last.id}/delete", data=hidden_inputs(page) | {
        "reason": "Nhập nhầm người"}).status_code == 303
    _add_dose_over_http(nurse, person("s1", full_name="Đặng Văn Hai"))
    html = _day_page(nurse, place["s1"])
    assert "Mở lại" in html and "các tổng số không đổi" in html


# -- what supervisors and reviewers see -------------------------------------------------------


def test_p1_supervisor_sees_which_stations_of_its_district_have_not_confirmed(
        nurse, place, day_doses, signed_in):
    _confirm(nurse, place["s1"])
    supervisor = signed_in("supervisor", facility=place["d1"])
    html = _day_page(supervisor, place["d1"])
    assert _status(html, place["s1"]) == "Đã xác nhận"
    assert _status(html, place["s1b"]) == "Chưa xác nhận"
    assert place["s2"].name not in html and f'data-key="f{place["s2"].id}"' not in html
    assert "1 trên 2 cơ sở chưa xác nhận" in html
    # the district's day total (S1 and S1B, never S2's Moderna)
    assert table_row(html, "all-total")[1:] == ["2", "2", "4", "1"]
    assert "Moderna" not in html
    # drill down per facility
    assert f'href="{_url(place["s1b"])}?day={SHOWN}"' in html
    station = _day_page(supervisor, place["s1b"])
    assert table_row(station, "own-total")[1:] == ["1", "1", "0"]
    assert supervisor.get(_url(place["s2"])).status_code == 404


def test_p1_reviewer_sees_the_province_total_and_every_district(nurse, place, day_doses,
                                                                reviewer):
    html = text(reviewer.get("/reports/daily", query_string={"day": SHOWN}))
    assert table_row(html, "all-total")[-2:] == ["5", "1"]
    assert {_status(html, place[k]) for k in ("s1", "s1b", "s2")} == {"Chưa xác nhận"}
    assert "3 trên 3 cơ sở chưa xác nhận" in html
    assert f'href="{_url(place["s2"])}?day={SHOWN}"' in html


def test_p2_1_admin_sees_no_daily_report(signed_in, place):
    admin = signed_in("admin", facility=place["doh"])
    assert admin.get("/reports/daily").status_code == 403
    assert admin.get(_url(place["s1"])).status_code == 403
    assert b"/reports/daily" not in admin.get("/").data


def test_links_from_the_navigation_and_the_dashboard(nurse, place):
    assert b'href="/reports/daily"' in nurse.get("/").data
    assert f'href="{_url(place["s1"])}"'.encode() in nurse.get("/reports/").data


# -- the form, htmx and languages -----------------------------------------------------------


def test_day_form_works_without_javascript_and_swaps_with_htmx(signed_in, place, day_doses):
    supervisor = signed_in("supervisor", facility=place["d1"])
    page = supervisor.get("/reports/daily", query_string={"day": SHOWN})
    html = text(page)
    assert '<form class="form inline-form report-filter" method="get"' in html
    assert input_value(html, "day") == SHOWN
    fragment = supervisor.hx("GET", _url(place["d1"]), query_string={"day": SHOWN})
    assert text(fragment).lstrip().startswith('<div id="daily-panel">')
    assert "<html" not in text(fragment)
    assert table_row(text(fragment), "all-total") == table_row(html, "all-total")
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_day_defaults_to_today_and_a_bad_day_keeps_what_was_typed(nurse, place):
    html = text(nurse.get("/reports/daily"))
    assert input_value(html, "day") == local_today().strftime("%d/%m/%Y")
    bad = text(nurse.get("/reports/daily", query_string={"day": "31/02/2022"}))
    assert input_value(bad, "day") == "31/02/2022" and 'class="field-error"' in bad
    future = (local_today() + timedelta(days=3)).strftime("%d/%m/%Y")
    assert 'class="field-error"' in text(nurse.get("/reports/daily",
                                                   query_string={"day": future}))


def test_daily_report_in_vietnamese_and_in_english(nurse, place, day_doses):
    vietnamese = _day_page(nurse, place["s1"])
    assert "Báo cáo ngày" in vietnamese and "Xác nhận số liệu ngày 01/08/2021" in vietnamese
    nurse.set_cookie(LANG_COOKIE, "en")
    english = _day_page(nurse, place["s1"])
    assert "Daily report" in english and "Not confirmed" in english
    assert "Confirm the figures of 01/08/2021" in english
    assert "Báo cáo ngày" not in english
    assert re.search(r"Severe (reactions|AEFI)", english)
