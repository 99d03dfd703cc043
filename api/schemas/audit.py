"""Schemas for the audit log: stream heads, events and a verification's result."""

from __future__ import annotations

from pydantic import BaseModel, Field

from db.audit_chain import Head
from market.audit_verify import VerifyReport


class StreamHead(BaseModel):
    """A stream's head: its last event's sequence number and hash (0 and 64 zeros when
    empty)."""

    stream: str = Field(description="`governance` or `market-<id>`.")
    seq: int = Field(description="The last event's sequence number (0: no event yet).")
    hash: str = Field(description="The last event's SHA-256, 64 lowercase hex digits.")

    @classmethod
    def of(cls, head: Head) -> StreamHead:
        return cls(stream=head.stream, seq=head.seq, hash=head.hash)


class StreamPage(BaseModel):
    """Stream heads: the governance stream first (on the first page), then every market's
    stream by market id. To read on, pass ``after_id`` = ``next_after_id`` (a market id)."""

    streams: list[StreamHead]
    next_after_id: int | None = Field(description="The cursor of the next page, or null.")


class AuditEventRead(BaseModel):
    """One event: the exact canonical text that was hashed, and its hash."""

    seq: int
    kind: str
    hash: str = Field(description="SHA-256 of `body` (UTF-8), 64 lowercase hex digits.")
    body: str = Field(
        description="The event's canonical JSON record (at, data, kind, prev, seq, stream), "
        "exactly as hashed: see docs/audit.md."
    )


class EventPage(BaseModel):
    """Events of one stream in order. To read on, pass ``after`` = ``next_after``."""

    stream: str
    events: list[AuditEventRead]
    next_after: int | None = Field(description="The cursor of the next page, or null.")


class DisagreementRead(BaseModel):
    """The first record that disagrees, and what was expected."""

    stream: str
    seq: int = Field(description="The event's sequence number (0: the stream as a whole).")
    message: str


class VerificationRead(BaseModel):
    """What a verification recomputed, and the first record that disagrees (if any)."""

    ok: bool
    disagreement: DisagreementRead | None
    streams: int
    events: int
    motions_checked: int
    trades_checked: int
    decisions_checked: int
    settlements_checked: int
    seconds: float

    @classmethod
    def of(cls, report: VerifyReport) -> VerificationRead:
        return cls.model_validate(report.to_dict())
