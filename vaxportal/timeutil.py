"""Time: stored in UTC, shown in Asia/Ho_Chi_Minh as dd/mm/yyyy."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    """Today in Vietnam (delegation days, date-of-birth checks), not on the server's clock."""
    return datetime.now(LOCAL_TZ).date()


def local(dt: datetime) -> datetime:
    return dt.astimezone(LOCAL_TZ)


def format_date(d: date | datetime | None) -> str:
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = local(d)
    return d.strftime("%d/%m/%Y")


def format_datetime(dt: datetime | None, seconds: bool = True) -> str:
    if dt is None:
        return ""
    return local(dt).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC on every backend and always hands back an aware UTC datetime."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)
