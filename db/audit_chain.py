"""Hash-chained audit streams: the record format, sealing and the chain check (pure).

Every state change appends one *event* to a *stream*: ``market-<id>`` for everything that
happens in one branch market (its opening, splits and merges into its proposal, trades,
cranks, its decision and its settlement), ``governance`` for everything else (accounts and
keys, credits and debits, proposals, the council, motions and ballots, metric versions,
indicators and observations, measurements). An event is the canonical JSON
(`db.canonical`) of its *record*::

    {"at": "2026-12-03T17:40:00.123456Z",   when, UTC, always six decimals
     "data": {...},                          what happened (per kind: docs/audit.md)
     "kind": "trade",                        what kind of change
     "prev": "<64 hex>",                     the hash of the stream's previous event
     "seq": 7,                               1, 2, 3, … without gaps
     "stream": "market-12"}

and its hash is ``SHA-256(UTF-8 bytes of that text)``, 64 lowercase hex digits. The first
event of a stream has ``seq = 1`` and ``prev = GENESIS`` (64 zeros). A stream's *head* is
``(seq, hash)`` of its last event (``(0, GENESIS)`` while empty).

So changing, deleting, inserting or reordering any event changes every later hash; a
rewritten stream with every hash recomputed is caught by anyone holding a head published
before (`check_published`). An export is one file of events per stream, one canonical
record per line: the chain check hashes each line as it stands (`ChainCheck`), with no
re-encoding, at a few microseconds per event.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from db import canonical

GENESIS = "0" * 64
"""The ``prev`` of a stream's first event, and the hash of an empty stream's head."""

GOVERNANCE = "governance"
"""The stream of everything that is not one market's."""

FORMAT = "futarchy-audit/1"
"""The export format's name, written in every manifest."""

_MARKET = re.compile(r"market-([1-9][0-9]{0,18})")
_STREAM = re.compile(r"governance|market-[1-9][0-9]{0,18}")


def market_stream(market_id: int) -> str:
    """The name of market ``market_id``'s stream: ``market-<id>``."""
    return f"market-{int(market_id)}"


def market_of_stream(stream: str) -> int | None:
    """The market id a stream name names, or None (the governance stream, or no stream)."""
    match = _MARKET.fullmatch(stream)
    return None if match is None else int(match.group(1))


def is_stream_name(text: str) -> bool:
    """Whether ``text`` names a stream: ``governance`` or ``market-<positive id>``."""
    return _STREAM.fullmatch(text) is not None


def iso_instant(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six decimals)."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: give a timezone-aware instant")
    return at.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


_TAIL = re.compile(
    r',"prev":"([0-9a-f]{64})","seq":(0|[1-9][0-9]*),"stream":"([a-z0-9-]{1,40})"\}$'
)
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def parse_instant(text: str) -> datetime:
    """The instant an `iso_instant` text names (UTC).

    Raises:
        ValueError: ``text`` is not exactly ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` of a real instant.
    """
    if not isinstance(text, str) or _INSTANT.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not an instant written YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Head:
    """A stream's head: the sequence number and hash of its last event."""

    stream: str
    seq: int
    hash: str

    @classmethod
    def empty(cls, stream: str) -> Head:
        return cls(stream, 0, GENESIS)

    def to_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "seq": self.seq, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class Event:
    """One sealed event: its record's fields, its canonical text and its hash."""

    stream: str
    seq: int
    prev: str
    kind: str
    at: str
    data: Mapping[str, Any]
    body: str
    hash: str

    @property
    def head(self) -> Head:
        """The stream's head once this event is appended."""
        return Head(self.stream, self.seq, self.hash)

    @property
    def instant(self) -> datetime:
        return parse_instant(self.at)


def body_hash(body: str) -> str:
    """SHA-256 of an event's canonical text, 64 lowercase hex digits."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def seal(head: Head, kind: str, data: Mapping[str, Any], at: datetime) -> Event:
    """The event appending ``kind``/``data`` at ``at`` to the stream whose head is ``head``.

    Raises:
        NotCanonical: ``data`` holds a value with no canonical JSON (NaN, a set, …): a bug
            in the caller, never input (inputs are checked before anything is written).
    """
    seq = head.seq + 1
    when = iso_instant(at)
    record = {
        "at": when,
        "data": data,
        "kind": kind,
        "prev": head.hash,
        "seq": seq,
        "stream": head.stream,
    }
    body = canonical.encode(record)
    return Event(head.stream, seq, head.hash, kind, when, data, body, body_hash(body))


def seal_many(
    head: Head, entries: list[tuple[str, Mapping[str, Any]]], at: datetime
) -> list[Event]:
    """`seal` each ``(kind, data)`` in turn after ``head``: the events of one change."""
    events = []
    for kind, data in entries:
        event = seal(head, kind, data, at)
        events.append(event)
        head = event.head
    return events


# --- checking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Disagreement:
    """The first record that disagrees, and what was expected.

    ``seq`` is 0 when the fault is the stream as a whole (a missing stream, a head that does
    not match a published one).
    """

    stream: str
    seq: int
    message: str

    def __str__(self) -> str:
        where = self.stream if self.seq == 0 else f"{self.stream} #{self.seq}"
        return f"{where}: {self.message}"


class AuditMismatch(Exception):
    """Raised by a check at the first disagreement; carries it."""

    def __init__(self, disagreement: Disagreement) -> None:
        super().__init__(str(disagreement))
        self.disagreement = disagreement


class ChainCheck:
    """Checks one stream's events in order, as they come (bounded memory).

    Feed each event's canonical text with `line`; then `finish` compares the head with the
    one the stream claims. Each check raises `AuditMismatch` naming the first bad record:

    - the text parses to a record with exactly the fields of the format;
    - its ``stream`` is this stream and its ``seq`` the next number (a deleted or
      swapped event shows here, or as a broken link);
    - its ``prev`` is the previous event's hash (``GENESIS`` first);
    - the text is the canonical JSON of its record (no other spelling of the same data);
    - its hash, where the source states one, is the SHA-256 of the text.

    `link` is the links-only check (no parsing): the record's last three fields are
    ``"prev"``, ``"seq"`` and ``"stream"`` in canonical order, and no string inside ``data``
    can contain an unescaped ``"prev":"``, so the tail names the link. It proves the chain
    (any edited byte changes a hash that the next link or the head must match) at a few
    microseconds an event; `line` also proves each record well formed, as the replays need.
    """

    __slots__ = ("head", "stream")

    def __init__(self, stream: str) -> None:
        if not is_stream_name(stream):
            raise AuditMismatch(Disagreement(stream, 0, f"{stream!r} names no stream"))
        self.stream = stream
        self.head = Head.empty(stream)

    def _fail(self, seq: int, message: str) -> AuditMismatch:
        return AuditMismatch(Disagreement(self.stream, seq, message))

    def line(self, body: str, stated_hash: str | None = None) -> Event:
        """Check the next event given as its canonical text; return it parsed."""
        expected_seq = self.head.seq + 1
        try:
            record = json.loads(body)
        except ValueError:
            raise self._fail(expected_seq, "the record is not JSON") from None
        if not isinstance(record, dict) or set(record) != {
            "at",
            "data",
            "kind",
            "prev",
            "seq",
            "stream",
        }:
            raise self._fail(
                expected_seq,
                "the record does not have exactly the fields at, data, kind, prev, seq and stream",
            )
        seq, stream = record["seq"], record["stream"]
        if stream != self.stream:
            raise self._fail(expected_seq, f"the record says it belongs to stream {stream!r}")
        if seq != expected_seq or isinstance(seq, bool):
            raise self._fail(
                expected_seq,
                f"expected event {expected_seq} after event {self.head.seq}, found event "
                f"{seq!r}: an event is missing, duplicated or out of order",
            )
        if record["prev"] != self.head.hash:
            raise self._fail(
                seq,
                f"the link to the previous event is broken: prev is {record['prev']!r}, the "
                f"previous event's hash is {self.head.hash}",
            )
        if not isinstance(record["kind"], str) or not isinstance(record["data"], dict):
            raise self._fail(seq, "kind must be a string and data an object")
        try:
            parse_instant(record["at"])
        except (TypeError, ValueError):
            raise self._fail(seq, f"at {record['at']!r} is not an instant") from None
        if canonical.encode_parsed(record) != body:
            raise self._fail(seq, "the record is not in canonical JSON")
        digest = body_hash(body)
        if stated_hash is not None and stated_hash != digest:
            raise self._fail(
                seq, f"the stated hash {stated_hash} is not the record's hash {digest}"
            )
        event = Event(
            self.stream,
            seq,
            record["prev"],
            record["kind"],
            record["at"],
            record["data"],
            body,
            digest,
        )
        self.head = event.head
        return event

    def link(self, body: str, stated_hash: str | None = None) -> Head:
        """Check the next event's link, sequence number, stream and hash only; return the
        new head."""
        expected_seq = self.head.seq + 1
        tail = _TAIL.search(body, max(0, len(body) - 200))
        if tail is None or not body.startswith('{"at":"'):
            raise self._fail(expected_seq, "the record is not a canonical audit record")
        prev, seq_text, stream = tail.group(1), tail.group(2), tail.group(3)
        if stream != self.stream:
            raise self._fail(expected_seq, f"the record says it belongs to stream {stream!r}")
        if seq_text != str(expected_seq):
            raise self._fail(
                expected_seq,
                f"expected event {expected_seq} after event {self.head.seq}, found event "
                f"{seq_text}: an event is missing, duplicated or out of order",
            )
        if prev != self.head.hash:
            raise self._fail(
                expected_seq,
                f"the link to the previous event is broken: prev is {prev!r}, the previous "
                f"event's hash is {self.head.hash}",
            )
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        if stated_hash is not None and stated_hash != digest:
            raise self._fail(
                expected_seq, f"the stated hash {stated_hash} is not the record's hash {digest}"
            )
        self.head = Head(self.stream, expected_seq, digest)
        return self.head

    def finish(self, claimed: Head | None) -> Head:
        """The stream's head, after checking it equals the ``claimed`` one (if any)."""
        if claimed is not None and (claimed.seq, claimed.hash) != (self.head.seq, self.head.hash):
            raise self._fail(
                0,
                f"the stream ends at event {self.head.seq} with hash {self.head.hash}, but its "
                f"head is given as event {claimed.seq} with hash {claimed.hash}",
            )
        return self.head


def check_published(stream: str, published: Head, seen: Head | None) -> None:
    """Check a head published earlier against the hash the stream now has at that seq.

    ``seen`` is the stream's event at ``published.seq`` as now recorded (None: the stream
    is shorter). A rewritten history — every hash recomputed — fails here.
    """
    if published.seq == 0:
        return
    if seen is None:
        raise AuditMismatch(
            Disagreement(
                stream,
                published.seq,
                f"a head was published at event {published.seq}, but the stream is shorter",
            )
        )
    if seen.hash != published.hash:
        raise AuditMismatch(
            Disagreement(
                stream,
                published.seq,
                f"the published head says event {published.seq} has hash {published.hash}, "
                f"the record has {seen.hash}: the stream was rewritten",
            )
        )
