"""A template runs no SQL: the view's query loads what the page shows (``selectinload`` /
``joinedload``), so a page costs the statements its view names, not one per row.

The relationships already refuse to load themselves anywhere (``lazy="raise_on_sql"``,
``tests/test_relationships.py``); this guard covers what they cannot see: a template that
calls a query helper or a property that queries (``Account.current_custodian`` without its
custodians loaded). With ``RAISE_ON_TEMPLATE_SQL`` (on in testing and debug) a statement of
the session while a template renders is an error, so a test that renders the page fails. Not
refused: the refresh of an object's columns that a commit or rollback expired (the ORM reading
again a row the view chose; ``tests/test_query_budget.py`` counts it). The statements a
template makes on purpose are named where they are made (``permitted``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import jinja2
import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

_rendering: ContextVar[bool] = ContextVar("rendering", default=False)
_permitted: ContextVar[bool] = ContextVar("permitted", default=False)


class SqlInTemplate(sa.exc.InvalidRequestError):
    """A template ran a statement its view should have run."""


class GuardedTemplate(jinja2.Template):
    """A template that marks the time it renders (includes and macros run inside it)."""

    def render(self, *args, **kwargs) -> str:
        token = _rendering.set(True)
        try:
            return super().render(*args, **kwargs)
        finally:
            _rendering.reset(token)


@contextmanager
def permitted() -> Iterator[None]:
    """Statements a template runs on purpose (the layout's count of approvals waiting, the
    certificates of a record's page): named where they are made, so that every other
    statement while rendering stays an error."""
    token = _permitted.set(True)
    try:
        yield
    finally:
        _permitted.reset(token)


def init_app(app) -> None:
    app.config.setdefault("RAISE_ON_TEMPLATE_SQL", app.testing or app.debug)
    if not app.config["RAISE_ON_TEMPLATE_SQL"]:
        return
    app.jinja_env.template_class = GuardedTemplate
    if not sa.event.contains(Session, "do_orm_execute", _refuse_sql):
        sa.event.listen(Session, "do_orm_execute", _refuse_sql)


def _refuse_sql(state: ORMExecuteState) -> None:
    # an attribute read again after a commit or rollback expired it is the ORM refreshing
    # a row the view chose to show (what it costs, the query budget counts), not a query
    if _rendering.get() and not _permitted.get() and not state.is_column_load:
        raise SqlInTemplate(
            f"a template ran SQL ({str(state.statement)[:120]!r}); run it in the view "
            "and pass the result, or load it with the view's query (selectinload / joinedload)")
