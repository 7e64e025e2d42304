"""Form widgets: a drop-down whose options are written as plain text.

WTForms writes each ``<option>`` through ``html_params`` (a sorted dict of attributes, each
escaped and joined), about 10 µs an option; the register form's coded lists (communes,
ethnic groups, provinces) hold hundreds, so a form cost tens of milliseconds in options
alone. ``Select`` writes the same markup directly and leaves an option with attributes of
its own (``render_kw``) to WTForms.
"""

from __future__ import annotations

import wtforms
from markupsafe import Markup, escape
from wtforms import widgets


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
