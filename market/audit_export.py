"""The audit log read from the database: heads, a verifiable source, and the export.

- the heads come from `market.audit_trail.stream_heads`, **one statement** (the governance
  head and every market row's head), so the set is one consistent snapshot on PostgreSQL
  too: a split recorded in a market stream never appears without the credit it spent.
- `DatabaseSource` serves `market.audit_verify.verify`: the heads of that snapshot, then
  each stream's events up to its head, a page at a time (events are append-only, so
  events up to a head never change).
- `export` writes ``DIR/streams/<stream>.jsonl`` (each line the exact text that was
  hashed) and ``DIR/manifest.json`` (format, time, heads), streaming a page at a time.
- `verify_database` verifies the database and compares the replayed balances with the
  stored ones (`market.audit_trail.compare_with_database`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from db import audit
from db.audit_chain import FORMAT, Head, iso_instant
from db.session import Database
from db.types import utcnow
from market.audit_replay import ReplayedState
from market.audit_trail import compare_with_database, stream_heads
from market.audit_verify import VerifyReport, verify


class DatabaseSource:
    """The database's streams as an `market.audit_verify.AuditSource`."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.read() as session:
            self._heads = stream_heads(session)

    def heads(self) -> list[Head]:
        return list(self._heads)

    def events(self, stream: str, upto: int) -> Iterator[tuple[str, str | None]]:
        after = 0
        while after < upto:
            with self.database.read() as session:
                page = audit.events_page(
                    session, stream, after=after, limit=min(audit.PAGE, upto - after)
                )
            if not page:
                return
            for event in page:
                yield event.body, event.hash
            after = page[-1].seq


def verify_database(
    database: Database, published: Mapping[str, Head] | None = None, *, replay: bool = True
) -> VerifyReport:
    """Verify the database's streams; with ``replay``, also compare the replayed balances,
    positions and market states with the stored ones."""

    def against_tables(state: ReplayedState) -> None:
        with database.read() as session:
            compare_with_database(session, state)

    source = DatabaseSource(database)
    return verify(source, published, replay=replay, state_check=against_tables)


class ExportRefused(ValueError):
    """The export directory cannot be written (not empty, not a directory)."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the directory, the heads, and how many events."""

    directory: Path
    heads: list[Head]
    events: int


def export(database: Database, directory: Path) -> ExportResult:
    """Write every stream and the manifest to ``directory`` (created; must be empty).

    Raises:
        ExportRefused: ``directory`` exists and is not an empty directory.
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ExportRefused(f"{directory} is not an empty directory; export into a new one")
    streams = directory / "streams"
    streams.mkdir(parents=True, exist_ok=True)
    source = DatabaseSource(database)
    exported_at = utcnow()
    count = 0
    for head in source.heads():
        path = streams / f"{head.stream}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for body, _ in source.events(head.stream, head.seq):
                out.write(body)
                out.write("\n")
                count += 1
    manifest = {
        "format": FORMAT,
        "exported_at": iso_instant(exported_at),
        "streams": [h.to_dict() for h in source.heads()],
    }
    tmp = directory / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, directory / "manifest.json")
    return ExportResult(directory, source.heads(), count)
