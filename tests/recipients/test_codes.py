"""Coded fields: priority group, ethnicity, nationality, province and commune come from kept
lists, so coverage can be counted; pickers work without JavaScript; older text is matched."""

from __future__ import annotations

import sqlalchemy as sa

from tests.helpers import PERSON_FORM, fresh_otp, hidden_inputs, html
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.services import validate_recipient_data

AN_GIANG, LONG_XUYEN, HOAN_KIEM = "91", "30307", "00070"


def only_recipient() -> Recipient | None:
    return db.session.scalar(sa.select(Recipient))


def test_register_stores_codes_and_page_shows_labels(nurse):
    response = nurse.post("/recipients/new", data=PERSON_FORM)
    assert response.status_code == 303
    recipient = only_recipient()
    assert (recipient.ethnicity, recipient.nationality, recipient.priority_group,
            recipient.province, recipient.ward) == ("01", "VN", "N07", AN_GIANG, LONG_XUYEN)
    page = html(nurse.get(response.headers["Location"]))
    assert "Phường Long Xuyên" in page and "An Giang" in page and "Việt Nam" in page


def test_free_text_refused_with_a_message_nothing_typed_lost(nurse):
    bad = dict(PERSON_FORM, ethnicity="Người Kinh", priority_group="Nhóm chín")
    body = html(nurse.post("/recipients/new", data=bad))
    assert only_recipient() is None
    assert body.count("Không có trong danh mục") == 2
    assert 'value="Lê Thị Hồng"' in body and 'value="12 Trần Hưng Đạo"' in body
    assert f'selected value="{LONG_XUYEN}"' in body


def test_commune_of_another_province_refused(nurse):
    body = html(nurse.post("/recipients/new", data=dict(PERSON_FORM, ward=HOAN_KIEM)))
    assert only_recipient() is None
    assert "không thuộc tỉnh/thành phố đã chọn" in body


def test_without_javascript_choosing_the_province_lists_its_communes(nurse):
    typed = dict(PERSON_FORM, ward="", province="01", pick_province="1")
    response = nurse.post("/recipients/new", data=typed)
    body = html(response)
    assert response.status_code == 200 and only_recipient() is None
    assert f'<option value="{HOAN_KIEM}">Hoan Kiem · Phường Hoàn Kiếm</option>' in body
    assert LONG_XUYEN not in body  # only the chosen province's communes
    assert 'value="Lê Thị Hồng"' in body and "Vui lòng" not in body


def test_identity_edit_choosing_the_province_lists_its_communes_saves_nothing(nurse, person):
    recipient = person(province=AN_GIANG, ward=LONG_XUYEN)
    fresh_otp(nurse)
    data = hidden_inputs(html(nurse.get(f"/recipients/{recipient.id}/identity")))
    data |= {"full_name": "Nguyễn Văn Bảo", "date_of_birth": "05/09/1980", "gender": "male",
             "province": "01", "ward": LONG_XUYEN, "pick_province": "1"}
    body = html(nurse.post(f"/recipients/{recipient.id}/identity", data=data))
    assert f'value="{HOAN_KIEM}"' in body and 'value="Nguyễn Văn Bảo"' in body
    db.session.expire_all()
    saved = db.session.get(Recipient, recipient.id)
    assert (saved.full_name, saved.province) == ("Nguyễn Văn An", AN_GIANG)


def test_with_htmx_a_province_change_swaps_the_commune_list(nurse):
    response = nurse.hx("POST", "/recipients/new/validate/province",
                        data=dict(PERSON_FORM, province="01"))
    body = html(response)
    assert 'id="v-ward" hx-swap-oob="true"' in body
    assert f'value="{HOAN_KIEM}"' in body and LONG_XUYEN not in body


def test_option_labels_start_without_diacritics_for_type_ahead(nurse):
    body = html(nurse.get("/recipients/new"))
    assert '<option value="02">Tay · Tày</option>' in body
    assert '<option value="66">Dak Lak · Đắk Lắk</option>' in body
    assert "Chọn tỉnh/thành phố trước" in body  # no commune offered before the province


def test_import_accepts_codes_and_labels(app):
    by_label = dict(PERSON_FORM, ethnicity="Tày", nationality="Việt Nam", priority_group="Nhóm 7",
                    province="An Giang", ward="Long Xuyên")
    by_code = dict(PERSON_FORM, ethnicity=2, nationality="vn", priority_group="N07",
                   province=91, ward=30307)
    for data in (by_label, by_code):
        clean, errors = validate_recipient_data(data)
        assert errors == {}
        assert (clean["ethnicity"], clean["nationality"], clean["priority_group"],
                clean["province"], clean["ward"]) == ("02", "VN", "N07", AN_GIANG, LONG_XUYEN)
    _clean, errors = validate_recipient_data(dict(PERSON_FORM, ethnicity="Sao Hỏa"))
    assert "danh mục" in errors["ethnicity"]


def test_older_free_text_matched_or_kept_for_review(app, person, runner):
    matched = person(ethnicity="khơ me", nationality="Viet Nam", priority_group="Nhóm 1",
                     province="Tỉnh An Giang", ward="phuong long xuyen")
    unmatched = person(ethnicity="Kinh Bắc", province="An Giang", ward="Mỹ Bình")
    assert "1" in runner.invoke(args=["codes", "match"]).output
    db.session.expire_all()
    matched = db.session.get(Recipient, matched.id)
    assert (matched.ethnicity, matched.nationality, matched.priority_group, matched.province,
            matched.ward, matched.uncoded) == ("05", "VN", "N01", AN_GIANG, LONG_XUYEN, None)
    unmatched = db.session.get(Recipient, unmatched.id)
    assert unmatched.uncoded == {"ethnicity": "Kinh Bắc", "ward": "Mỹ Bình"}
    assert unmatched.ward is None and unmatched.province == AN_GIANG
    listed = runner.invoke(args=["codes", "unmatched"]).output
    assert f"ward\tMỹ Bình\t1\t{unmatched.id}" in listed
    unmatched.ward = LONG_XUYEN  # chosen on review: leaves the list
    db.session.commit()
    assert "Mỹ Bình" not in runner.invoke(args=["codes", "unmatched"]).output


def test_admin_adds_a_priority_group_offered_at_entry(runner, nurse):
    result = runner.invoke(args=["priority-groups", "add", "t01", "Nhóm bổ sung: tài xế"])
    assert result.exit_code == 0
    assert '<option value="T01">Nhóm bổ sung: tài xế</option>' in html(
        nurse.get("/recipients/new"))
    assert nurse.post("/recipients/new", data=dict(PERSON_FORM, priority_group="T01")
                      ).status_code == 303
    runner.invoke(args=["priority-groups", "withdraw", "T01"])
    assert "T01" not in html(nurse.get("/recipients/new"))


def test_enter_in_any_field_saves_the_form_without_javascript(nurse):
    """The province button stands first in the form, so Enter presses it: with the province
    its communes were listed for, that is the form's ordinary submission."""
    form = html(nurse.get("/recipients/new"))
    assert 'name="province_shown"' in form
    typed = dict(PERSON_FORM, pick_province="1", province_shown=PERSON_FORM["province"])
    response = nurse.post("/recipients/new", data=typed)
    assert response.status_code == 303, html(response)
    assert only_recipient() is not None


def test_priority_groups_are_the_resolutions_twelve_then_six_more(app):
    """Nghị quyết 21/NQ-CP: nine items, the first of four front-line groups (N01-N04);
    each label is "Nhóm n: " and the group in the resolution's words."""
    from vaxportal.recipients.codes import labelled

    groups = labelled("priority_group")
    assert [code for code, _label in groups] == [f"N{n:02d}" for n in range(1, 19)]
    for n, (_code, label) in enumerate(groups, start=1):
        assert label.startswith(f"Nhóm {n}: ")
    words = {code: label.partition(": ")[2] for code, label in groups}
    assert (words["N03"], words["N04"]) == ("Quân đội", "Công an")
    assert words["N08"] == "Người mắc các bệnh mạn tính, người trên 65 tuổi"
    assert "học sinh" not in words["N07"]  # teachers and school staff, not pupils


def test_an_older_record_in_the_resolutions_words_gets_its_group(app):
    from vaxportal.recipients.codes import to_code

    assert to_code("priority_group", "người mắc các bệnh mạn tính, người trên 65 tuổi") == "N08"
    assert to_code("priority_group", "quan doi") == "N03"
    assert to_code("priority_group", "Người nghèo, các đối tượng chính sách xã hội") == "N10"
    assert to_code("priority_group", "Nhóm 12") == "N12"
    assert to_code("priority_group", "người già") is None


def test_the_places_read_from_the_data_file_are_the_package_s_own():
    """The provinces and communes are read from ``vietnam_provinces``' data file without
    importing the package (its code enums take 5 MB of a web worker): the same codes and
    names as its own ``Province.iter_all()`` and ``Ward.iter_all()``."""
    from vietnam_provinces import Province, Ward

    from vaxportal.recipients import codes

    provinces = {(f"{int(p.code):02d}", p.name) for p in Province.iter_all()}
    wards = {(f"{int(w.province_code):02d}", f"{int(w.code):05d}", w.name)
             for w in Ward.iter_all()}
    assert set(codes._provinces()) == provinces
    assert {(province, code, name) for province, rows in codes._wards().items()
            for code, name in rows} == wards
    assert len(provinces) > 30 and len(wards) > 3000
