"""Importing recipient lists: template, upload checks, dry run, confirm, idempotence, and a
job killed halfway."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from tests.helpers import (
    HEADERS,
    RECIPIENT_FIELDS,
    html,
    last_import,
    next_nid,
    spreadsheet,
    upload,
)
from vaxportal.audit import chain
from vaxportal.audit.models import AuditEvent
from vaxportal.exports import cleanup, importing, storage
from vaxportal.exports.models import ImportJob, JobStatus
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate, Recipient


def _row(**fields) -> dict:
    row = {"full_name": "Lê Thị Hồng", "date_of_birth": "05/09/1980", "gender": "Nữ",
           "national_id": next_nid(), "phone": "0912 345 678", "province": "An Giang"}
    row.update(fields)
    return row


def _recipients() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(Recipient.id)))


def _confirm(client, job: ImportJob):
    return client.post(f"/exports/import/{job.id}/confirm")


def test_template_has_vietnamese_headers_dropdowns_and_an_example(nurse):
    response = nurse.get("/exports/import/template")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    for header in HEADERS:
        assert header in values, header
    validations = sheet.data_validations.dataValidation
    formulas = " ".join(str(v.formula1) for v in validations if v.type == "list")
    assert validations and ("Nam" in formulas or "!" in formulas)
    assert "Nguyễn Văn An" in values  # the example row


def test_template_uploaded_as_it_is_reads_and_skips_its_example(nurse):
    data = nurse.get("/exports/import/template").data
    response = upload(nurse, data)
    assert response.status_code == 303
    job = last_import()
    assert (job.total_rows, job.valid_rows, job.duplicate_rows) == (1, 0, 1)
    assert "Dòng ví dụ của tệp mẫu" in html(nurse.get(response.headers["Location"]))
    assert _recipients() == 0


def test_import_pages_poll_while_checking_and_stop_when_done(nurse, monkeypatch):
    from vaxportal.exports import import_views

    held = []
    monkeypatch.setattr(import_views.jobs, "enqueue", lambda path, *args: held.append(args))
    response = upload(nurse, spreadsheet([_row()]))
    job = last_import()
    assert held == [(job.id,)] and job.status == JobStatus.pending
    page = html(nurse.get(response.headers["Location"]))
    assert "<progress" in page and 'hx-trigger="every 2s"' in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    importing.check_import(job.id)
    fragment = html(nurse.hx("GET", response.headers["Location"]))
    assert "<html" not in fragment and "hx-trigger" not in fragment
    assert "Xác nhận nhập 1 đối tượng" in fragment


@pytest.mark.parametrize("data, name", [
    (b"Ho ten;Ngay sinh\nAn;01/01/1990\n", "danh-sach.xlsx"),  # a CSV renamed
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "danh-sach.xlsx"),  # old .xls
    (b"PK\x03\x04" + b"\0" * 100, "danh-sach.xlsx"),  # a zip, not a workbook
])
def test_a_file_that_is_not_xlsx_gets_a_clear_message(nurse, data, name):
    response = upload(nurse, data, name)
    assert response.status_code == 400
    assert "không phải là tệp Excel .xlsx" in html(response)
    assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0


def test_a_real_xlsx_is_accepted_whatever_its_name(nurse):
    response = upload(nurse, spreadsheet([_row()]), "danh sach.dat")
    assert response.status_code == 303


def test_a_file_over_the_size_limit_is_refused(app, nurse):
    app.config["IMPORT_MAX_BYTES"] = 2_000
    big = spreadsheet([_row(street="x" * 150) for _ in range(60)])
    assert len(big) > 2_000
    response = upload(nurse, big)
    assert response.status_code == 400
    assert "Tệp quá lớn" in html(response)


def test_dry_run_reports_every_row_with_a_message_and_writes_nothing(nurse, person):
    existing = person(national_id="089080555555")
    twin_id = next_nid()
    rows = [
        _row(full_name="Đúng Một"),
        _row(full_name="Sai Số", national_id="12345"),
        _row(full_name="Trùng Trong Tệp", national_id=twin_id),
        _row(full_name="Trùng Trong Tệp Hai", national_id=twin_id),
        _row(full_name="Đã Có", national_id=existing.national_id),
        _row(full_name="Sai Ngày", date_of_birth="31/02/1990"),
        _row(full_name='=HYPERLINK("http://x","y")'),
    ]
    before = _recipients()
    response = upload(nurse, spreadsheet(rows))
    assert response.status_code == 303
    job = last_import()
    assert job.status == JobStatus.checked
    assert (job.total_rows, job.valid_rows, job.error_rows, job.duplicate_rows) == (7, 3, 2, 2)
    assert _recipients() == before  # the dry run wrote nothing
    page = html(nurse.get(response.headers["Location"]))
    assert "Số CCCD gồm 12 chữ số" in page
    assert "không có trên lịch" in page
    assert "Trùng số CCCD/CMND với dòng" in page
    assert "đã có trong hệ thống" in page
    assert "Xác nhận nhập 3 đối tượng" in page

    assert "Tải các dòng cần xem lại" in page
    report = nurse.get(f"/exports/import/{job.id}/report")
    assert report.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(report.data))
    values = [c.value for s in book.worksheets for r in s.iter_rows() for c in r if c.value]
    assert any("Số CCCD gồm 12 chữ số" in str(v) for v in values)
    assert any("Trùng số CCCD/CMND" in str(v) for v in values)
    # the rows with a message, by their row in the upload, and no other
    sheet = book.worksheets[0]
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [3, 5, 6, 7]
    assert "Đúng Một" not in values and '=HYPERLINK("http://x","y")' not in values
    assert _recipients() == before


def test_a_formula_in_a_row_with_an_error_comes_back_as_text(nurse):
    """P3.4: a cell that would be a formula is echoed back in the report as text."""
    upload(nurse, spreadsheet([_row(full_name='=HYPERLINK("http://x","y")',
                                    national_id="12345")]))
    job = last_import()
    book = openpyxl.load_workbook(io.BytesIO(nurse.get(f"/exports/import/{job.id}/report").data))
    cell = book.worksheets[0]["B2"]
    assert cell.value == '=HYPERLINK("http://x","y")' and cell.data_type == "s"


def test_the_rows_corrected_in_the_report_upload_again_and_only_they_are_added(nurse, person):
    """The report's workflow end to end: the valid rows imported, the report downloaded, its
    rows with an error corrected in it, the report uploaded again as a list of its own: the
    corrected rows are added, its duplicate is skipped again, nothing else is added."""
    existing = person(national_id="089080555556")
    rows = [_row(full_name=f"Đúng {i}") for i in range(3)]
    rows += [_row(full_name="Sai Số", national_id="12345"),
             _row(full_name="Sai Ngày", date_of_birth="31/02/1990"),
             _row(full_name="Đã Có", national_id=existing.national_id)]
    upload(nurse, spreadsheet(rows))
    job = last_import()
    assert (job.valid_rows, job.error_rows, job.duplicate_rows) == (3, 2, 1)
    _confirm(nurse, job)
    assert _recipients() == 4
    book = openpyxl.load_workbook(io.BytesIO(nurse.get(f"/exports/import/{job.id}/report").data))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    lines = {row[header.index("Họ và tên")].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(lines) == {"Sai Số", "Sai Ngày", "Đã Có"}
    lines["Sai Số"][header.index("Số CCCD/CMND")].value = next_nid()
    lines["Sai Ngày"][header.index("Ngày sinh")].value = "28/02/1980"
    corrected = io.BytesIO()
    book.save(corrected)
    response = upload(nurse, corrected.getvalue())
    assert response.status_code == 303
    again = last_import()
    assert again.id != job.id
    assert (again.total_rows, again.valid_rows, again.error_rows, again.duplicate_rows) == (
        3, 2, 0, 1)
    _confirm(nurse, again)
    assert last_import().created_count == 2 and _recipients() == 6


def test_confirm_writes_the_valid_rows_and_is_audited(nurse, place):
    rows = [_row(full_name=f"Người Nhập {i}") for i in range(3)] + [_row(national_id="1")]
    upload(nurse, spreadsheet(rows))
    job = last_import()
    response = _confirm(nurse, job)
    assert response.status_code == 303
    job = last_import()
    assert job.status == JobStatus.done and job.created_count == 3 and job.skipped_count == 1
    names = set(db.session.scalars(sa.select(Recipient.full_name)))
    assert names == {"Người Nhập 0", "Người Nhập 1", "Người Nhập 2"}
    stored = db.session.scalar(sa.select(Recipient).where(Recipient.full_name == "Người Nhập 0"))
    assert stored.facility_id == place["s1"].id and stored.gender == "female"
    assert stored.date_of_birth == date(1980, 9, 5) and stored.phone == "+84912345678"
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "import_completed"))
    assert event.details["sha256"] == job.file_sha256
    assert event.details["created"] == 3 and event.details["skipped"] == 1
    assert event.account_id == nurse.account.id
    assert "Đã thêm 3 đối tượng" in html(nurse.get(f"/exports/import/{job.id}"))


def test_reimporting_the_same_file_adds_nothing(nurse):
    data = spreadsheet([_row(full_name=f"Người {i}") for i in range(3)])
    upload(nurse, data)
    _confirm(nurse, last_import())
    assert _recipients() == 3
    again = upload(nurse, data)
    assert again.status_code == 400
    assert "đã được nhập" in html(again)
    assert _recipients() == 3


def test_reimporting_the_same_people_in_another_file_adds_nothing(nurse):
    rows = [_row(full_name=f"Người {i}") for i in range(3)]
    rows.append(_row(full_name="Không Giấy Tờ", national_id=None))
    upload(nurse, spreadsheet(rows))
    _confirm(nurse, last_import())
    assert _recipients() == 4
    upload(nurse, spreadsheet(rows + [_row(full_name="Người Mới")]))  # other bytes
    job = last_import()
    assert (job.valid_rows, job.duplicate_rows) == (1, 4)
    _confirm(nurse, job)
    assert _recipients() == 5


def test_possible_duplicate_with_a_new_id_is_imported_and_queued(nurse, person):
    known = person(full_name="Võ Văn Tư", date_of_birth=date(1970, 1, 2), gender="male",
                   national_id=None)
    upload(nurse, spreadsheet([_row(full_name="Võ Văn Tư", date_of_birth="02/01/1970",
                                    gender="Nam")]))
    job = last_import()
    assert job.valid_rows == 1
    assert "nghi trùng" in html(nurse.get(f"/exports/import/{job.id}"))
    _confirm(nurse, job)
    pair = db.session.scalar(sa.select(DuplicateCandidate))
    assert pair is not None and pair.other_id == known.id


def test_nothing_is_written_unless_confirmed_and_discard_deletes_the_file(nurse):
    upload(nurse, spreadsheet([_row()]))
    job = last_import()
    response = nurse.post(f"/exports/import/{job.id}/discard")
    assert response.status_code == 303
    assert _recipients() == 0
    assert last_import().status == JobStatus.cancelled
    assert _confirm(nurse, job).status_code == 303
    assert _recipients() == 0


def test_a_list_with_nothing_to_correct_gets_no_report(nurse, person):
    """No row with an error, and every row with a message listed on the page (a person
    already registered, skipped; a possible duplicate, imported and queued): the dry run
    writes no workbook of everyone's personal data (nothing in it would need correcting);
    the page lists those rows, says there is nothing to correct and offers no download."""
    existing = person(full_name="Trần Văn Bình", date_of_birth=date(1975, 3, 4),
                      gender="male")
    rows = [_row(full_name="Đúng Một"), _row(full_name="Đã Có", national_id=existing.national_id),
            _row(full_name="Trần Văn Bình", date_of_birth="04/03/1975", gender="Nam")]
    response = upload(nurse, spreadsheet(rows))
    job = last_import()
    assert (job.status, job.valid_rows, job.error_rows, job.duplicate_rows) == (
        JobStatus.checked, 2, 0, 1)
    assert [entry["status"] for entry in job.report] == ["duplicate", "warning"]
    assert not storage.report_path(job.id).exists()
    page = html(nurse.get(response.headers["Location"]))
    assert "Không có dòng nào cần sửa" in page and "đã có trong hệ thống" in page
    assert f"/exports/import/{job.id}/report" not in page
    assert nurse.get(f"/exports/import/{job.id}/report").status_code == 404
    assert _confirm(nurse, job).status_code == 303
    assert last_import().created_count == 2


def test_more_messages_than_the_page_lists_get_the_report(nurse, person, monkeypatch):
    """Without an error, the workbook is still written when the page cannot list every row
    that has a message (``REPORT_LIMIT``): the page then points to it for the rest."""
    monkeypatch.setattr(importing, "REPORT_LIMIT", 1)
    known = [person(full_name=f"Đã Có {i}") for i in range(2)]
    response = upload(nurse, spreadsheet([_row(full_name=f"Đã Có {i}",
                                                national_id=known[i].national_id)
                                           for i in range(2)] + [_row()]))
    job = last_import()
    assert (job.error_rows, job.duplicate_rows, job.report_truncated) == (0, 2, True)
    assert storage.report_path(job.id).exists()
    page = html(nurse.get(response.headers["Location"]))
    assert f"/exports/import/{job.id}/report" in page
    assert "Không có dòng nào cần sửa" not in page


def test_the_report_gives_back_each_cell_as_it_was_read(nurse):
    """The report is written from the dry run's kept rows: a date cell comes back a date,
    a number a number, a boolean a boolean, text as text, in each row with a message (a
    ready row is not in it), with its messages."""
    rows = [_row(full_name="Sai Một", date_of_birth=datetime(1980, 9, 5), phone=912345678,
                 street=time(8, 30), ward="Không Có Xã Này"),
            _row(full_name="Đúng Một"),
            _row(full_name="Sai Số", national_id="12345", date_of_birth="05/09/1980",
                 occupation=True)]
    upload(nurse, spreadsheet(rows))
    job = last_import()
    assert (job.valid_rows, job.error_rows) == (1, 2)
    report = nurse.get(f"/exports/import/{job.id}/report")
    sheet = openpyxl.load_workbook(io.BytesIO(report.data)).worksheets[0]
    header, *lines = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert header == ["Dòng", *HEADERS, "Lỗi"]
    keys = ["row", *(key for key, _label, _kind in RECIPIENT_FIELDS), "errors"]
    first, second = (dict(zip(keys, line, strict=True)) for line in lines)
    assert first["row"] == 2 and first["date_of_birth"] == datetime(1980, 9, 5)
    assert first["phone"] == 912345678 and first["errors"]
    assert first["street"] == "08:30:00"  # a time of day, written as its text (as ever)
    assert second["row"] == 4 and second["date_of_birth"] == "05/09/1980"
    assert second["national_id"] == "12345" and second["occupation"] is True
    assert "Số CCCD gồm 12 chữ số" in second["errors"]


def test_kept_rows_give_back_every_kind_of_cell(app):
    """What the report is written from: a row's cells of every kind a sheet gives (text,
    numbers, a boolean, empty, a date and time, a date, a time of day, a duration) come
    back as they were, with the row's messages; and a row's checked values as the writing
    reads them, also from a line kept before dates were tagged."""
    from vaxportal.exports import checks

    cells = {"a": "chữ", "b": 12, "c": 1.5, "d": True, "e": None,
             "f": datetime(2020, 1, 2, 3, 4, 5), "g": date(2020, 1, 2), "h": time(8, 30),
             "i": timedelta(hours=1, seconds=5)}
    with importing.CheckedRows.writer("kept-kinds") as kept:
        kept.add(checks.RowCheck(7, cells, status=checks.ERROR, messages=["x", "y"]))
    try:
        (row, back, messages), = importing.CheckedRows.reported("kept-kinds")
        assert (row, messages) == (7, "x; y")
        assert back == cells and [type(v) for v in back.values()] == [
            type(v) for v in cells.values()]
        assert list(importing.CheckedRows.read("kept-kinds"))[0].status == checks.ERROR
        clean = {"full_name": "Lê Thị Hồng", "date_of_birth": date(1980, 9, 5)}
        with importing.CheckedRows.writer("kept-kinds") as kept:
            kept.add(checks.RowCheck(8, cells, clean=dict(clean)))
        kept_now, = importing.CheckedRows.read("kept-kinds")
        # a line kept before dates were tagged (a job checked before an upgrade)
        storage.checked_path("kept-kinds").write_text(
            '[9,{"full_name":"Lê Thị Hồng","date_of_birth":"1980-09-05"}]\n', encoding="utf-8")
        kept_before, = importing.CheckedRows.read("kept-kinds")
        assert kept_now.clean == kept_before.clean == clean
    finally:
        importing.remove_files("kept-kinds")


def test_import_job_belongs_to_its_account(nurse, signed_in, place):
    upload(nurse, spreadsheet([_row()]))
    job = last_import()
    other = signed_in("data_entry", facility=place["s1"])
    assert other.get(f"/exports/import/{job.id}").status_code == 404
    assert other.post(f"/exports/import/{job.id}/confirm").status_code == 404
    assert other.get(f"/exports/import/{job.id}/report").status_code == 404
    assert _recipients() == 0


def test_import_into_a_facility_outside_the_write_scope_is_refused(nurse, place):
    response = upload(nurse, spreadsheet([_row()]), facility_id=str(place["s2"].id))
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0


@pytest.fixture
def config(config):
    config["IMPORT_BATCH_SIZE"] = 4
    return config


def test_a_job_killed_halfway_leaves_no_partial_batch_and_is_failed(nurse, monkeypatch):
    data = spreadsheet([_row(full_name=f"Người {i}") for i in range(10)])
    upload(nurse, data)
    job = last_import()
    real = importing.register_batch
    calls = []

    def dies_inside_the_second_batch(people, facility_id, ids, **kwargs):
        calls.append(1)
        real(people, facility_id, ids, **kwargs)  # its rows and audit rows written, not committed
        if len(calls) == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(importing, "register_batch", dies_inside_the_second_batch)
    assert _confirm(nurse, job).status_code == 303
    job = last_import()
    assert job.status == JobStatus.failed
    assert _recipients() == 4  # the first batch of 4, none of the second
    assert job.created_count == 4 and job.progress == 4
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "import_failed")).details["created"] == 4
    assert "nhóm đang ghi dở không được lưu" in html(nurse.get(f"/exports/import/{job.id}"))

    # the same file again: what was written is skipped, the rest is imported
    monkeypatch.setattr(importing, "register_batch", real)
    assert upload(nurse, data).status_code == 303
    retry = last_import()
    assert (retry.valid_rows, retry.duplicate_rows) == (6, 4)
    _confirm(nurse, retry)
    assert _recipients() == 10


class WorkerKilled(BaseException):
    """The worker process dies (SIGKILL, power cut): no ``except Exception`` sees it."""


def test_p2_4_a_killed_import_is_swept_failed_audited_and_keeps_whole_batches_only(
        nurse, monkeypatch):
    from vaxportal.exports import import_views
    from vaxportal.timeutil import utcnow

    held = []
    monkeypatch.setattr(import_views.jobs, "enqueue", lambda path, *args: held.append(path))
    upload(nurse, spreadsheet([_row(full_name=f"Người {i}") for i in range(10)]))
    importing.check_import(last_import().id)  # the dry run, as its job would
    job = last_import()
    assert job.status == JobStatus.checked and job.valid_rows == 10
    assert _confirm(nurse, job).status_code == 303
    assert held[-1] == "vaxportal.exports.jobs.run_import"

    real = importing.register_batch
    calls = []

    def killed_inside_the_second_batch(people, facility_id, ids, **kwargs):
        calls.append(1)
        real(people, facility_id, ids, **kwargs)  # its rows and audit rows written, not committed
        if len(calls) == 2:
            raise WorkerKilled

    monkeypatch.setattr(importing, "register_batch", killed_inside_the_second_batch)
    with pytest.raises(WorkerKilled):
        importing.run_import(job.id)  # the worker runs the job and dies halfway
    db.session.rollback()  # its open transaction dies with it
    job = last_import()
    assert job.status == JobStatus.running and job.progress == 4  # left "running"
    assert _recipients() == 4

    cleanup.run()  # a recent heartbeat: not yet taken as dead
    assert last_import().status == JobStatus.running
    db.session.execute(sa.update(ImportJob).where(ImportJob.id == job.id)
                       .values(updated_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    cleanup.run()  # the scheduled sweep
    job = last_import()
    assert job.status == JobStatus.failed and job.error == "abandoned"
    assert _recipients() == 4  # the first batch whole, nothing of the second
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "import_failed", AuditEvent.entity_id == job.id))
    assert event is not None
    assert event.details["reason"] == "abandoned"
    assert event.details["created"] == 4 and event.details["sha256"] == job.file_sha256
    assert event.account_id == nurse.account.id
    assert event.actor == f"job:{nurse.account.username}"
    page = html(nurse.get(f"/exports/import/{job.id}"))
    assert "nhóm đang ghi dở không được lưu" in page and "(4 đối tượng)" in page


def test_imported_people_are_found_by_any_part_of_their_name(nurse):
    """Search by any part of a name (issue 14): the import keeps the name's word keys too."""
    upload(nurse, spreadsheet([_row(full_name="Nguyễn Thị Hồng Đào")]))
    assert _confirm(nurse, last_import()).status_code == 303
    page = html(nurse.hx("POST", "/recipients/", data={"q": "hong dao"}))
    assert "Nguyễn Thị Hồng Đào" in page


def test_the_writing_writes_what_the_dry_run_checked_without_reading_the_file_again(nurse):
    from vaxportal.exports import storage

    upload(nurse, spreadsheet([_row(full_name=f"Đã Kiểm Tra {i}") for i in range(3)]))
    job = last_import()
    # the upload changes on disk after the dry run: what was checked is what is written
    storage.upload_path(job.id).write_bytes(spreadsheet([_row(full_name="Chưa Kiểm Tra")]))
    _confirm(nurse, job)
    job = last_import()
    assert job.status == JobStatus.done and job.created_count == 3
    names = set(db.session.scalars(sa.select(Recipient.full_name)))
    assert names == {"Đã Kiểm Tra 0", "Đã Kiểm Tra 1", "Đã Kiểm Tra 2"}
    # the kept rows hold personal data: they go with the upload
    assert not storage.checked_path(job.id).exists()
    assert not storage.upload_path(job.id).exists()


def test_a_discarded_import_leaves_no_checked_rows_on_disk(nurse):
    from vaxportal.exports import storage

    upload(nurse, spreadsheet([_row()]))
    job = last_import()
    assert storage.checked_path(job.id).exists()
    nurse.post(f"/exports/import/{job.id}/discard")
    assert not storage.checked_path(job.id).exists()


@pytest.mark.parametrize("seconds_per_batch, saves", [(0.0, 0), (2.0, 3)])
def test_the_dry_run_saves_its_progress_at_most_once_a_second(nurse, monkeypatch,
                                                              seconds_per_batch, saves):
    """The page asks for the dry run's progress every 2 s: it is committed when a second
    has passed since the last time, not after every batch (IMPORT_BATCH_SIZE is 4 here)."""
    from vaxportal.exports import import_views

    held, saved, now = [], [], [0.0]

    def clock():
        now[0] += seconds_per_batch
        return now[0]

    monkeypatch.setattr(import_views.jobs, "enqueue", lambda path, *args: held.append(args))
    monkeypatch.setattr(importing, "_clock", clock)
    save = importing._save_progress
    monkeypatch.setattr(importing, "_save_progress",
                        lambda job_id, rows: (saved.append(rows), save(job_id, rows)))
    upload(nurse, spreadsheet([_row(full_name=f"Người Số {i}") for i in range(12)]))
    importing.check_import(last_import().id)
    assert saved == [4, 8, 12][:saves]
    assert last_import().total_rows == 12


def _statements_of_an_import(nurse, rows: list[dict]) -> list[str]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        upload(nurse, spreadsheet(rows))
        _confirm(nurse, last_import())
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert last_import().status == JobStatus.done
    return seen


def test_an_import_reads_the_priority_groups_and_inserts_a_batch_in_statements_not_per_row(
        nurse):
    """The coded columns are looked up in lists read once per job (not once per row and
    field), and a batch's recipients go in together: the statements of an import do not
    grow with its rows (one batch here: IMPORT_BATCH_SIZE is 4 in this module)."""
    few = _statements_of_an_import(nurse, [_row(priority_group="Nhóm 5")])
    many = _statements_of_an_import(
        nurse, [_row(full_name=f"Người {i}", priority_group="Nhóm 5") for i in range(4)])
    groups = [s for s in many if "FROM priority_group" in s]
    assert len(groups) == len([s for s in few if "FROM priority_group" in s]) <= 2
    inserts = [s for s in many if s.startswith(("INSERT INTO recipient ", "COPY recipient "))]
    assert len(inserts) == 1
    # no more for four rows than for one (the first import may also ask once whether the
    # coverage summary's tables exist: ``reports.summary._ready``, remembered per engine)
    assert len(many) <= len(few)


def test_a_batch_of_records_goes_in_as_one_execution(nurse):
    """The batch's records, their name words in the same rows, and their audit rows are one
    statement each, run once: on SQLite one ``executemany``; on PostgreSQL one ``COPY``
    (psycopg's ``executemany`` binds and runs the statement once per row)."""
    seen: list[tuple] = []
    tables = ("recipient", "audit_event")

    def keep(conn, cursor, statement, parameters, context, executemany):
        verb, _sep, rest = statement.partition(" INTO ") if statement.startswith("INSERT") \
            else statement.partition(" ")
        if rest.split(" ")[0] in tables:
            seen.append((verb, rest.split(" ")[0], executemany, parameters))

    upload(nurse, spreadsheet([_row(full_name=f"Người Số {i}") for i in range(4)]))
    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        _confirm(nurse, last_import())
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert last_import().created_count == 4
    batch = [(verb, table, many, parameters) for verb, table, many, parameters in seen
             if many or verb == "COPY"]
    if db.session.connection().dialect.name == "postgresql":
        assert [(verb, table) for verb, table, _m, _p in batch] == [
            ("COPY", "recipient"), ("COPY", "audit_event")]
        assert not any(s[0] == "INSERT" and s[1] == "recipient" for s in seen)
    else:
        assert [(table, len(parameters)) for _v, table, _m, parameters in batch] == [
            ("recipient", 4), ("audit_event", 4)]
    rows = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "recipient").order_by(AuditEvent.id)).all()
    assert [row.changes["full_name"]["new"] for row in rows[-4:]] == [
        f"Người Số {i}" for i in range(4)]
    assert chain.verify(db.session.connection(), checkpoints=[]).broken_id is None
    words = db.session.scalars(sa.select(Recipient.name_words).order_by(Recipient.id))
    assert list(words) == [f"nguoi so {i}" for i in range(4)]


def test_a_value_repeated_on_many_rows_is_checked_once_and_a_commune_within_its_province(
        nurse, monkeypatch):
    """The dry run checks each distinct value of a field once (the same text gets the same
    verdict on every row); a commune's verdict depends on the row's province, so the same
    commune name is judged again under another province, and refused without one."""
    from vaxportal.recipients import codes

    calls: list[tuple] = []
    to_code = codes.to_code

    def counted(key, text, *args, **kwargs):
        calls.append((key, text))
        return to_code(key, text, *args, **kwargs)

    monkeypatch.setattr(codes, "to_code", counted)
    rows = [_row(full_name=f"Người {i}", ethnicity="Kinh", ward="Xã An Phú") for i in range(3)]
    rows += [_row(full_name="Người Hải Phòng", ethnicity="Kinh", ward="Xã An Phú",
                  province="Thành phố Hải Phòng"),
             _row(full_name="Người không tỉnh", ethnicity="Kinh", ward="Xã An Phú",
                  province="")]
    upload(nurse, spreadsheet(rows))
    job = last_import()
    assert calls.count(("ethnicity", "Kinh")) == 1
    assert calls.count(("ward", "Xã An Phú")) == 3  # An Giang, Hải Phòng, no province
    assert (job.valid_rows, job.error_rows) == (4, 1)
    assert "Vui lòng chọn tỉnh/thành phố trước." in str(job.report)
    _confirm(nurse, job)
    wards = db.session.execute(sa.select(Recipient.province, Recipient.ward)
                               .order_by(Recipient.id)).all()
    assert [tuple(w) for w in wards] == [("91", "30337")] * 3 + [("31", "10645")]


def test_p2_4_a_batch_writes_the_record_words_and_audit_row_a_flush_of_the_object_would(
        place, person):
    """The import writes a batch in statements (``services.register_batch``), not objects:
    the stored record (its search keys, the nationality's default for an empty cell, the
    first version), its words, its audit row and a possible duplicate's queue entry are
    those ``register_recipient`` and the session hook write for the same person."""
    from tests.helpers import audit_rows
    from vaxportal.audit import chain
    from vaxportal.recipients.services import (
        register_batch,
        register_recipient,
        validate_recipient_data,
    )

    station = place["s1"].id
    earlier = person("s1", full_name="Trần Thị Bé-Ba", date_of_birth=date(1990, 1, 2),
                     gender="female")
    clean, errors = validate_recipient_data({
        "full_name": "Trần  Thị Bé-Ba", "date_of_birth": date(1990, 1, 2), "gender": "Nữ",
        "phone": "0912 345 678", "ethnicity": "Kinh", "province": "An Giang",
        "ward": "Xã An Phú", "street": "12 Trần Hưng Đạo", "nationality": None})
    assert not errors and clean["nationality"] is None
    by_object = register_recipient(clean, station, duplicates=None)
    db.session.flush()
    register_batch([(clean, True)], station, [by_object.id + 1])
    db.session.commit()

    def stored(recipient_id):
        row = db.session.execute(sa.select(Recipient.__table__).where(
            Recipient.id == recipient_id)).mappings().one()
        return {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}

    one, two = stored(by_object.id), stored(by_object.id + 1)
    assert one == two and one["nationality"] == "VN" and one["version_id"] == 1
    assert one["name_words"] == "tran thi be ba"
    rows = {int(r.entity_id): r for r in audit_rows(entity="recipient", action="insert")}
    first, second = rows[by_object.id], rows[by_object.id + 1]

    def content(row):
        changes = {k: v for k, v in row.changes.items() if k not in ("id", "created_at")}
        return (row.category, row.facility_id, row.actor, row.account_id, changes)

    assert content(first) == content(second)
    assert set(first.changes) == set(second.changes)
    assert second.changes["id"] == {"old": None, "new": by_object.id + 1}
    queued = db.session.execute(sa.select(DuplicateCandidate.recipient_id,
                                          DuplicateCandidate.other_id)
                                .order_by(DuplicateCandidate.id)).all()
    # each with the records before it: the earlier one, then the earlier one and the first
    assert [tuple(q) for q in queued] == [(by_object.id, earlier.id),
                                          (by_object.id + 1, earlier.id),
                                          (by_object.id + 1, by_object.id)]
    with db.engine.connect() as conn:
        assert chain.verify(conn).ok


def test_the_duplicate_check_searches_the_person_index_key_by_key(person):
    """A batch's duplicate check joins its keys to the records through ``ix_recipient_person``
    (one index search per key), never a scan of the register: an import's cost must not
    grow with the number of people already registered. (SQLite's row-value ``IN`` scanned
    the table once per batch.)"""
    from vaxportal.exports import checks

    known = person("s1", full_name="Lê Thị Hồng", date_of_birth=date(1980, 9, 5),
                   gender="female")
    seen: list[tuple] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "name_key" in statement and "date_of_birth" in statement:
            seen.append((statement, parameters))

    keys = {("le thi hong", date(1980, 9, 5), "female"), ("tran van a", date(1990, 1, 1), "male")}
    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        found = checks._registered_people(keys)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert found == {("le thi hong", date(1980, 9, 5), "female")} and known.id
    (statement, parameters), = seen
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters))
        assert "SEARCH recipient USING INDEX ix_recipient_person" in plan, plan
        assert "SCAN recipient" not in plan, plan
    else:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " | ".join(row[0] for row in conn.exec_driver_sql(
            "EXPLAIN " + statement, parameters))
        # each key by itself (a LATERAL ... LIMIT 1 per key), never one join over the table
        assert "Nested Loop" in plan and "Limit" in plan, plan
        assert "Hash Join" not in plan and "Seq Scan on recipient" not in plan, plan
    db.session.rollback()
