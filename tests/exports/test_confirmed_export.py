"""The page of a confirmed export: the file was downloaded (when, by whom), a link to
download it again until it expires, never the code form again (P3.4: the code served once)."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import code_for, confirm, html, request_export
from vaxportal.exports.models import ExportJob
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow


def _confirmed(client, outbox) -> tuple[ExportJob, str]:
    job = request_export(client)
    response = confirm(client, job, code_for(outbox, job))
    assert response.status_code == 303
    return job, response.headers["Location"]


def test_p3_4_confirmation_lands_on_the_export_page_not_the_code_form(nurse, person, outbox):
    person()
    job, location = _confirmed(nurse, outbox)
    assert location.endswith(f"/exports/{job.id}")
    page = html(nurse.get(location))
    assert f"/exports/{job.id}/confirm" not in page and 'name="code"' not in page
    assert f'href="/exports/{job.id}/download"' in page
    # the browser fetches the file once by itself, without JavaScript
    assert f'http-equiv="refresh" content="0;url=/exports/{job.id}/download"' in page


def test_p2_4_export_page_says_when_and_by_whom_it_was_downloaded(nurse, person, outbox):
    person()
    job, location = _confirmed(nurse, outbox)
    assert nurse.get(f"/exports/{job.id}/download").status_code == 200
    page = html(nurse.get(location))
    assert "Đã tải về" in page and nurse.account.username in page
    assert 'http-equiv="refresh"' not in page  # downloaded: no second automatic download
    assert f'href="/exports/{job.id}/download"' in page  # but it can be fetched again
    assert 'name="code"' not in page


def test_p3_4_expired_export_page_offers_neither_file_nor_code(nurse, person, outbox):
    person()
    job, location = _confirmed(nurse, outbox)
    assert nurse.get(f"/exports/{job.id}/download").status_code == 200
    db.session.get(ExportJob, job.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    page = html(nurse.get(location))
    assert "/download" not in page and 'name="code"' not in page
    assert "Đã tải về" in page


def test_p3_4_replaying_the_code_on_a_confirmed_export_shows_no_code_form(nurse, person,
                                                                          outbox):
    person()
    job, _location = _confirmed(nurse, outbox)
    replay = confirm(nurse, job, code_for(outbox, job))
    assert replay.status_code in (303, 400)
    page = html(nurse.get(f"/exports/{job.id}"))
    assert 'name="code"' not in page
