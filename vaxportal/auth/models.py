"""Accounts, the people who hold them, their sessions and one-time codes."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from vaxportal import audit
from vaxportal.extensions import db
from vaxportal.facilities.models import Facility
from vaxportal.timeutil import UTCDateTime, utcnow


class Role(enum.StrEnum):
    admin = "admin"
    data_entry = "data_entry"
    supervisor = "supervisor"
    reviewer = "reviewer"


class AccountStatus(enum.StrEnum):
    pending = "pending"  # issued, phone not yet proven, initial password not yet changed
    active = "active"
    revoked = "revoked"


@audit.audited(category="account")
class Account(db.Model):
    """ONE account per unit (P4.1), bound to the unit's registered phone."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id"), index=True)
    phone: Mapped[str] = mapped_column(sa.String(20))  # E.164
    status: Mapped[str] = mapped_column(sa.String(16), default=AccountStatus.pending)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    initial_password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))  # encrypted at rest
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    failed_password_count: Mapped[int] = mapped_column(default=0)
    failed_code_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lock_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version_id: Mapped[int] = mapped_column(default=1)

    facility: Mapped[Facility] = relationship(lazy="raise_on_sql")
    custodians: Mapped[list[Custodian]] = relationship(
        back_populates="account", order_by="Custodian.from_at", lazy="raise_on_sql")

    __mapper_args__ = {"version_id_col": version_id}
    # a live phone number belongs to one live account at a time (P4.1): the lifecycle says so
    # in words (``facilities.lifecycle._phone_free``); the database holds it under a race
    __table_args__ = (
        sa.Index("uq_account_live_phone", "phone", unique=True,
                 sqlite_where=sa.text("status != 'revoked'"),
                 postgresql_where=sa.text("status != 'revoked'")),
    )

    # Flask-Login protocol: a signed-in account is whatever the server-side session names.
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return str(self.id)

    @property
    def current_custodian(self) -> Custodian | None:
        """The person holding the account now: from ``custodians`` when the query that
        read the account loaded them (the session loader, the accounts pages), otherwise
        by one explicit query (the relationship never loads itself)."""
        state = sa.inspect(self)
        if "custodians" in state.dict or state.session is None or not state.has_identity:
            return next((c for c in reversed(self.custodians) if c.to_at is None), None)
        return state.session.scalars(
            sa.select(Custodian).where(Custodian.account_id == self.id,
                                       Custodian.to_at.is_(None))
            .order_by(Custodian.from_at.desc(), Custodian.id.desc()).limit(1)).first()

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    @property
    def display_status(self) -> str:
        if self.status == AccountStatus.active and self.is_locked():
            return "locked"
        return self.status

    def __repr__(self) -> str:
        return f"<Account {self.username}>"



def _account_facility(row) -> int | None:
    """The facility of the account a row belongs to (read without a lazy load in a flush)."""
    session = object_session(row)
    account = row.__dict__.get("account")
    if account is None and session is not None and row.account_id is not None:
        account = session.get(Account, row.account_id)
    return account.facility_id if account is not None else None


@audit.audited(category="account", facility=_account_facility)
class Custodian(db.Model):
    """The person holding an account for a period (P3.3, P4.3a). History is never deleted,
    so every audit row can name who held the account at that moment."""

    __tablename__ = "custodian"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    gender: Mapped[str | None] = mapped_column(sa.String(16))
    unit: Mapped[str | None] = mapped_column(sa.String(200))
    position: Mapped[str | None] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    from_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    to_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(back_populates="custodians", lazy="raise_on_sql")


@audit.audited(category="account", facility=_account_facility)
class WrittenRequest(db.Model):
    """The written request behind an account-lifecycle action (P4.2, P4.3c)."""

    __tablename__ = "written_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(32))
    ref_number: Mapped[str] = mapped_column(sa.String(64))
    ref_date: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(500))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordHistory(db.Model):
    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(db.Model):
    """A server-side session. The cookie carries only a random token; the row holds its
    SHA-256, so ending a row ends the session in every process at once."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    custodian_id: Mapped[int | None] = mapped_column(sa.ForeignKey("custodian.id"))
    stage: Mapped[str] = mapped_column(sa.String(16), default="otp")  # otp | full
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    otp_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))

    account: Mapped[Account] = relationship(lazy="raise_on_sql")


class OtpChallenge(db.Model):
    """An SMS code, stored only as a keyed hash and bound to its purpose and action."""

    __tablename__ = "otp_challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_session.id"))
    purpose: Mapped[str] = mapped_column(sa.String(16))  # login|activation|step_up|export
    action_ref: Mapped[str | None] = mapped_column(sa.String(64))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInFailure(db.Model):
    """Wrong passwords counted under one key (``auth/lockout.py``): a typed username from
    browsers that never signed in to it, an address, or one known browser of an account.
    Keys carry no username or address in clear (keyed hashes), so unknown usernames are
    counted exactly like real ones."""

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(96), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
