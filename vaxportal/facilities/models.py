"""The facility tree: kinds named in the Department of Health letter."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from vaxportal import audit
from vaxportal.extensions import db
from vaxportal.text import fold
from vaxportal.timeutil import UTCDateTime, utcnow


class FacilityKind(enum.StrEnum):
    ministry = "ministry"
    provincial_doh = "provincial_doh"
    cdc = "cdc"
    district_health_centre = "district_health_centre"
    commune_station = "commune_station"
    public_hospital = "public_hospital"
    private_hospital = "private_hospital"
    military_medical = "military_medical"
    police_infirmary = "police_infirmary"
    vaccination_centre = "vaccination_centre"
    support_unit = "support_unit"


#: the kinds of unit that give doses and enter them under their own account (the daily report
#: expects a confirmation from each; the demo gives them recipients)
VACCINATING_KINDS = frozenset({
    FacilityKind.commune_station, FacilityKind.public_hospital, FacilityKind.private_hospital,
    FacilityKind.military_medical, FacilityKind.police_infirmary,
    FacilityKind.vaccination_centre,
})


@audit.audited(category="account", facility=lambda facility: facility.id)
class Facility(db.Model):
    """A unit in the hierarchy. ``path`` is a materialized path ("/1/4/17/") so that a
    subtree is one indexed range scan, however deep and wide the tree grows."""

    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_key: Mapped[str] = mapped_column(sa.String(200), default="")  # fold(name), for search
    kind: Mapped[str] = mapped_column(sa.String(32))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    # Byte order on PostgreSQL: the subtree range scan (tree.subtree_ids) compares paths as
    # bytes, which a linguistic collation (vi_VN, en_US) would not.
    path: Mapped[str] = mapped_column(
        sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql"),
        index=True, default="",
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Facility | None] = relationship(remote_side=[id], lazy="raise_on_sql")

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = fold(name or "")
        return name

    @property
    def depth(self) -> int:
        """1 for a root, 2 for its children, ... (the number of ids in the path)."""
        return self.path.count("/") - 1

    def __repr__(self) -> str:
        return f"<Facility {self.code}>"


@audit.audited(category="account")
class Delegation(db.Model):
    """Time-bounded data-entry scope of a support unit's account over a named facility
    (letter item 3), granted against a written request. Who may receive one and when it is
    active: ``policy.delegation``."""

    __tablename__ = "delegation"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    request_ref: Mapped[str] = mapped_column(sa.String(64))
    request_date: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(500))
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")


class PendingStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    refused = "refused"
    expired = "expired"


@audit.audited(category="account")
class PendingAction(db.Model):
    """An account action that gives a person access to recipient data (issue, hand-over,
    role or phone change, delegation), waiting for a second person's approval. ``params``
    holds the checked values the action will run with; the initial password is made only
    when the action takes effect."""

    __tablename__ = "pending_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))  # issue|hand_over|change_details|delegate
    #: the account acted on (none yet for an issue)
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: the facility whose data the action opens: the issue's, the account's, or the
    #: delegated facility (whose own account approves a delegation)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    ref_number: Mapped[str | None] = mapped_column(sa.String(64))
    ref_date: Mapped[date | None] = mapped_column(sa.Date)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(sa.String(16), default=PendingStatus.pending, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")
