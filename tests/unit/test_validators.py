from datetime import date, timedelta

import pytest
from flask import Flask
from flask_babel import Babel
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField
from wtforms.validators import InputRequired, Optional

from vaxportal import validators as v


@pytest.fixture
def babel_app():
    app = Flask(__name__)
    app.config.update(TESTING=True)
    Babel(app)
    with app.test_request_context():
        yield app


# National ID ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("001234567890", "001234567890"),
    ("089 123 456 789", "089123456789"),
    ("096.123.456.789", "096123456789"),
    ("123456789", "123456789"),
    (" 123 456 789 ", "123456789"),
])
def test_national_id_accepted_and_normalized(raw, expected):
    assert v.normalize_national_id(raw) == expected


@pytest.mark.parametrize("raw", ["12345678", "1234567890", "0012345678901", "00123456789A",
                                 "", "abcdefghi", "００１２３４５６７８９０"])
def test_national_id_wrong_format_says_what_is_expected(raw):
    with pytest.raises(ValueError, match="12 chữ số.*9 chữ số"):
        v.normalize_national_id(raw)


@pytest.mark.parametrize("raw", ["000123456789", "097123456789", "999123456789"])
def test_national_id_province_code(raw):
    with pytest.raises(ValueError, match="001 đến 096"):
        v.normalize_national_id(raw)


# Insurance --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("DN4010123456789", "DN4010123456789"),
    ("gd 4 01 0123456789", "GD4010123456789"),
    ("hc1790000000001", "HC1790000000001"),
    ("0123456789", "0123456789"),
])
def test_insurance_accepted(raw, expected):
    assert v.normalize_insurance_number(raw) == expected


@pytest.mark.parametrize("raw", ["DN6010123456789", "DN0010123456789", "D14010123456789",
                                 "DN401012345678", "012345678", "01234567890", "ĐN4010123456789"])
def test_insurance_refused(raw):
    with pytest.raises(ValueError, match="15 ký tự.*10 chữ số"):
        v.normalize_insurance_number(raw)


# Phone ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0912 345 678", "+84 912345678", "0912.345.678", "84912345678"])
def test_phone_e164(raw):
    assert v.normalize_phone(raw) == "+84912345678"


@pytest.mark.parametrize("raw", ["", "12345", "0912", "abc", "0000000000", "+84 12"])
def test_phone_refused_in_vietnamese(raw):
    with pytest.raises(ValueError, match="Số điện thoại không hợp lệ"):
        v.normalize_phone(raw)


# Dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["05/09/1980", "5/9/1980", "05-09-1980", "05.09.1980",
                                 " 5.9.1980 "])
def test_parse_date_vn_formats(raw):
    assert v.parse_date_vn(raw) == date(1980, 9, 5)


@pytest.mark.parametrize("raw", ["1980-09-05", "05/09/80", "05/09-1980", "hôm qua", "",
                                 "5 9 1980"])
def test_parse_date_vn_wrong_format(raw):
    with pytest.raises(ValueError, match="dd/mm/yyyy"):
        v.parse_date_vn(raw)


@pytest.mark.parametrize("raw", ["31/02/2020", "29/02/2023", "00/01/2020", "01/13/2020",
                                 "01/01/0000"])
def test_parse_date_vn_impossible_dates(raw):
    with pytest.raises(ValueError, match="không có trên lịch"):
        v.parse_date_vn(raw)


def test_leap_day_accepted_and_format_round_trip():
    d = v.parse_date_vn("29/02/2024")
    assert d == date(2024, 2, 29)
    assert v.format_date_vn(date(2024, 3, 5)) == "05/03/2024"
    assert v.parse_date_vn(v.format_date_vn(d)) == d


# WTForms ----------------------------------------------------------------------------------


class F(Form):
    born = v.DateVNField("Ngày sinh", [InputRequired(), v.NotInFuture(), v.NotBefore(1900)])
    when = v.DateVNField("Ngày", [Optional()])
    national_id = StringField("CCCD", [Optional(), v.NationalId()])
    insurance = StringField("BHYT", [Optional(), v.InsuranceNumber()])
    phone = StringField("SĐT", [Optional(), v.Phone()])


def make_form(**data) -> F:
    return F(MultiDict(data))


def test_date_field_gives_a_date(babel_app):
    form = make_form(born="5/9/1980")
    assert form.validate(), form.errors
    assert form.born.data == date(1980, 9, 5)
    assert form.when.data is None


def test_date_field_keeps_what_was_typed_when_invalid(babel_app):
    form = make_form(born="31/02/1980")
    assert not form.validate()
    assert form.born.data is None
    assert any("không có trên lịch" in e for e in form.errors["born"])
    html = form.born()
    assert 'value="31/02/1980"' in html
    assert 'placeholder="dd/mm/yyyy"' in html


def test_date_field_renders_a_stored_date(babel_app):
    form = F(data={"born": date(1980, 9, 5)})
    assert 'value="05/09/1980"' in form.born()
    assert form.when().count('value=""') == 1


def test_not_in_future(babel_app):
    tomorrow = v.format_date_vn(v.local_today() + timedelta(days=1))
    form = make_form(born=tomorrow)
    assert not form.validate()
    assert "Ngày không được sau hôm nay." in form.errors["born"]
    assert make_form(born=v.format_date_vn(v.local_today())).validate()


def test_not_before(babel_app):
    form = make_form(born="31/12/1899")
    assert not form.validate()
    assert any("1900" in e for e in form.errors["born"])
    assert make_form(born="01/01/1900").validate()


def test_id_validators_normalize_in_place(babel_app):
    form = make_form(born="01/01/2000", national_id="001.234.567.890",
                     insurance="dn 4010123456789", phone="0912 345 678")
    assert form.validate(), form.errors
    assert form.national_id.data == "001234567890"
    assert form.insurance.data == "DN4010123456789"
    assert form.phone.data == "+84912345678"


def test_id_validators_report_the_message(babel_app):
    form = make_form(born="01/01/2000", national_id="12345", insurance="X1", phone="12")
    assert not form.validate()
    assert "12 chữ số" in form.errors["national_id"][0]
    assert "15 ký tự" in form.errors["insurance"][0]
    assert "Số điện thoại không hợp lệ" in form.errors["phone"][0]


def test_validators_work_without_a_request():
    form = make_form(born="01/01/2000", national_id="123", phone="0912345678")
    assert not form.validate()
    assert form.phone.data == "+84912345678"
    assert "12 chữ số" in form.errors["national_id"][0]
