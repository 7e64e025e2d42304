"""A reviewer reads ONE masked form of a national ID and a phone number wherever they appear:
the register, the recipient's page, the Excel export (downloaded over HTTP, read back with
openpyxl) and the audit trail's row (P1). The three once masked by copies of one rule, and
the audit's copy let a reviewer read the full number."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from vaxportal.audit.models import AuditEvent
from vaxportal.exports.models import ExportJob
from vaxportal.extensions import db
from vaxportal.recipients.services import create_recipient

NATIONAL_ID = "079080123456"
PHONE = "+84912345678"
#: the one masked form: every character but the last three hidden
MASKED_ID = "*********456"
MASKED_PHONE = "*********678"


@pytest.fixture
def recipient(place):
    made = create_recipient({"full_name": "Nguyễn Văn An", "date_of_birth": date(1980, 9, 5),
                             "gender": "male", "national_id": NATIONAL_ID, "phone": PHONE},
                            place["s2"].id)
    db.session.commit()
    return made


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _assert_masked(text: str) -> None:
    assert MASKED_ID in text and MASKED_PHONE in text
    assert NATIONAL_ID not in text and PHONE not in text


def _exported_cells(client, outbox) -> tuple[list, str]:
    """Request an export of the whole register, confirm it with its own SMS code (P3.4),
    download it: the cells' values and the sheets' XML."""
    response = client.post("/exports/new", data={"s": ""})
    assert response.status_code == 303
    job = db.session.get(ExportJob, response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    code = [m for m in outbox() if job.short_ref in m["body"]][-1]["secret"]
    assert client.post(f"/exports/{job.id}/confirm", data={"code": code}).status_code == 303
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.data))
    cells = [cell.value for sheet in book.worksheets for row in sheet.iter_rows()
             for cell in row if cell.value is not None]
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        xml = "".join(archive.read(name).decode("utf-8") for name in archive.namelist()
                      if name.startswith("xl/"))
    return cells, xml


def _insert_row(recipient) -> AuditEvent:
    return db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.entity == "recipient", AuditEvent.entity_id == str(recipient.id),
        AuditEvent.action == "insert"))


def test_p1_reviewer_sees_one_masked_national_id_on_register_export_and_audit(
        reviewer, recipient, outbox):
    _assert_masked(_page(reviewer.get("/recipients/")))
    _assert_masked(_page(reviewer.get(f"/recipients/{recipient.id}")))

    cells, xml = _exported_cells(reviewer, outbox)
    assert MASKED_ID in cells and MASKED_PHONE in cells
    assert NATIONAL_ID not in xml and PHONE not in xml

    row = _insert_row(recipient)
    assert row.changes["national_id"]["new"] == NATIONAL_ID  # the trail keeps the value
    _assert_masked(_page(reviewer.get(f"/audit/{row.id}")))


def test_p1_the_nurse_who_writes_the_record_reads_it_in_full_everywhere(
        signed_in, place, recipient, outbox):
    nurse = signed_in("data_entry", facility=place["s2"])
    page = _page(nurse.get(f"/recipients/{recipient.id}"))
    assert NATIONAL_ID in page and PHONE in page
    cells, _xml = _exported_cells(nurse, outbox)
    assert NATIONAL_ID in cells and PHONE in cells
