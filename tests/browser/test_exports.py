"""Browser journeys of Excel out and in (issue 6): an export behind its own OTP with its
progress bar, and an import from the app's own template through the dry run.

Each journey runs with JavaScript on (htmx polling) and off (a page that refreshes itself),
through the ``ui`` fixture.
"""

from __future__ import annotations

import threading
from datetime import date, datetime

import openpyxl
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.helpers import PASSWORD, add_person
from vaxportal.audit.models import AuditEvent
from vaxportal.exports import exporting
from vaxportal.exports.models import ExportJob, ImportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient

MARKER = "vx-journey"  # set on window: survives htmx swaps, not a page load


def set_marker(ui) -> None:
    ui.page.evaluate(f"() => {{ window['{MARKER}'] = 1; }}")


def marker_kept(ui) -> bool:
    return ui.page.evaluate(f"() => window['{MARKER}'] === 1")


def search(ui, term: str) -> None:
    ui.goto("/recipients/")
    ui.page.fill("input[name=q]", term)
    ui.submit()
    expect(ui.page.locator("#results")).to_contain_text("đối tượng")


# -- 3. an export with its own OTP and the progress bar (P3.4) ------------------------------


class Gate:
    """Holds a background export after its first row, until the test lets it go on."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def slow_export(app, monkeypatch):
    """Exports run as background jobs in a thread of the server (as in production without
    Redis), report every row, and pause after the first one."""
    gate = Gate()
    save_progress = exporting._save_progress

    def paused(job_id: str, rows: int) -> None:
        save_progress(job_id, rows)
        if rows == 1:
            gate.reached.set()
            gate.release.wait(timeout=60)

    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setitem(app.config, "EXPORT_JOB_THRESHOLD", 1)
    monkeypatch.setattr(exporting, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(exporting, "_save_progress", paused)
    yield gate
    gate.release.set()


def test_p3_4_export_with_its_own_otp_and_progress_bar(ui, place, nurse_account, slow_export,
                                                       tmp_path):
    add_person(place["s1"], "Trần Văn Bảo", "089080111222", date(1980, 9, 5))
    add_person(place["s1"], "Trần Thị Hoa", "089185222333", date(1985, 3, 2), "female")
    add_person(place["s1"], "Lê Văn Cường", "089090444555", date(1990, 1, 1))
    add_person(place["s1b"], "Trần Văn Khác", "089070666777", date(1970, 6, 6))
    username = nurse_account.username
    ui.sign_in(username, PASSWORD)
    page = ui.page

    # From the register's current search: the statement of what would be exported.
    search(ui, "tran")
    with page.expect_navigation():
        page.get_by_role("link", name="Xuất Excel").click()
    assert "/exports/new?s=" in page.url
    statement = page.locator("main .card").first
    expect(statement).to_contain_text("Trạm Y tế Mỹ Bình")
    expect(statement.locator("strong")).to_have_text("2")
    expect(statement).to_contain_text("Số CCCD/CMND")
    ui.check(screenshot="export-new")

    # The SMS names this export; the code confirms it.
    before = len(ui.outbox())
    ui.submit()
    job_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    sms = [m for m in ui.outbox()[before:] if m["kind"] == "export"]
    assert len(sms) == 1
    db.session.remove()
    ref = db.session.get(ExportJob, job_id).short_ref
    assert ref in sms[0]["body"]
    expect(page.locator("main")).to_contain_text(ref)
    ui.check(screenshot="export-otp")
    page.fill("input[name=code]", sms[0]["secret"])
    ui.submit()

    # The job page: its progress bar moves while the file is written in the background.
    assert page.url.endswith(f"/exports/{job_id}"), page.url
    assert slow_export.reached.wait(timeout=20), "the export never started"
    bar = page.locator("#job-progress progress")
    expect(bar).to_have_attribute("max", "2")
    expect(bar).to_have_attribute("value", "1", timeout=10_000)  # polled, or refreshed
    expect(page.locator("#job-progress")).to_contain_text("Đã ghi 1 / 2 dòng.")
    ui.check(screenshot="export-progress")
    if ui.js:
        set_marker(ui)
    slow_export.release.set()
    download_link = page.get_by_role("link", name="Tải tệp Excel")
    expect(download_link).to_be_visible(timeout=15_000)
    expect(bar).to_have_count(0)
    if ui.js:
        assert marker_kept(ui), "the progress reloaded the page instead of polling"
    else:
        assert page.locator("noscript meta[http-equiv=refresh]").count() == 0  # stops
    ui.check(screenshot="export-done")

    with page.expect_download() as info:
        download_link.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header_at = next(i for i, row in enumerate(rows) if "Họ và tên" in row)
    headers = rows[header_at]
    for label in ("Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD/CMND", "Cơ sở quản lý"):
        assert label in headers
    data = [dict(zip(headers, row, strict=True)) for row in rows[header_at + 1:]]
    assert sorted((r["Họ và tên"], r["Số CCCD/CMND"]) for r in data) == [
        ("Trần Thị Hoa", "089185222333"), ("Trần Văn Bảo", "089080111222")]
    born = {r["Họ và tên"]: r["Ngày sinh"] for r in data}
    assert born["Trần Văn Bảo"] == datetime(1980, 9, 5)  # a real date, not text
    assert {r["Cơ sở quản lý"] for r in data} == {"Trạm Y tế Mỹ Bình"}
    assert any(username in str(v) for row in rows[:header_at] for v in row if v)

    db.session.remove()
    job = db.session.get(ExportJob, job_id)
    assert job.status == JobStatus.done and job.rows_written == 2
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.entity == "export_job",
                                           AuditEvent.entity_id == job_id)
        .order_by(AuditEvent.id)).all()
    # without JavaScript the finished page also fetched the file once by itself
    assert actions[:4] == ["export_requested", "export_confirmed", "export_completed",
                           "export_downloaded"]
    assert set(actions[4:]) <= {"export_downloaded"}


# -- 4. an import: the template, the dry run, the confirmation ----------------------------


def fill_template(source, target) -> None:
    """The downloaded template with three more people under its example row: two right, one
    with a national ID that is too short."""
    book = openpyxl.load_workbook(source)
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    people = [
        {"Họ và tên": "Phạm Thị Lan", "Ngày sinh": datetime(1992, 4, 12), "Giới tính": "Nữ",
         "Số CCCD/CMND": "089192123123", "Số điện thoại": "0912 345 679"},
        {"Họ và tên": "Võ Văn Nam", "Ngày sinh": "03/11/1975", "Giới tính": "Nam",
         "Số CCCD/CMND": "12345"},
        {"Họ và tên": "Đặng Văn Hải", "Ngày sinh": "21/01/1968", "Giới tính": "Nam",
         "Số CCCD/CMND": "089068456456", "Tỉnh/Thành phố": "An Giang",
         "Phường/Xã": "Long Xuyên"},
    ]
    for number, person in enumerate(people, start=3):
        for col, header in enumerate(headers, start=1):
            if header in person:
                sheet.cell(row=number, column=col, value=person[header])
    book.save(target)


def test_import_from_the_template_dry_run_then_confirm(ui, place, nurse_account, tmp_path):
    station_id = place["s1"].id
    ui.sign_in(nurse_account.username, PASSWORD)
    page = ui.page

    ui.goto("/exports/")
    ui.check()
    with page.expect_navigation():
        page.get_by_role("link", name="Nhập danh sách từ Excel").click()
    assert page.url.endswith("/exports/import")
    ui.check(screenshot="import-upload")

    with page.expect_download() as info:
        page.get_by_role("link", name="tệp mẫu").click()
    template = tmp_path / "mau.xlsx"
    info.value.save_as(template)
    headers = [cell.value for cell in openpyxl.load_workbook(template).worksheets[0][1]]
    assert headers[:4] == ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD/CMND"]
    filled = tmp_path / "danh-sach.xlsx"
    fill_template(template, filled)

    page.set_input_files("input[name=file]", str(filled))
    ui.submit()

    # The dry run's report, row by row in Vietnamese; nothing written yet.
    assert "/exports/import/" in page.url, page.url
    report = page.locator("#job-progress")
    expect(report).to_contain_text("Kết quả kiểm tra thử")
    bad_row = report.locator("tbody tr", has_text="Lỗi")
    expect(bad_row).to_have_count(1)
    expect(bad_row.locator("td").first).to_have_text("4")
    expect(bad_row).to_contain_text(
        "Số CCCD/CMND: Số CCCD gồm 12 chữ số, hoặc số CMND cũ gồm 9 chữ số.")
    expect(report.locator("tbody tr", has_text="Dòng ví dụ của tệp mẫu")).to_have_count(1)
    expect(report.locator("dd").nth(1)).to_have_text("2")  # valid, to be imported
    ui.check(screenshot="import-dry-run")
    # The rows to review, as a workbook: the example's row and the one with an error only.
    with page.expect_download() as info:
        report.get_by_role("link", name="Tải các dòng cần xem lại").click()
    to_review = tmp_path / "can-xem-lai.xlsx"
    info.value.save_as(to_review)
    rows = openpyxl.load_workbook(to_review).worksheets[0].iter_rows(min_row=2,
                                                                      values_only=True)
    assert sorted(row[0] for row in rows) == [2, 4]
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count(Recipient.id))) == 0

    # Confirmed: the two right rows are written.
    ui.submit("main form button:has-text('Xác nhận nhập 2 đối tượng')")
    expect(page.locator("#job-progress")).to_contain_text("Đã thêm 2 đối tượng")
    ui.check(screenshot="import-done")
    db.session.remove()
    job = db.session.scalars(sa.select(ImportJob)).one()
    assert job.status == JobStatus.done and job.created_count == 2
    people = db.session.scalars(sa.select(Recipient)).all()
    assert {(p.full_name, p.national_id, p.facility_id) for p in people} == {
        ("Phạm Thị Lan", "089192123123", station_id),
        ("Đặng Văn Hải", "089068456456", station_id),
    }

    # ...and the register finds them.
    search(ui, "dang van hai")
    expect(page.locator("#results")).to_contain_text("Đặng Văn Hải")
    ui.check()
