"""The facility tree page: indented by depth, a subtree at a time, filtered, paginated, with
each facility's account and its status; creating a facility from the UI."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from tests.helpers import field_error, html, input_value
from vaxportal.auth.models import AccountStatus
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.timeutil import utcnow


def _rows(page: str) -> list[tuple[int, str]]:
    """(indent level, code) of each row of the tree table."""
    rows = []
    for cell in re.findall(r"<tr>\s*<td>(.*?)</td>", page, re.S):
        code = re.search(r"<strong>([^<]+)</strong>", cell)
        indent = re.search(r'class="tree-indent"[^>]*>(.*?)</span>', cell, re.S)
        level = indent.group(1).count("&nbsp;&nbsp;&nbsp;&nbsp;") + 1 if indent else 0
        rows.append((level, code.group(1)))
    return rows


def test_tree_is_indented_by_depth_three_levels_at_a_time(admin, province):
    page = html(admin.get("/facilities/"))
    assert _rows(page) == [(0, "MIN"), (1, "DOH"), (2, "D1"), (2, "VT")]
    assert f'href="/facilities/?root={province["D1"].id}"' in page  # D1's stations are below


def test_tree_expands_a_subtree(admin, province, factory):
    factory.facility("S1A", "commune_station", parent=province["S1"], name="Điểm tiêm ấp A")
    page = html(admin.get(f"/facilities/?root={province['D1'].id}"))
    assert _rows(page) == [(0, "D1"), (1, "S1"), (2, "S1A"), (1, "S2")]
    assert "Sở Y tế An Giang" in page  # the trail up to the root


def test_tree_shows_each_facilitys_account_and_status(admin, province, factory):
    factory.account("data_entry", province["S1"], username="tram.cho",
                    status=AccountStatus.pending)
    factory.account("data_entry", province["S2"], username="tram.hoatdong")
    locked = factory.account("supervisor", province["D1"], username="ttyt.khoa")
    locked.locked_until = utcnow() + timedelta(minutes=15)
    factory.account("data_entry", province["VT"], username="vt.thuhoi",
                    status=AccountStatus.revoked)
    db.session.commit()
    page = html(admin.get(f"/facilities/?root={province['DOH'].id}"))

    def badge(username):
        match = re.search(rf">{username}</a>\s*<span class=\"badge ([\w-]+)\">([^<]+)</span>",
                          page)
        return match.groups()

    assert badge("tram.cho") == ("badge-warn", "Chờ kích hoạt")
    assert badge("tram.hoatdong") == ("badge-ok", "Đang hoạt động")
    assert badge("ttyt.khoa") == ("badge-danger", "Đang bị khoá")
    assert badge("vt.thuhoi") == ("badge-muted", "Đã thu hồi")
    assert f"/facilities/{province['VT'].id}/accounts/new" in page  # revoked: issue anew
    assert f"/facilities/{province['S1'].id}/accounts/new" not in page


def test_tree_filters_by_code_name_and_kind(admin, province):
    by_code = html(admin.get("/facilities/?q=s"))  # codes S1, S2; "Sở Y tế ..." by name
    assert [c for _, c in _rows(by_code)] == ["DOH", "S1", "S2"]
    by_name = html(admin.get("/facilities/?q=tram+y+te+my+binh"))
    assert [c for _, c in _rows(by_name)] == ["S1"]
    by_kind = html(admin.get("/facilities/?kind=support_unit"))
    assert [c for _, c in _rows(by_kind)] == ["VT"]
    assert input_value(by_name, "q") == "tram y te my binh"
    nothing = html(admin.get("/facilities/?q=%25"))
    assert "Không có cơ sở nào phù hợp" in nothing


def test_tree_paginates_large_trees(admin, province, factory):
    for n in range(60):
        factory.facility(f"X{n:03d}", "commune_station", parent=province["D1"])
    first = html(admin.get(f"/facilities/?root={province['D1'].id}"))
    second = html(admin.get(f"/facilities/?root={province['D1'].id}&page=2"))
    assert len(_rows(first)) == 50 and len(_rows(second)) == 13
    assert "Trang 1 / 2" in first and "page=2" in first


def test_tree_answers_htmx_with_the_fragment_only(admin, province):
    response = admin.hx("GET", "/facilities/?q=S1")
    body = html(response)
    assert body.lstrip().startswith("<div id=\"facility-tree\">") and "<html" not in body
    assert "HX-Request" in response.headers.get("Vary", "")


def test_create_facility_from_the_ui(admin, province):
    response = admin.post("/facilities/new", data={"code": "tyt-mh ", "name": " Trạm Y tế  Mỹ Hòa",
                                                   "kind": "commune_station",
                                                   "parent_code": "d1"})
    assert response.status_code == 303
    facility = db.session.scalar(sa.select(Facility).where(Facility.code == "TYT-MH"))
    assert response.headers["Location"].endswith(f"/facilities/{facility.id}")
    assert facility.name == "Trạm Y tế Mỹ Hòa" and facility.parent_id == province["D1"].id
    assert facility.path == f"{province['D1'].path}{facility.id}/"
    assert "Đã tạo cơ sở TYT-MH" in html(admin.get(response.headers["Location"]))


def test_create_facility_errors_beside_fields_and_typed_values_kept(admin, province):
    data = {"code": "S1", "name": "Trạm mới", "kind": "commune_station", "parent_code": "D1"}
    page = html(admin.post("/facilities/new", data=data))
    assert "Mã cơ sở S1 đã tồn tại" in field_error(page, "code")
    assert input_value(page, "name") == "Trạm mới"
    page = html(admin.post("/facilities/new", data=data | {"code": "S9", "parent_code": "ZZ"}))
    assert "Không có cơ sở cấp trên mã ZZ" in field_error(page, "parent_code")
    page = html(admin.post("/facilities/new", data=data | {"code": "S9", "kind": ""}))
    assert "chọn loại cơ sở" in field_error(page, "kind")
    page = html(admin.post("/facilities/new", data=data | {"code": "Mã có dấu"}))
    assert "chữ không dấu" in field_error(page, "code")
    assert db.session.scalar(sa.select(sa.func.count(Facility.id))) == len(province)


def test_new_facility_form_prefills_the_parent(admin, province):
    page = html(admin.get(f"/facilities/new?parent={province['D1'].id}"))
    assert input_value(page, "parent_code") == "D1"


def test_facility_page_lists_its_accounts_and_offers_an_issue(admin, province, holder):
    page = html(admin.get(f"/facilities/{province['S1'].id}"))
    assert "tyt.mybinh" in page and "Đang hoạt động" in page
    assert f"/facilities/{province['S1'].id}/accounts/new" not in page
    page = html(admin.get(f"/facilities/{province['S2'].id}"))
    assert f"/facilities/{province['S2'].id}/accounts/new" in page
    assert admin.get("/facilities/99999").status_code == 404
