"""The drop-down that writes its options as plain text (``vaxportal.widgets``) writes exactly
what WTForms' own ``Select`` writes: every option kind, escaping, selection."""

from __future__ import annotations

import pytest
import wtforms
from wtforms import Form, widgets
from wtforms.fields.choices import SelectChoice

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
