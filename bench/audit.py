"""Audit verification speed: the chain check over an export, against its floors.

Builds an export of ``--events`` trade-like events (``--streams`` market streams of equal
length plus governance), shaped like real trade events (ids, amounts, prices, book state),
in a temporary directory, then times, in the same run (medians of ``--repeats``):

- **chain check**: `market.audit_verify.verify(DirectorySource(dir), replay=False)`: read
  each line, check its sequence, stream and link from its canonical tail, hash it;
- **chain + records**: `db.audit_chain.ChainCheck.line` on every line: also parse it and
  check its fields and canonical form (what a full verification does before replaying);
- floor 1, **hash only**: read the lines and SHA-256 each (what any chain check must do);
- floor 2, **parse + hash**: also ``json.loads`` each line.

The target (issue 11): at least 100,000 events per second for the chain check.

Run: ``.venv/bin/python -m bench.audit`` (defaults: 300,000 events, 30 streams, 5 repeats).
Writes ``bench/results/audit.json`` and the ``audit`` section of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import machine, markdown_table, median, verdict, write_json, write_section
from db.audit_chain import FORMAT, GOVERNANCE, Head, market_stream, seal

TARGET_PER_SECOND = 100_000


def build_export(directory: Path, events: int, streams: int, seed: int) -> int:
    """Write an export of ``events`` events over ``streams`` market streams + governance."""
    rng = random.Random(seed)
    (directory / "streams").mkdir(parents=True)
    t0 = datetime(2026, 12, 3, tzinfo=UTC)
    heads = []
    per_stream = events // (streams + 1)
    names = [GOVERNANCE] + [market_stream(i + 1) for i in range(streams)]
    written = 0
    for name in names:
        head = Head.empty(name)
        with (directory / "streams" / f"{name}.jsonl").open("w", encoding="utf-8") as out:
            for i in range(per_stream):
                cash = rng.randrange(1, 10**9)
                data = {
                    "trade_id": written + 1,
                    "account_id": rng.randrange(1, 10_000),
                    "outcome": rng.randrange(2),
                    "shares_micros": rng.randrange(1, 10**9),
                    "cash_micros": cash,
                    "branch_cash_after_micros": rng.randrange(10**12),
                    "position_after_micros": rng.randrange(10**12),
                    "q_after_micros": [rng.randrange(10**12), rng.randrange(10**12)],
                    "prices_after": [p := rng.random(), 1.0 - p],
                }
                event = seal(head, "trade", data, t0 + timedelta(microseconds=i))
                out.write(event.body + "\n")
                head = event.head
                written += 1
        heads.append(head.to_dict())
    manifest = {"format": FORMAT, "exported_at": "2026-12-03T00:00:00.000000Z", "streams": heads}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return written


def _timed(run: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from market.audit_verify import DirectorySource, verify

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--no-write", action="store_true", help="print only (smoke runs)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="futarchy-audit-bench-") as tmp:
        directory = Path(tmp)
        events = build_export(directory, args.events, args.streams, args.seed)
        files = sorted((directory / "streams").glob("*.jsonl"))

        def hash_only() -> None:
            for path in files:
                with path.open("rb") as handle:
                    for line in handle:
                        hashlib.sha256(line[:-1]).digest()

        def parse_and_hash() -> None:
            for path in files:
                with path.open(encoding="utf-8") as handle:
                    for line in handle:
                        json.loads(line)
                        hashlib.sha256(line[:-1].encode()).digest()

        def records() -> None:
            from db.audit_chain import ChainCheck

            for path in files:
                check = ChainCheck(path.name.removesuffix(".jsonl"))
                with path.open(encoding="utf-8") as handle:
                    for line in handle:
                        check.line(line[:-1])

        def chain() -> None:
            report = verify(DirectorySource(directory), replay=False)
            if not report.ok or report.events != events:
                raise SystemExit(f"the chain check failed: {report.disagreement}")

        rows = {}
        for name, run in (
            ("hash only", hash_only),
            ("parse + hash", parse_and_hash),
            ("chain check", chain),
            ("chain + every record parsed and checked", records),
        ):
            seconds = median(_timed(run, args.repeats))
            rows[name] = {"seconds": seconds, "events_per_second": events / seconds}
    chain_rate = rows["chain check"]["events_per_second"]
    result = {
        "machine": machine(),
        "events": events,
        "streams": args.streams + 1,
        "repeats": args.repeats,
        "rows": rows,
        "target_events_per_second": TARGET_PER_SECOND,
        "met": chain_rate >= TARGET_PER_SECOND,
    }
    for name, row in rows.items():
        print(f"{name:>14}: {row['events_per_second']:>12,.0f} events/s ({row['seconds']:.3f} s)")
    if not args.no_write:
        write_json("audit", result)
        write_section("audit", _markdown(result, argv))
    return result


def _markdown(result: dict[str, Any], argv: list[str] | None) -> str:
    rows = result["rows"]
    floor = rows["hash only"]["events_per_second"]
    table = markdown_table(
        ["step", "events/s (median)", "seconds", "× hash-only time"],
        [
            [
                name,
                f"{row['events_per_second']:,.0f}",
                f"{row['seconds']:.3f}",
                f"{floor / row['events_per_second']:.1f}",
            ]
            for name, row in rows.items()
        ],
    )
    command = " ".join(["python -m bench.audit", *(argv or [])])
    chain = rows["chain check"]["events_per_second"]
    return (
        "## Audit verification (chain check over an export)\n\n"
        f"`{command}` at commit {result['machine']['commit']}, "
        f"{result['machine']['measured_at']}: {result['events']:,} trade-shaped events in "
        f"{result['streams']} streams, median of {result['repeats']} runs.\n\n"
        f"{table}\n\n"
        f"Target: ≥ {TARGET_PER_SECOND:,} events/s for the chain check: "
        f"{chain:,.0f} events/s, **{verdict(result['met'])}**. The floors are measured in "
        "the same run: reading and hashing every line, then also parsing it. The chain check "
        "(`verify --chain-only`, `ChainCheck.link`) reads each record's link from its "
        "canonical tail and hashes it; the last row also parses every record and checks "
        "its fields and canonical form (`ChainCheck.line`), which a full verification "
        "does beside the replays."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
