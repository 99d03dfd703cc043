"""The audit log in the database: events, the governance head, appending and reading.

The record format and the chain check are pure (`db.audit_chain`); this module stores them.

- `AuditEvent`: one row per event, keyed ``(stream, seq)``, holding the canonical text
  (``body``) exactly as hashed and its hash. Never updated or deleted.
- `AuditHead`: the head of the governance stream (one row, created by the migration).
  A market stream's head lives on its market row (``market.audit_seq``,
  ``market.audit_hash``) and advances in the UPDATE a trade already does
  (`market.audit_trail`), so trades on different markets never touch a shared row.

Appending to the governance stream locks its head row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite write transactions are already serial), seals the events, inserts them
and moves the head, all inside the caller's transaction: the change and its events commit
together or not at all. **Lock order:** the governance head is the last lock a transaction
takes (after proposal, market and account rows), so append governance events at the end
of a change, never before locking anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, String, Table, Text, bindparam, insert, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.audit_chain import GENESIS, GOVERNANCE, Event, Head, seal_many
from db.base import Base
from db.prepared import prepared
from db.types import utcnow

PAGE = 1_000
"""Events read per query when streaming a whole stream."""


class AuditEvent(Base):
    """One event of one stream: its canonical text and hash (`db.audit_chain`)."""

    __tablename__ = "audit_event"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The head of a stream kept in its own row (the governance stream)."""

    __tablename__ = "audit_head"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def _events() -> Table:
    return cast(Table, AuditEvent.__table__)


def _heads() -> Table:
    return cast(Table, AuditHead.__table__)


def insert_events(session: Session, events: Sequence[Event]) -> None:
    """Insert sealed events (one executemany); the caller moves the stream's head."""
    if not events:
        return
    rows = [
        {"stream": e.stream, "seq": e.seq, "kind": e.kind, "body": e.body, "hash": e.hash}
        for e in events
    ]
    session.execute(prepared(("audit_insert",), lambda: insert(_events())), rows)


def _lock_governance(session: Session) -> Head:
    heads = _heads()
    stmt = prepared(
        ("audit_governance_lock",),
        lambda: (
            select(heads.c.seq, heads.c.hash)
            .where(heads.c.stream == bindparam("stream"))
            .with_for_update()
        ),
    )
    row = session.execute(stmt, {"stream": GOVERNANCE}).one_or_none()
    if row is None:  # a database emptied by TRUNCATE or built by create_all (tests)
        session.execute(
            text(
                "INSERT INTO audit_head (stream, seq, hash) VALUES (:stream, 0, :genesis) "
                "ON CONFLICT (stream) DO NOTHING"
            ),
            {"stream": GOVERNANCE, "genesis": GENESIS},
        )
        row = session.execute(stmt, {"stream": GOVERNANCE}).one()
    return Head(GOVERNANCE, int(row.seq), str(row.hash))


def append_governance(
    session: Session,
    entries: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    at: datetime | None = None,
) -> list[Event]:
    """Append ``(kind, data)`` events to the governance stream in the caller's transaction.

    Locks the governance head (take it last: see the module docstring), seals the events
    in order, inserts them and moves the head. Returns the events.
    """
    if not entries:
        return []
    head = _lock_governance(session)
    events = seal_many(head, list(entries), utcnow() if at is None else at)
    insert_events(session, events)
    last = events[-1]
    heads = _heads()
    stmt = prepared(
        ("audit_governance_move",),
        lambda: (
            update(heads)
            .where(heads.c.stream == bindparam("s"))
            .values(seq=bindparam("seq"), hash=bindparam("hash"))
        ),
    )
    session.execute(stmt, {"s": GOVERNANCE, "seq": last.seq, "hash": last.hash})
    return events


def record(
    session: Session, kind: str, data: Mapping[str, Any], *, at: datetime | None = None
) -> Event:
    """Append one governance event (`append_governance` with one entry)."""
    return append_governance(session, [(kind, data)], at=at)[0]


def governance_head(session: Session) -> Head:
    """The governance stream's head (without locking)."""
    heads = _heads()
    row = session.execute(
        select(heads.c.seq, heads.c.hash).where(heads.c.stream == GOVERNANCE)
    ).one_or_none()
    return Head.empty(GOVERNANCE) if row is None else Head(GOVERNANCE, int(row.seq), row.hash)


def stored_event(session: Session, stream: str, seq: int) -> tuple[str, str] | None:
    """The ``(body, hash)`` stored for event ``seq`` of ``stream``, or None."""
    events = _events()
    row = session.execute(
        select(events.c.body, events.c.hash).where(events.c.stream == stream, events.c.seq == seq)
    ).one_or_none()
    return None if row is None else (str(row.body), str(row.hash))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: its sequence number, kind, canonical text and hash."""

    seq: int
    kind: str
    body: str
    hash: str


def events_page(
    session: Session, stream: str, *, after: int = 0, limit: int = PAGE
) -> list[StoredEvent]:
    """Up to ``limit`` events of ``stream`` with ``seq > after``, in order (an index seek on
    the primary key)."""
    events = _events()
    stmt = prepared(
        ("audit_page",),
        lambda: (
            select(events.c.seq, events.c.kind, events.c.body, events.c.hash)
            .where(events.c.stream == bindparam("stream"), events.c.seq > bindparam("after"))
            .order_by(events.c.seq)
            .limit(bindparam("limit"))
        ),
    )
    rows = session.execute(stmt, {"stream": stream, "after": after, "limit": limit})
    return [StoredEvent(int(r.seq), str(r.kind), str(r.body), str(r.hash)) for r in rows]
