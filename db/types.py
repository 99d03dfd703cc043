"""Column types shared by every package.

Money and shares are integers in micro-units (1e-6) stored as BIGINT; timestamps are
timezone-aware UTC on every backend (SQLite keeps no zone, so we store naive UTC and
re-attach it on the way out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

Micros = BigInteger
"""Column type for an integer amount of micro-units (cash or shares)."""

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""Primary key type of the tables that grow with use (one row per trade, ledger leg or
request): BIGINT (``bigserial``) on PostgreSQL, where INTEGER would run out at 2^31 − 1.
SQLite keeps INTEGER, because only an ``INTEGER PRIMARY KEY`` is the table's 64-bit,
auto-incrementing rowid (a BIGINT key would be a plain column that needs explicit ids)."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on SQLite and PostgreSQL alike.

    Naive datetimes are refused: an instant without a zone is a bug waiting to happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware instant")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
