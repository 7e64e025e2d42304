"""The drop-down that writes its options as plain text (``vaxportal.widgets``) writes exactly
what WTForms' own ``Select`` writes: every option kind, escaping, selection; and the
attributes of every input and button (``vaxportal.widgets.html_params``) are written exactly
as WTForms' own ``html_params`` writes them."""

from __future__ import annotations

import pytest
import wtforms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import Form, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import core

from vaxportal import widgets as ours
from vaxportal.widgets import Select, SelectField

CHOICES = [SelectChoice("", "— Chọn —"), SelectChoice("01", "Kinh"), SelectChoice("02", "Tày"),
           SelectChoice('"><b>', "<script>x</script>"), SelectChoice("a&b", "Mường & Dao"),
           SelectChoice("04", "Thái", render_kw={"disabled": True}), SelectChoice(True, "Có"),
           SelectChoice(None, "x")]


def _form(field_class, data):
    class F(Form):
        pick = field_class(choices=CHOICES, validate_choice=False, coerce=lambda v: v)
    return F(data={"pick": data})


@pytest.mark.parametrize("chosen", ["", "02", '"><b>', "a&b", "04", True, "nothing"])
def test_options_are_written_as_wtforms_writes_them(chosen):
    ours = _form(SelectField, chosen).pick
    theirs = _form(wtforms.SelectField, chosen).pick
    assert isinstance(ours.widget, Select)
    assert ours(class_="x") == theirs(class_="x")
    assert str(ours(class_="x")).count("<option") == len(CHOICES)


def test_an_option_with_attributes_of_its_own_goes_to_wtforms():
    field = _form(SelectField, "04").pick
    assert '<option disabled selected value="04">Thái</option>' in field()
    assert widgets.Select.render_option is not Select.render_option


KEYS = st.sampled_from(["name", "id", "class_", "for_", "data_hx_get", "aria_describedby",
                        "value", "required", "placeholder", "type", "x-\"><b>", "a&b"])
VALUES = st.one_of(st.booleans(), st.integers(), st.none(), st.text(max_size=12),
                   st.sampled_from(['"', "'", "<b>", "&amp;", 'a"b', "Nguyễn Thị Đào"]),
                   st.text(max_size=8).map(Markup),
                   st.sampled_from([Markup('say "hi"'), Markup("<i>&amp;</i>")]))


# what is compared is the markup, not the speed: no deadline, and no health check that a
# busy machine (CI's two passes share two cores) or a profiler trips
@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_attributes_are_written_as_wtforms_writes_them(attributes):
    assert ours.html_params(**attributes) == core.html_params(**attributes)
    assert isinstance(ours.html_params(**attributes), Markup)


def test_every_input_and_button_writes_its_attributes_with_ours():
    class F(Form):
        name = wtforms.StringField(render_kw={"placeholder": 'say "hi"', "data_hx_get": "/x"})
        when = wtforms.DateField()
        agree = wtforms.BooleanField(default=True)
        go = wtforms.SubmitField("Lưu")

    assert widgets.Input.html_params is ours.html_params
    assert widgets.Button.html_params is ours.html_params
    form = F()
    assert form.name() == '<input data-hx-get="/x" id="name" name="name" ' \
        'placeholder="say &#34;hi&#34;" type="text" value="">'
    assert form.agree() == '<input checked id="agree" name="agree" type="checkbox" value="y">'
    assert form.go() == '<input id="go" name="go" type="submit" value="Lưu">'
