"""Vietnamese first, English second; dates dd/mm/yyyy in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import get_locale

from vaxportal.extensions import babel
from vaxportal.timeutil import format_date, format_datetime

LANG_COOKIE = "vaxportal_lang"


def select_locale() -> str:
    # outside a request (background jobs, CLI) the default language
    lang = request.cookies.get(LANG_COOKIE) if has_request_context() else None
    if lang in current_app.config["LANGUAGES"]:
        return lang
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["date_vn"] = format_date
    app.jinja_env.filters["datetime_vn"] = format_datetime
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.globals.setdefault("get_locale", get_locale)  # base.html: <html lang>
