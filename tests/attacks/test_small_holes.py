"""Smaller holes at the seams (issue 11, section 5): numbers beyond the database's range in
paths and query strings, a session id that is no number, names that look alike but are not
the same text, export and upload files others could read, step-up codes that would confirm
another action than the one their SMS named, export files holding rows the confirmed code
never named, and a session cookie sent over plain HTTP."""

from __future__ import annotations

import logging
import os
import re
import stat
import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.attacks.support import step_up
from tests.helpers import (
    all_values,
    code_for,
    confirm,
    html,
    last_import,
    request_export,
    search_id,
    sign_in,
    spreadsheet,
    upload,
    workbook,
)
from vaxportal import create_app
from vaxportal.auth.models import UserSession
from vaxportal.exports.models import ExportJob
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate, Recipient

BEYOND_BIGINT = str(2**63)  # 9223372036854775808: overflows every integer column
BEYOND_INTEGER = str(2**31)  # overflows PostgreSQL's INTEGER, the id columns' type
HUGE = str(10**30)
INT_PARAM = re.compile(r"<int:[^>]+>")
ANY_PARAM = re.compile(r"<[^>]+>")


# -- integers beyond the database's range ---------------------------------------------------


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        if INT_PARAM.search(rule.rule):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.rule, method


def _filled(rule: str, number: str) -> str:
    return ANY_PARAM.sub("x", INT_PARAM.sub(number, rule))


@pytest.mark.parametrize("number", [BEYOND_BIGINT, BEYOND_INTEGER, HUGE])
def test_every_int_route_refuses_a_number_beyond_the_id_range(app, signed_in, place,
                                                                      number):
    rules = list(_int_rules(app))
    assert len(rules) > 20  # every <int:...> route of the app, GET and POST
    clients = [signed_in("supervisor", facility=place["d1"]),
               signed_in("admin", facility=place["min"])]
    failures = []
    for rule, method in rules:
        for client in clients:
            response = client.open(_filled(rule, number), method=method, data={})
            # 405 when the route's other method matches the path: refused before any view
            if response.status_code not in (404, 405):
                failures.append((method, rule, client.account.role, response.status_code))
    assert not failures


@pytest.mark.parametrize("url, role", [
    ("/recipients/?page=", "supervisor"),
    # a name's page is a statement of its own (two parts, its offset added to its size)
    ("/recipients/?q=nguyen&page=", "supervisor"),
    ("/recipients/?q=079&page=", "supervisor"),
    ("/recipients/duplicates?page=", "supervisor"),
    ("/recipients/lots?page=", "supervisor"),
    ("/reports/f/{d1}?page=", "supervisor"),
    ("/reports/f/{d1}/due?page=", "supervisor"),
    ("/reports/f/{d1}/quality?page=", "supervisor"),
    ("/audit/?page=", "supervisor"),
    ("/audit/?page=", "admin"),
    ("/facilities/?page=", "admin"),
    ("/facilities/new?parent=", "admin"),
])
@pytest.mark.parametrize("number", [HUGE, BEYOND_BIGINT, "-" + HUGE])
def test_int_query_args_beyond_the_range_never_make_a_500(signed_in, place, url, role, number):
    """Every list's page number (and the one id argument): PostgreSQL's integers overflow
    where SQLite's do not, so each runs on both."""
    client = signed_in(role, facility=place["min" if role == "admin" else "d1"])
    response = client.get(url.format(d1=place["d1"].id) + number)
    assert response.status_code in (200, 400, 404), html(response)


# -- ending one's own sessions ---------------------------------------------------------------


@pytest.mark.parametrize("session_id", ["abc", "1e3", " ", HUGE + "x", "-"])
def test_a_non_numeric_session_id_is_a_400_and_ends_no_session(nurse, new_client, session_id):
    other = new_client()
    other_row = sign_in(other, nurse.account)
    response = nurse.post("/auth/sessions", data={"session_id": session_id})
    assert response.status_code == 400, html(response)
    db.session.rollback()
    assert db.session.get(UserSession, other_row.id).ended_at is None
    assert other.get("/recipients/").status_code == 200


def test_ending_all_other_sessions_still_works_without_a_session_id(nurse, new_client):
    other = new_client()
    sign_in(other, nurse.account)
    response = nurse.post("/auth/sessions", data={})
    assert response.status_code == 303
    assert other.get("/recipients/").status_code != 200


# -- the session cookie ------------------------------------------------------------------------


def _production_app(config, **overrides):
    values = {key: value for key, value in config.items() if key != "TESTING"}
    values.pop("SESSION_COOKIE_SECURE", None)
    values.update(SMS_BACKEND="http", SMS_HTTP_URL="https://sms.example.vn/send", **overrides)
    return create_app(values)


def test_session_cookie_is_secure_by_default_outside_debug(config):
    assert _production_app(config).config["SESSION_COOKIE_SECURE"] is True


def test_session_cookie_secure_off_outside_debug_is_logged(config, caplog):
    with caplog.at_level(logging.WARNING):
        app = _production_app(config, SESSION_COOKIE_SECURE=False)
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert any("SESSION_COOKIE_SECURE" in record.getMessage() for record in caplog.records)


def test_session_cookie_secure_from_the_environment_string(config, monkeypatch):
    monkeypatch.setenv("VAXPORTAL_SESSION_COOKIE_SECURE", "false")
    assert _production_app(config).config["SESSION_COOKIE_SECURE"] is False


def test_session_cookie_not_secure_in_debug_unless_asked(config):
    assert _production_app(config, DEBUG=True).config["SESSION_COOKIE_SECURE"] is False


# -- files on disk -------------------------------------------------------------------------------


@pytest.fixture
def loose_umask():
    """A process umask that lets everyone read new files (the usual 022)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(app) -> list[Path]:
    return [path for path in Path(app.config["EXPORT_DIR"]).rglob("*") if path.is_file()]


def test_export_file_is_0600_in_a_0700_directory(app, nurse, person, outbox, loose_umask):
    person("s1")
    job = request_export(nurse)
    response = confirm(nurse, job, code_for(outbox, job))
    assert response.status_code == 303, html(response)
    exports = Path(app.config["EXPORT_DIR"])
    assert _mode(exports) == 0o700
    files = _files(app)
    assert [path.suffix for path in files] == [".xlsx"]
    assert _mode(files[0]) == 0o600


def test_an_export_directory_left_open_is_closed_again(app, nurse, person, outbox, loose_umask):
    exports = Path(app.config["EXPORT_DIR"])
    exports.mkdir(mode=0o755)
    exports.chmod(0o755)
    person("s1")
    job = request_export(nurse)
    confirm(nurse, job, code_for(outbox, job))
    assert _mode(exports) == 0o700


def test_upload_and_its_report_are_0600_in_0700_directories(app, nurse, loose_umask):
    response = upload(nurse, spreadsheet([{
        "full_name": "Phạm Thị Nhập", "date_of_birth": "02/03/1990", "gender": "Nữ",
        "national_id": "089080777001"}, {
        "full_name": "Sai Số", "date_of_birth": "02/03/1990", "gender": "Nữ",
        "national_id": "12345"}]))
    assert response.status_code == 303, html(response)
    files = _files(app)
    assert len(files) == 3  # the upload, its dry-run report (a row to correct), the rows kept
    assert all(_mode(path) == 0o600 for path in files)
    assert all(_mode(path.parent) == 0o700 for path in files)


def test_an_upload_rejected_by_its_dry_run_is_deleted_at_once(app, nurse, loose_umask):
    response = upload(nurse, spreadsheet([{"full_name": "Phạm Thị Nhập"}],
                                         headers=["Cột lạ", "Cột khác"]))
    assert response.status_code == 303, html(response)
    assert last_import().status == "rejected"
    assert _files(app) == []


# -- names as text -----------------------------------------------------------------------------

NFC_NAME = "Nguyễn Văn Ánh"
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\u202e", "\u2066", "\ufeff"]
CYRILLIC_A = "\u0430"
MIXED_SCRIPT = "Nguyễn Văn " + CYRILLIC_A + "n"  # looks like "Nguyễn Văn an"
MIXED_MESSAGE = "nhiều bảng chữ khác nhau"


def _register(client, name: str, national_id: str = ""):
    return client.post("/recipients/new", data={
        "full_name": name, "date_of_birth": "05/09/1980", "gender": "male",
        "national_id": national_id, "occupation": "Nông dân", "facility_id": "",
        "confirm_duplicate": "y"})


def _stored_names() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(Recipient.full_name).order_by(Recipient.id)))


@pytest.mark.parametrize("invisible", INVISIBLE)
def test_a_name_is_stored_nfc_without_invisible_characters(nurse, invisible):
    typed = NFD_NAME[:3] + invisible + NFD_NAME[3:] + invisible
    response = _register(nurse, typed)
    assert response.status_code == 303, html(response)
    assert _stored_names() == [NFC_NAME]
    key = db.session.scalar(sa.select(Recipient.name_key))
    assert key == "nguyen van anh"


def test_a_name_with_an_invisible_character_is_the_same_person(nurse, person):
    person("s1", full_name=NFC_NAME, national_id=None)
    response = _register(nurse, "Nguy\u200bễn Văn Á\u00adnh")
    assert response.status_code == 303, html(response)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(DuplicateCandidate.id))) == 1


def test_a_name_of_mixed_scripts_is_refused_and_the_form_keeps_what_was_typed(nurse):
    response = nurse.post("/recipients/new", data={
        "full_name": MIXED_SCRIPT, "date_of_birth": "05/09/1980", "gender": "male",
        "national_id": "", "occupation": "Thợ may đặc biệt", "facility_id": ""})
    assert response.status_code == 200
    page = html(response)
    assert MIXED_MESSAGE in page
    assert "Thợ may đặc biệt" in page and "05/09/1980" in page
    assert _stored_names() == []
    # Vietnamese letters, every diacritic and Đ/đ, are one (Latin) script
    names = ["Đặng Thị Ưng", "Hồ Thị Ngọc Bích", "Lò Văn Páo", "Y Ngông Niê Kdăm"]
    for name in names:
        assert _register(nurse, name).status_code == 303
    assert _stored_names() == names


def test_an_identity_edit_to_a_mixed_script_name_is_refused(nurse, person, outbox):
    recipient = person("s1", full_name=NFC_NAME)
    step_up(nurse, outbox)
    form = {"full_name": MIXED_SCRIPT, "date_of_birth": "05/09/1980", "gender": "male",
            "national_id": recipient.national_id, "version_id": str(recipient.version_id)}
    response = nurse.post(f"/recipients/{recipient.id}/identity", data=form)
    assert MIXED_MESSAGE in html(response)
    assert _stored_names() == [NFC_NAME]
    form["full_name"] = "Nguyễn\u200b Văn\u202e Ánh Em"
    response = nurse.post(f"/recipients/{recipient.id}/identity", data=form)
    assert response.status_code == 303, html(response)
    assert _stored_names() == ["Nguyễn Văn Ánh Em"]


def test_the_search_box_finds_a_name_typed_with_invisible_characters(nurse, person):
    person("s1", full_name=NFC_NAME)
    response = nurse.post("/recipients/", data={"q": "Nguy\u200bễn Vă\u00adn"},
                          follow_redirects=True)
    assert response.status_code == 200
    assert NFC_NAME in html(response)


def test_an_imported_row_with_a_mixed_script_name_is_an_error(app, nurse):
    response = upload(nurse, spreadsheet([
        {"full_name": MIXED_SCRIPT, "date_of_birth": "02/03/1990", "gender": "Nam",
         "national_id": "089080777002"},
        {"full_name": "Phạm\u200b Thị\u00ad Nhập", "date_of_birth": "02/03/1990",
         "gender": "Nữ", "national_id": "089080777003"}]))
    assert response.status_code == 303, html(response)
    job = last_import()
    assert job.status == "checked", job.status
    errors = [row for row in job.report if row["status"] == "error"]
    assert [row["row"] for row in errors] == [2]
    assert MIXED_MESSAGE in " ".join(errors[0]["messages"])


# -- step-up codes bound to their action -------------------------------------------------------

WRONG_ACTION = "Mã đã hết hạn hoặc đã hết số lần thử"


def _identity_form(recipient, **changes) -> dict:
    form = {"full_name": recipient.full_name, "date_of_birth": "05/09/1980",
            "gender": "male", "national_id": recipient.national_id,
            "version_id": str(recipient.version_id)}
    form.update(changes)
    return form


def _step_up_messages(outbox) -> list[dict]:
    return [message for message in outbox() if message["kind"] == "step_up"]


def test_p3_4_a_step_up_code_opens_only_the_action_its_sms_names(nurse, person, outbox):
    first, second = person("s1", full_name="Lê Văn Một"), person("s1", full_name="Lê Văn Hai")
    response = nurse.post(f"/recipients/{first.id}/identity",
                          data=_identity_form(first, full_name="Lê Văn Mốt"))
    assert response.status_code == 200 and "stepup_code" in html(response)
    [message] = _step_up_messages(outbox)
    assert f"sửa thông tin định danh của đối tượng số {first.id}" in message["body"]
    code = message["secret"]
    # the code typed into another action's prompt (another recipient): refused
    response = nurse.post(f"/recipients/{second.id}/identity",
                          data=_identity_form(second, full_name="Kẻ Khác", stepup_code=code))
    assert response.status_code == 200
    assert WRONG_ACTION in html(response)
    # ... and into the prompt of a GET page: refused too
    response = nurse.post("/auth/step-up", data={"next": "/", "stepup_code": code})
    assert WRONG_ACTION in html(response)
    db.session.rollback()
    assert _stored_names() == ["Lê Văn Một", "Lê Văn Hai"]
    # the action it was sent for still takes it
    response = nurse.post(f"/recipients/{first.id}/identity",
                          data=_identity_form(first, full_name="Lê Văn Mốt", stepup_code=code))
    assert response.status_code == 303, html(response)
    assert _stored_names() == ["Lê Văn Mốt", "Lê Văn Hai"]


def test_p3_4_an_account_action_code_names_the_action_and_opens_no_other(admin, factory,
                                                                         place, outbox):
    target = factory.account(role="data_entry", facility=place["s2"])
    form = {"ref_number": "12/SYT-NVY", "ref_date": "01/12/2026",
            "reason": "Nhân viên nghỉ việc theo quyết định"}
    response = admin.post(f"/facilities/accounts/{target.id}/revoke", data=form)
    assert response.status_code == 200 and "stepup_code" in html(response)
    [message] = _step_up_messages(outbox)
    assert f"thu hồi tài khoản số {target.id}" in message["body"]
    response = admin.post(f"/facilities/accounts/{target.id}/reissue-password",
                          data={**form, "stepup_code": message["secret"]})
    assert response.status_code == 200
    assert WRONG_ACTION in html(response)
    assert len(_step_up_messages(outbox)) == 1


def test_p3_4_every_step_up_view_is_named_in_its_sms(app):
    from vaxportal.auth.stepup import ACTION_NAMES

    guarded = {endpoint for endpoint, view in app.view_functions.items()
               if getattr(view, "fresh_otp_required", False)}
    assert len(guarded) >= 10
    assert guarded <= set(ACTION_NAMES)


# -- an export's file holds the rows its code named ---------------------------------------------

ROWS_CHANGED = "Danh sách đã thay đổi sau khi mã được gửi"


def _exported_names(data: bytes) -> list[str]:
    values = all_values(workbook(data))
    return sorted(value for value in values if isinstance(value, str)
                  and value.startswith("Lê Văn"))


def test_p1_an_export_file_holds_exactly_the_rows_its_code_named(nurse, person, outbox):
    person("s1", full_name="Lê Văn Một")
    person("s1", full_name="Lê Văn Hai")
    job = request_export(nurse)
    assert job.row_count == 2
    code = code_for(outbox, job)
    assert "xuất 2 đối tượng" in outbox()[-1]["body"]
    response = _register(nurse, "Lê Văn Ba", national_id="089080999003")  # after the SMS
    assert response.status_code == 303, html(response)
    response = confirm(nurse, job, code)
    assert response.status_code == 303, html(response)
    download = nurse.get(f"/exports/{job.id}/download")  # the file its page links to
    assert download.status_code == 200
    assert _exported_names(download.data) == ["Lê Văn Hai", "Lê Văn Một"]


def _move_out(recipient, place) -> None:
    row = db.session.get(Recipient, recipient.id)
    row.facility_id = place["s1b"].id  # another station's now: out of the nurse's scope
    db.session.commit()


def test_p1_an_export_is_refused_when_its_named_rows_left_before_the_code(app, nurse, person,
                                                                          place, outbox):
    person("s1", full_name="Lê Văn Một")
    leaving = person("s1", full_name="Lê Văn Hai")
    job = request_export(nurse)
    code = code_for(outbox, job)
    _move_out(leaving, place)
    response = confirm(nurse, job, code)
    assert response.status_code == 303
    page = nurse.get(response.headers["Location"])
    assert ROWS_CHANGED in html(page)
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).status == "cancelled"
    assert not list(Path(app.config["EXPORT_DIR"]).glob("*.xlsx"))
    assert confirm(nurse, job, code).status_code == 400  # the code serves no more


def test_p1_an_export_is_refused_when_one_named_row_was_swapped_for_another(nurse, person,
                                                                            place, outbox):
    person("s1", full_name="Lê Văn Một")
    leaving = person("s1", full_name="Lê Văn Hai")
    other = person("s1", full_name="Trần Thị Khác")  # registered before the code
    sid = search_id(nurse, q="le van")
    job = request_export(nurse, sid)
    assert job.row_count == 2
    code = code_for(outbox, job)
    _move_out(leaving, place)
    db.session.get(Recipient, other.id).full_name = "Lê Văn Khác"  # now matches the search
    db.session.commit()
    response = confirm(nurse, job, code)
    assert ROWS_CHANGED in html(nurse.get(response.headers["Location"]))
