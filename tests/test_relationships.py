"""No relationship loads itself (issue 12): every relationship of every model is declared
``lazy="raise_on_sql"`` (or raise, write-only, noload), so reading one the query did not load
is an error wherever it happens (view, service, job, template), and each query names what it
loads (``selectinload`` / ``joinedload`` / ``contains_eager``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vaxportal import models  # noqa: F401  (every domain's models mapped)
from vaxportal.extensions import db

ALLOWED = {"raise", "raise_on_sql", "write_only", "noload"}


def plain_relationships(registry) -> list[str]:
    return sorted(
        f"{mapper.class_.__name__}.{rel.key} (lazy={rel.lazy!r})"
        for mapper in registry.mappers for rel in mapper.relationships
        if rel.lazy not in ALLOWED)


def test_every_relationship_refuses_to_load_itself():
    mappers = list(db.Model.registry.mappers)
    assert sum(len(m.relationships) for m in mappers) >= 22  # the walk sees the models
    assert plain_relationships(db.Model.registry) == []


def test_a_plain_relationship_is_named():
    """The walk above fails for a relationship declared with the default lazy loading."""

    class Base(sa.orm.DeclarativeBase):
        pass

    class Parent(Base):
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        children: Mapped[list[Child]] = relationship(
            back_populates="parent", lazy="raise_on_sql")

    class Child(Base):
        __tablename__ = "child"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(sa.ForeignKey("parent.id"))
        parent: Mapped[Parent] = relationship(back_populates="children")

    Base.registry.configure()
    assert plain_relationships(Base.registry) == ["Child.parent (lazy='select')"]
