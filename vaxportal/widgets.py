"""Form widgets: a drop-down whose options are written as plain text.

WTForms writes each ``<option>`` through ``html_params`` (a sorted dict of attributes, each
escaped and joined), about 10 µs an option; the register form's coded lists (communes,
ethnic groups, provinces) hold hundreds, so a form cost tens of milliseconds in options
alone. ``Select`` writes the same markup directly and leaves an option with attributes of
its own (``render_kw``) to WTForms.

Every ``<input>`` and ``<button>`` writes its attributes through ``html_params``, which
WTForms lets a widget class replace (``Input.html_params``): WTForms' own formats each
attribute through ``Markup.format`` (Python's ``string.Formatter`` with escaping), about a
tenth of a millisecond an input, a tenth of a form page's time. ``html_params`` below
writes the same markup with plain string formatting (``tests/unit/test_widgets.py`` compares
the two over generated attributes), and is installed on WTForms' ``Input`` and ``Button``
when this module is imported, as every form module does.
"""

from __future__ import annotations

import wtforms
from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets.core import clean_key


class Select(widgets.Select):
    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or choice.value is None:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        label = escape(choice.label or choice.value)
        selected = "selected " if choice.selected else ""
        # value and label escaped above, as WTForms escapes them
        return Markup(f'<option {selected}value="{escape(value)}">{label}</option>')  # noqa: S704


class SelectField(wtforms.SelectField):
    """WTForms' ``SelectField`` with the options written by ``Select``."""

    widget = Select()


def html_params(**kwargs) -> Markup:
    """WTForms' ``widgets.html_params``: attributes sorted by name, ``True`` as a bare name,
    ``False`` left out, every name and value escaped and ``"`` in a value written
    ``&quot;``."""
    params = []
    for key, value in sorted(kwargs.items()):
        if value is False:
            continue
        name = escape(clean_key(key))
        if value is True:
            params.append(str(name))
        else:
            params.append(f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    # every name and value escaped above, as WTForms escapes them
    return Markup(" ".join(params))  # noqa: S704


widgets.Input.html_params = staticmethod(html_params)
widgets.Button.html_params = staticmethod(html_params)
