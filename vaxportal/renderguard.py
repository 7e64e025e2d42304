"""A template never loads a relationship: the view's query loads what the page shows
(``selectinload`` / ``joinedload``), so a page costs the queries its view names, not one per
row. With ``RAISE_ON_TEMPLATE_LAZY_LOAD`` (on in testing and debug) a lazy load while a
template renders is an error, so a test that renders the page fails.
"""

from __future__ import annotations

from contextvars import ContextVar

import jinja2
import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

_rendering: ContextVar[bool] = ContextVar("rendering", default=False)


class LazyLoadInTemplate(sa.exc.InvalidRequestError):
    """A template reached a relationship its view did not load."""


class GuardedTemplate(jinja2.Template):
    """A template that marks the time it renders (includes and macros run inside it)."""

    def render(self, *args, **kwargs) -> str:
        token = _rendering.set(True)
        try:
            return super().render(*args, **kwargs)
        finally:
            _rendering.reset(token)


def init_app(app) -> None:
    app.config.setdefault("RAISE_ON_TEMPLATE_LAZY_LOAD", app.testing or app.debug)
    if not app.config["RAISE_ON_TEMPLATE_LAZY_LOAD"]:
        return
    app.jinja_env.template_class = GuardedTemplate
    if not sa.event.contains(Session, "do_orm_execute", _refuse_lazy_load):
        sa.event.listen(Session, "do_orm_execute", _refuse_lazy_load)


def _refuse_lazy_load(state: ORMExecuteState) -> None:
    if _rendering.get() and state.is_select and state.lazy_loaded_from is not None:
        raise LazyLoadInTemplate(
            f"a template loaded a relationship of {type(state.lazy_loaded_from.obj()).__name__}"
            "; load it in the view's query (selectinload / joinedload)")
