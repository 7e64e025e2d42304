"""The audit page's filters (issue 15): view events hidden unless asked for, the kind of
event from a list of labelled kinds, the facility from the reader's scope, and the person (a
recipient) by exact national ID or record id POSTed, never put in a URL (P1). No filter
reaches a row outside the reader's scope (P2.4), and an admin never gets a data row (P2.1)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.helpers import add_dose, audit_rows
from vaxportal.audit import events
from vaxportal.extensions import db
from vaxportal.recipients import merging
from vaxportal.recipients.models import DuplicateCandidate


def html(response) -> str:
    return unescape(response.get_data(as_text=True))


def row_ids(response) -> set[int]:
    return {int(i) for i in re.findall(r'href="/audit/(\d+)"', response.get_data(as_text=True))}


def options(page: str, name: str) -> dict[str, str]:
    """value -> text of a select's options."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return {value: unescape(text).strip()
            for value, text in re.findall(r'<option[^>]*value="([^"]*)"[^>]*>(.*?)</option>',
                                          select, re.S)}


@pytest.fixture
def readers(signed_in, place):
    return {
        "supervisor": signed_in("supervisor", facility=place["d1"]),
        "reviewer": signed_in("reviewer", facility=place["doh"]),
        "admin": signed_in("admin", facility=place["doh"]),
    }


@pytest.fixture
def people(person):
    """Two people at S1 (one with a dose), one at S2 (outside D1's subtree)."""
    mine = person("s1", full_name="Võ Thị Mười", national_id="089180000111")
    other = person("s1", full_name="Lý Văn Khác", national_id="089180000333")
    far = person("s2", full_name="Đặng Văn Xa", national_id="089080000222")
    dose = add_dose(mine)
    for recipient in (mine, other, far):
        recipient.occupation = "Giáo viên"
    db.session.commit()
    return {"mine": mine, "other": other, "far": far, "dose": dose}


def viewed(client, recipient) -> int:
    assert client.get(f"/recipients/{recipient.id}").status_code == 200
    return audit_rows(action="view_identity", entity_id=str(recipient.id))[-1].id


def rows_of(recipient) -> set[int]:
    return {r.id for r in audit_rows(entity="recipient", entity_id=str(recipient.id))}


# -- views hidden, kinds -------------------------------------------------------------------


def test_p2_4_views_are_hidden_by_default_and_shown_on_request(readers, people):
    client = readers["supervisor"]
    view = viewed(client, people["mine"])
    change = audit_rows(entity="recipient", entity_id=str(people["mine"].id),
                        action="update")[0].id
    default = client.get("/audit/")
    assert change in row_ids(default) and view not in row_ids(default)
    assert "các lượt xem hồ sơ đang ẩn" in html(default)
    assert view in row_ids(client.get("/audit/?views=y"))
    assert "các lượt xem hồ sơ đang ẩn" not in html(client.get("/audit/?views=y"))
    by_kind = client.get("/audit/?action=view_identity")  # asked for by kind
    assert row_ids(by_kind) == {view} and "các lượt xem hồ sơ đang ẩn" not in html(by_kind)


def test_the_kind_of_event_is_a_list_of_labels_fitting_the_reader(readers, people):
    supervisor = options(html(readers["supervisor"].get("/audit/")), "action")
    assert supervisor["view_identity"] == "Xem hồ sơ đối tượng tiêm"
    assert supervisor["dose_delete"] == "Xoá mũi tiêm" and supervisor["update"] == "Sửa"
    assert "login_ok" not in supervisor  # a security event: never a data reader's row
    admin = options(html(readers["admin"].get("/audit/")), "action")
    assert admin["login_ok"] == "Đăng nhập thành công" and "view_identity" not in admin
    client = readers["supervisor"]
    client.post("/lang", data={"lang": "en", "next": "/audit/"})
    english = options(html(client.get("/audit/")), "action")
    assert english["view_identity"] == "Viewed a recipient's record"


def test_a_kind_filters_the_rows_and_an_unknown_kind_is_ignored(readers, people):
    client = readers["supervisor"]
    updates = row_ids(client.get("/audit/?action=update&entity=recipient"))
    assert updates == {r.id for r in audit_rows(action="update", entity="recipient")
                       if r.facility_id != people["far"].facility_id}
    page = client.get("/audit/?action=no_such_kind")
    assert "Loại sự kiện không có trong danh sách." in html(page)
    assert len(row_ids(page)) > len(updates)  # shown, and ignored


# -- facility --------------------------------------------------------------------------------


def test_p2_4_the_facility_list_is_the_readers_scope(readers, people, place):
    page = html(readers["supervisor"].get("/audit/"))
    choices = options(page, "facility_id")
    assert {str(place[k].id) for k in ("d1", "s1", "s1b")} <= set(choices)
    assert str(place["s2"].id) not in choices and str(place["doh"].id) not in choices
    assert 'name="facility"' not in page  # the data audit chooses from its scope
    province = options(html(readers["reviewer"].get("/audit/")), "facility_id")
    assert str(place["s2"].id) in province


def test_p2_4_a_facility_filter_never_reaches_outside_the_scope(readers, people, place):
    client = readers["supervisor"]
    s1 = row_ids(client.get(f"/audit/?facility_id={place['s1'].id}"))
    assert rows_of(people["mine"]) <= s1 and not rows_of(people["far"]) & s1
    outside = client.get(f"/audit/?facility_id={place['s2'].id}&entity=recipient")
    assert "Cơ sở này không thuộc phạm vi của tài khoản." in html(outside)
    assert not rows_of(people["far"]) & row_ids(outside)
    assert "Đặng Văn Xa" not in html(outside)
    assert not rows_of(people["far"]) & row_ids(client.get("/audit/?facility=S2"))
    reviewer = row_ids(readers["reviewer"].get(f"/audit/?facility_id={place['s2'].id}"))
    assert rows_of(people["far"]) <= reviewer and not rows_of(people["mine"]) & reviewer


# -- person ----------------------------------------------------------------------------------


def choose_person(client, carry="", **typed):
    return client.post("/audit/person", data={"national_id": "", "record_id": "",
                                              "carry": carry, **typed})


def test_p1_the_person_filter_never_puts_the_id_in_a_url(readers, people):
    client = readers["supervisor"]
    response = choose_person(client, national_id="0891 8000 0111")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "089180000111" not in location and "0891" not in location
    assert re.search(r"[?&]who=[A-Za-z0-9_-]+", location)
    page = client.get(location)
    body = page.get_data(as_text=True)
    assert "089180000111" not in re.sub(r'<input[^>]*name="national_id"[^>]*>', "", body)
    assert 'method="post" action="/audit/person"' in body
    # the pages' links carry the opaque id, never the number
    assert all("089180000111" not in link for link in re.findall(r'href="([^"]*)"', body))


def test_p2_4_the_person_filter_lists_that_persons_rows_doses_included(readers, people):
    client = readers["supervisor"]
    mine, dose = people["mine"], people["dose"]
    gone = add_dose(mine, number=2, given_on=people["dose"].given_on.replace(month=9))
    gone_id = gone.id
    db.session.delete(gone)
    db.session.commit()
    page = client.get(choose_person(client, national_id="089180000111").headers["Location"])
    ids = row_ids(page)
    dose_rows = {r.id for r in audit_rows(entity="dose", entity_id=str(dose.id))}
    deleted_rows = {r.id for r in audit_rows(entity="dose", entity_id=str(gone_id))}
    assert rows_of(mine) | dose_rows | deleted_rows == ids
    assert "Đang xem nhật ký của hồ sơ:" in html(page) and f"#{mine.id}" in html(page)
    by_record = choose_person(client, record_id=str(people["other"].id))
    assert row_ids(client.get(by_record.headers["Location"])) == rows_of(people["other"])


def test_p2_4_the_person_filter_keeps_the_other_filters_and_the_pages(app, readers, people):
    app.config["PAGE_SIZE"] = 1
    client = readers["supervisor"]
    viewed(client, people["mine"])
    response = choose_person(client, carry="views=y&entity=recipient&who=old",
                             national_id="089180000111")
    location = response.headers["Location"]
    assert "views=y" in location and "entity=recipient" in location and "who=old" not in location
    page = client.get(location)
    body = page.get_data(as_text=True)
    assert len(row_ids(page)) == 1
    (next_link,) = re.findall(r'href="([^"]*)" rel="next"', body)
    next_link = unescape(next_link)
    assert "who=" in next_link and "views=y" in next_link and "page=2" in next_link
    assert "089180000111" not in next_link
    assert row_ids(client.get(next_link)) <= rows_of(people["mine"]) | {
        r.id for r in audit_rows(action="view_identity")}


def test_p2_4_the_person_filter_finds_no_one_outside_the_scope(readers, people):
    client = readers["supervisor"]
    for typed in ({"national_id": "089080000222"}, {"record_id": str(people["far"].id)}):
        response = choose_person(client, **typed)
        assert response.status_code == 200 and "Location" not in response.headers
        body = html(response)
        assert "Không tìm thấy đối tượng tiêm nào trong phạm vi của tài khoản." in body
        assert not rows_of(people["far"]) & row_ids(response)
        assert "Đặng Văn Xa" not in body


def test_a_person_filter_of_another_browser_is_not_honoured(readers, people, signed_in,
                                                            place):
    location = choose_person(readers["supervisor"], national_id="089180000111") \
        .headers["Location"]
    colleague = signed_in("supervisor", facility=place["d1"])
    page = colleague.get(location)
    assert "Bộ lọc theo đối tượng tiêm đã hết hạn; hãy nhập lại." in html(page)


def test_the_person_form_checks_what_is_typed(readers, people):
    client = readers["supervisor"]
    assert "Nhập số CCCD/CMND hoặc mã hồ sơ." in html(choose_person(client))
    both = choose_person(client, national_id="089180000111", record_id="1")
    assert "Chỉ nhập một trong hai" in html(both)
    assert "Mã hồ sơ là một số." in html(choose_person(client, record_id="abc"))
    assert "Số CCCD" in html(choose_person(client, national_id="12345"))


def test_the_person_form_needs_its_csrf_token(readers, people):
    response = readers["supervisor"].post("/audit/person", data={"national_id": "089180000111"},
                                          csrf=False)
    assert response.status_code == 400


def test_htmx_is_sent_to_the_filtered_page_without_the_id(readers, people):
    response = readers["supervisor"].hx("post", "/audit/person",
                                        data={"national_id": "089180000111"})
    assert response.status_code == 204
    target = response.headers["HX-Redirect"]
    assert "who=" in target and "089180000111" not in target


def test_p2_1_an_admin_has_no_person_filter_and_no_data_rows(readers, people, place):
    admin = readers["admin"]
    events.record("login_ok", category="access", entity="account",
                  entity_id=admin.account.id, account=admin.account)
    db.session.commit()
    page = admin.get("/audit/")
    assert 'action="/audit/person"' not in page.get_data(as_text=True)
    assert choose_person(admin, national_id="089180000111").status_code == 403
    location = choose_person(readers["supervisor"], national_id="089180000111") \
        .headers["Location"]
    data_rows = {r.id for r in audit_rows(category="data")}
    for url in ("/audit/?views=y", f"/audit/?facility_id={place['s1'].id}&views=y",
                "/audit/?action=view_identity", location):
        response = admin.get(url)
        assert response.status_code == 200
        assert not row_ids(response) & data_rows
        assert "Võ Thị Mười" not in html(response)


def test_htmx_rows_bring_the_person_form_the_filters_just_chosen(readers, people):
    """With JavaScript the rows are swapped alone: the person form's carried filters come
    with them (out of band), so choosing a person keeps the filters just chosen."""
    body = readers["supervisor"].hx("get", "/audit/?views=y&entity=recipient") \
        .get_data(as_text=True)
    carry = re.search(r'<input[^>]*name="carry"[^>]*>', body).group(0)
    assert 'hx-swap-oob="true"' in carry
    assert "views=y" in unescape(carry) and "entity=recipient" in unescape(carry)
    full = readers["supervisor"].get("/audit/?views=y").get_data(as_text=True)
    assert full.count('name="carry"') == 1 and "hx-swap-oob" not in full


def test_the_kinds_of_data_fit_the_reader(readers):
    supervisor = options(html(readers["supervisor"].get("/audit/")), "entity")
    assert supervisor["recipient"] == "Đối tượng tiêm" and supervisor["dose"] == "Mũi tiêm"
    assert "account" not in supervisor and "facility" not in supervisor
    admin = options(html(readers["admin"].get("/audit/")), "entity")
    assert admin["account"] == "Tài khoản" and admin["pending_action"] == "Thao tác chờ phê duyệt"
    assert "recipient" not in admin and "dose" not in admin


def test_p2_4_the_person_filter_lists_that_persons_merges(app, readers, people):
    mine, other = people["mine"], people["other"]
    candidate = DuplicateCandidate(recipient_id=other.id, other_id=mine.id,
                                   facility_id=mine.facility_id)
    db.session.add(candidate)
    db.session.commit()
    with app.test_request_context():
        merging.merge(candidate, mine, other, merging.plan_merge(mine, other, {}))
        db.session.commit()
    merge_rows = {r.id for r in audit_rows(entity="recipient_merge")}
    candidate_rows = {r.id for r in audit_rows(entity="duplicate_candidate")}
    assert merge_rows and candidate_rows
    client = readers["supervisor"]
    ids = row_ids(client.get(choose_person(client, record_id=str(other.id)).headers["Location"]))
    assert merge_rows | candidate_rows <= ids
