"""The audit verifier: recompute everything from the streams alone (pure; no database).

`verify` reads an `AuditSource` (an export directory, `DirectorySource`, or the database,
`market.audit_export.DatabaseSource`) and checks, stopping at the first record that
disagrees:

1. every chain: each stream's links, sequence numbers, canonical form and head
   (`db.audit_chain.ChainCheck`), and every head published earlier (``published``) still
   has the hash it had then (`db.audit_chain.check_published`);
2. every motion's result (`welfare.audit_replay.GovernanceReplay`), fed the whole
   governance stream first;
3. – 5. every decision, settlement, market state and balance
   (`market.audit_replay.MarketReplay`), fed the governance stream again for the cash it
   moves, then each market stream in market id order.

The replays run the service's own pure code (quotes, the decision rule, settlement
arithmetic, the tally), so what they recompute is what the service would have done.
Memory: one event at a time per stream plus the replayed state (balances, positions,
one proposal's branches), never a whole stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from db.audit_chain import (
    FORMAT,
    GOVERNANCE,
    AuditMismatch,
    ChainCheck,
    Disagreement,
    Event,
    Head,
    check_published,
    is_stream_name,
    market_of_stream,
)
from market.audit_replay import MarketReplay, ReplayedState
from welfare.audit_replay import GovernanceReplay


class AuditSource(Protocol):
    """Where the streams come from."""

    def heads(self) -> list[Head]:
        """Every non-empty stream's head as the source states it."""
        ...

    def events(self, stream: str, upto: int) -> Iterable[tuple[str, str | None]]:
        """The stream's events ``1..upto`` in order: ``(canonical text, stated hash or None)``."""
        ...


class UnreadableExport(ValueError):
    """An export directory that cannot be read as one (missing manifest, bad format)."""


def stream_order(heads: Iterable[Head]) -> list[Head]:
    """Governance first, then market streams by market id."""

    def key(head: Head) -> tuple[int, int]:
        market = market_of_stream(head.stream)
        return (0, 0) if market is None else (1, market)

    return sorted(heads, key=key)


def heads_from_json(document: Any) -> dict[str, Head]:
    """Heads from a manifest, a ``GET /audit/streams`` page or a list of heads.

    Accepts ``{"streams": [...]}``, ``{"items": [...]}`` or ``[...]`` of
    ``{"stream", "seq", "hash"}``.

    Raises:
        UnreadableExport: anything else, naming what is wrong.
    """
    items = document
    if isinstance(document, dict):
        items = document.get("streams", document.get("items"))
    if not isinstance(items, list):
        raise UnreadableExport("expected a list of heads under 'streams' or 'items'")
    heads: dict[str, Head] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UnreadableExport(f"head {i} is not an object")
        stream, seq, hash_ = item.get("stream"), item.get("seq"), item.get("hash")
        if not isinstance(stream, str) or not is_stream_name(stream):
            raise UnreadableExport(f"head {i}: {stream!r} names no stream")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise UnreadableExport(f"head {i} ({stream}): seq must be a whole number ≥ 0")
        if not isinstance(hash_, str) or len(hash_) != 64:
            raise UnreadableExport(f"head {i} ({stream}): hash must be 64 hex digits")
        if stream in heads:
            raise UnreadableExport(f"head {i}: stream {stream} is listed twice")
        heads[stream] = Head(stream, seq, hash_)
    return heads


def read_heads_file(path: Path) -> dict[str, Head]:
    """`heads_from_json` of a JSON file (a manifest or a saved ``GET /audit/streams``)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UnreadableExport(f"cannot read heads from {path}: {error}") from None
    return heads_from_json(document)


class DirectorySource:
    """An export directory: ``manifest.json`` and ``streams/<stream>.jsonl``.

    Raises `UnreadableExport` on a missing or malformed manifest; a stream file that is
    missing or holds fewer lines than its head is reported by the chain check.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        manifest = self.directory / "manifest.json"
        try:
            document = json.loads(manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UnreadableExport(f"{manifest} does not exist: not an audit export") from None
        except (OSError, ValueError) as error:
            raise UnreadableExport(f"cannot read {manifest}: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise UnreadableExport(f"{manifest} is not a {FORMAT} manifest")
        self._heads = list(heads_from_json(document).values())

    def heads(self) -> list[Head]:
        return list(self._heads)

    def events(self, stream: str, upto: int) -> Iterator[tuple[str, str | None]]:
        path = self.directory / "streams" / f"{stream}.jsonl"
        try:
            handle = path.open(encoding="utf-8", newline="\n")
        except OSError:
            return
        with handle:
            for count, line in enumerate(handle, start=1):
                if count > upto:
                    return
                yield line.removesuffix("\n"), None


@dataclass
class VerifyReport:
    """What a verification found.

    Attributes:
        ok: no disagreement.
        disagreement: the first record that disagrees (None when ok).
        streams, events: how many streams and events were read.
        heads: the heads verified (governance first).
        motions_checked, trades_checked, decisions_checked, settlements_checked: how many
            of each were recomputed.
        seconds: wall time.
    """

    ok: bool = True
    disagreement: Disagreement | None = None
    streams: int = 0
    events: int = 0
    heads: list[Head] = field(default_factory=list)
    motions_checked: int = 0
    trades_checked: int = 0
    decisions_checked: int = 0
    settlements_checked: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "disagreement": None
            if self.disagreement is None
            else {
                "stream": self.disagreement.stream,
                "seq": self.disagreement.seq,
                "message": self.disagreement.message,
            },
            "streams": self.streams,
            "events": self.events,
            "motions_checked": self.motions_checked,
            "trades_checked": self.trades_checked,
            "decisions_checked": self.decisions_checked,
            "settlements_checked": self.settlements_checked,
            "seconds": round(self.seconds, 6),
        }


def _checked(
    source: AuditSource,
    head: Head,
    published: Head | None,
    report: VerifyReport,
) -> Iterator[Event]:
    """The stream's events, each chain-checked, then the head and a published head."""
    chain = ChainCheck(head.stream)
    seen: Head | None = None
    for body, stated in source.events(head.stream, head.seq):
        event = chain.line(body, stated)
        report.events += 1
        if published is not None and event.seq == published.seq:
            seen = event.head
        yield event
    chain.finish(head)
    if published is not None:
        check_published(head.stream, published, seen)


def verify(
    source: AuditSource,
    published: Mapping[str, Head] | None = None,
    *,
    replay: bool = True,
    state_check: Callable[[ReplayedState], None] | None = None,
) -> VerifyReport:
    """Verify every stream of ``source``; return what was checked and the first fault.

    Args:
        source: the streams.
        published: heads published earlier, by stream: each must still be in the stream
            (a stream missing from the source, or rewritten, is a disagreement).
        replay: also recompute motions, decisions, settlements and balances (False: the
            chains only).
        state_check: called with the replayed state at the end (the database source
            compares it with the stored balances); raises `AuditMismatch` on a difference.
    """
    started = time.perf_counter()
    report = VerifyReport()
    published = dict(published or {})
    try:
        heads = stream_order(source.heads())
        report.heads = heads
        report.streams = len(heads)
        by_name = {h.stream: h for h in heads}
        for name, head in sorted(published.items()):
            if name not in by_name and head.seq > 0:
                raise AuditMismatch(
                    Disagreement(name, 0, "a head was published for this stream, but it is gone")
                )
        governance = by_name.get(GOVERNANCE, Head.empty(GOVERNANCE))
        if not replay:
            for head in heads:
                _linked(source, head, published.get(head.stream), report)
            return report
        rules = GovernanceReplay()
        for event in _checked(source, governance, published.get(GOVERNANCE), report):
            rules.apply(event)
        facts = rules.finish()
        report.motions_checked = facts.motions_checked
        markets = MarketReplay(facts)
        for event in _replayed(source, governance):
            markets.governance_event(event)
        for head in heads:
            if head.stream == GOVERNANCE:
                continue
            for event in _checked(source, head, published.get(head.stream), report):
                markets.market_event(event)
        state = markets.finish()
        report.trades_checked = state.trades_checked
        report.decisions_checked = state.decisions_checked
        report.settlements_checked = state.settlements_checked
        if state_check is not None:
            state_check(state)
    except AuditMismatch as mismatch:
        report.ok = False
        report.disagreement = mismatch.disagreement
    finally:
        report.seconds = time.perf_counter() - started
    return report


def _linked(source: AuditSource, head: Head, published: Head | None, report: VerifyReport) -> None:
    """The links-only check of one stream (`db.audit_chain.ChainCheck.link`)."""
    chain = ChainCheck(head.stream)
    link = chain.link
    seen: Head | None = None
    count = 0
    for body, stated in source.events(head.stream, head.seq):
        now = link(body, stated)
        count += 1
        if published is not None and now.seq == published.seq:
            seen = now
    report.events += count
    chain.finish(head)
    if published is not None:
        check_published(head.stream, published, seen)


def _replayed(source: AuditSource, head: Head) -> Iterator[Event]:
    """The governance stream a second time, for the market replay (chain already checked:
    re-parsed without counting)."""
    chain = ChainCheck(head.stream)
    for body, stated in source.events(head.stream, head.seq):
        yield chain.line(body, stated)
