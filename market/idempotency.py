"""Idempotency records: the stored outcome of a money-moving request, per (account, key).

A client sends an ``Idempotency-Key`` with every request that moves money. The record is
written in the SAME transaction as the effect, and ``(account_id, key)`` is unique, so:

- a retry finds the record and gets the first response back, with no second effect;
- of two concurrent requests with one key, exactly one commits; the other hits the unique
  constraint, rolls back, and re-reads the winner's record;
- a refused request rolls back and leaves no record: fixing the cause and retrying with
  the same key runs the request afresh.

The request hash (SHA-256 of method, path and canonical body) tells a true retry from a
different request that reuses a key (`IdempotencyKeyReused`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from db import canonical
from db.base import Base
from db.prepared import prepared
from db.types import BigId, UTCDateTime, utcnow
from market.errors import IdempotencyKeyReused

MAX_KEY_LENGTH = 255
"""Longest accepted key, characters."""


class IdempotencyRecord(Base):
    """The first response to a request with a given (account, key)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_idempotency_record_account_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response to replay: its status code and exact body text."""

    status_code: int
    body: str


def request_hash(method: str, path: str, body: Mapping[str, Any] | None) -> str:
    """SHA-256 hex of ``METHOD path``, a newline and the body's canonical JSON
    (`db.canonical.encode`), UTF-8."""
    text = f"{method.upper()} {path}\n{canonical.encode(body)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(
    session: Session, account_id: int, key: str, hash_: str, status_code: int, body: str
) -> None:
    """Store the response to a request, in the caller's transaction (one INSERT).

    Raises:
        sqlalchemy.exc.IntegrityError: the key is taken (a concurrent or earlier request);
            the caller rolls back and calls `find`.
    """
    table = cast(Table, IdempotencyRecord.__table__)
    stmt = prepared(("idempotency_record",), lambda: insert(table))
    session.execute(
        stmt,
        {
            "account_id": account_id,
            "key": key,
            "request_hash": hash_,
            "status_code": status_code,
            "response_body": body,
            "created_at": utcnow(),
        },
    )


def find(session: Session, account_id: int, key: str, hash_: str) -> StoredResponse | None:
    """The stored response for ``(account_id, key)``, or None if the key is unused.

    Raises:
        IdempotencyKeyReused: the key was used for a different request.
    """
    stmt = prepared(
        ("idempotency_find",),
        lambda: select(
            IdempotencyRecord.request_hash,
            IdempotencyRecord.status_code,
            IdempotencyRecord.response_body,
        ).where(
            IdempotencyRecord.account_id == bindparam("account_id"),
            IdempotencyRecord.key == bindparam("key"),
        ),
    )
    row = session.execute(stmt, {"account_id": account_id, "key": key}).one_or_none()
    if row is None:
        return None
    if row.request_hash != hash_:
        raise IdempotencyKeyReused(
            f"the Idempotency-Key {key!r} was already used for a different request; "
            "send a new key for a new request"
        )
    return StoredResponse(status_code=row.status_code, body=row.response_body)
