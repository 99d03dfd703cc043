"""The audit log end to end: the demo's whole history exported and verified with no
database, on SQLite and PostgreSQL, and tampering caught at the first bad record.

The demo (`api.seed.seed_demo`, what `make run` starts with) holds every kind of change:
accounts and keys, credits, a council of 142 countries in blocs with rules, motions that
adopt a metric and certify a measurement, indicators and observations, an open proposal
with trades and a finished one that was decided and settled.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from api.seed import seed_demo
from db import canonical
from db.audit_chain import GOVERNANCE, Head, body_hash
from db.session import Database
from market.audit_export import ExportRefused, export, verify_database
from market.audit_trail import stream_heads
from market.audit_verify import DirectorySource, heads_from_json, verify
from market.models import CashBalance, Trade


@pytest.fixture(scope="module")
def seeded_file(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the demo, seeded once for the module (seeding takes seconds)."""
    path = tmp_path_factory.mktemp("audit-demo") / "demo.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    with database.write() as session:
        seed_demo(session)
    export(database, path.parent / "export")
    database.dispose()
    return path


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Iterator[Database]:
    """A copy of the demo database of its own."""
    path = tmp_path / "demo.db"
    shutil.copyfile(seeded_file, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def demo_export(seeded_file: Path, tmp_path: Path) -> Path:
    """A copy of the demo's export of its own, for an attacker to edit."""
    shutil.copytree(seeded_file.parent / "export", tmp_path / "export")
    return tmp_path / "export"


def test_the_demo_verifies_from_the_database_and_from_an_export(
    db: Database, tmp_path: Path
) -> None:
    with db.write() as session:
        seed_demo(session)
    export(db, tmp_path / "export")
    demo_export = tmp_path / "export"
    offline = verify(DirectorySource(demo_export))
    assert offline.ok, offline.disagreement
    assert offline.motions_checked >= 2  # the metric's adoption and the certification
    with db.read() as session:
        assert offline.trades_checked == session.scalar(select(func.count()).select_from(Trade))
    assert offline.decisions_checked == 1
    assert offline.settlements_checked == 1
    online = verify_database(db)
    assert online.ok, online.disagreement
    assert online.to_dict() | {"seconds": 0} == offline.to_dict() | {"seconds": 0}
    with db.read() as session:
        assert [h.to_dict() for h in stream_heads(session)] == json.loads(
            (demo_export / "manifest.json").read_text()
        )["streams"]


def test_each_exported_line_is_the_text_that_was_hashed(demo_export: Path) -> None:
    manifest = json.loads((demo_export / "manifest.json").read_text())
    for head in manifest["streams"]:
        lines = (demo_export / "streams" / f"{head['stream']}.jsonl").read_text().splitlines()
        assert len(lines) == head["seq"]
        assert body_hash(lines[-1]) == head["hash"]
        assert all(canonical.is_canonical(line) for line in lines)


def test_an_export_goes_into_a_new_directory(seeded: Database, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ExportRefused, match="is not an empty directory"):
        export(seeded, tmp_path / "full")


# --- tampering ---------------------------------------------------------------------------


class Export:
    """An export directory an attacker edits: streams as lists of records."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.manifest = json.loads((directory / "manifest.json").read_text())

    def path(self, stream: str) -> Path:
        return self.directory / "streams" / f"{stream}.jsonl"

    def lines(self, stream: str) -> list[str]:
        return self.path(stream).read_text().splitlines()

    def write(self, stream: str, lines: list[str]) -> None:
        self.path(stream).write_text("".join(line + "\n" for line in lines))

    def find(self, kind: str, stream_prefix: str = "") -> tuple[str, int]:
        """The first event of ``kind``: its stream and seq."""
        for head in self.manifest["streams"]:
            if not head["stream"].startswith(stream_prefix):
                continue
            for line in self.lines(head["stream"]):
                record = json.loads(line)
                if record["kind"] == kind:
                    return head["stream"], record["seq"]
        raise AssertionError(f"no {kind} event in the export")

    def record(self, stream: str, seq: int) -> dict[str, Any]:
        return dict(json.loads(self.lines(stream)[seq - 1]))

    def rewrite(self, stream: str, seq: int, data: dict[str, Any]) -> None:
        """Change event ``seq``'s data and recompute every later link and the manifest's
        head, as a careful attacker would: the chains stay intact."""
        lines = self.lines(stream)
        records = [json.loads(line) for line in lines]
        records[seq - 1]["data"] = data
        self._reseal(stream, records)

    def _reseal(self, stream: str, records: list[dict[str, Any]]) -> None:
        prev = "0" * 64
        lines = []
        for i, record in enumerate(records, start=1):
            record["seq"], record["prev"] = i, prev
            line = canonical.encode(record)
            lines.append(line)
            prev = body_hash(line)
        self.write(stream, lines)
        for head in self.manifest["streams"]:
            if head["stream"] == stream:
                head["seq"], head["hash"] = len(records), prev
        (self.directory / "manifest.json").write_text(json.dumps(self.manifest))

    def resealed_without(self, stream: str, seq: int) -> None:
        records = [json.loads(line) for line in self.lines(stream)]
        del records[seq - 1]
        self._reseal(stream, records)


def first_fault(directory: Path, published: dict[str, Head] | None = None) -> tuple[str, int, str]:
    report = verify(DirectorySource(directory), published)
    assert not report.ok
    assert report.disagreement is not None
    return report.disagreement.stream, report.disagreement.seq, report.disagreement.message


def test_a_changed_trade_amount_is_caught_by_the_chain(demo_export: Path) -> None:
    tampered = Export(demo_export)
    stream, seq = tampered.find("trade", "market-")
    lines = tampered.lines(stream)
    record = json.loads(lines[seq - 1])
    record["data"]["cash_micros"] += 1
    lines[seq - 1] = canonical.encode(record)
    tampered.write(stream, lines)
    # the replay runs beside the chain check, so the changed record itself is named
    assert first_fault(demo_export)[:2] == (stream, seq)


def test_a_changed_trade_amount_with_every_hash_recomputed_is_caught_by_the_replay(
    demo_export: Path,
) -> None:
    tampered = Export(demo_export)
    stream, seq = tampered.find("trade", "market-")
    data = tampered.record(stream, seq)["data"]
    tampered.rewrite(stream, seq, data | {"cash_micros": data["cash_micros"] - 1})
    assert first_fault(demo_export)[:2] == (stream, seq)


def test_a_changed_ballot_choice_with_every_hash_recomputed_is_caught(demo_export: Path) -> None:
    tampered = Export(demo_export)
    stream, seq = tampered.find("ballot.cast", GOVERNANCE)
    data = tampered.record(stream, seq)["data"]
    flipped = {"yes": "no", "no": "yes", "abstain": "no"}[data["choice"]]
    tampered.rewrite(stream, seq, data | {"choice": flipped})
    fault_stream, fault_seq, _message = first_fault(demo_export)
    assert fault_stream == GOVERNANCE
    assert fault_seq > seq  # the motion's recorded result no longer follows from its ballots
    assert tampered.record(GOVERNANCE, fault_seq)["kind"] == "motion.decided"


def test_a_deleted_event_is_caught(demo_export: Path) -> None:
    tampered = Export(demo_export)
    stream, seq = tampered.find("trade", "market-")
    lines = tampered.lines(stream)
    del lines[seq - 1]
    tampered.write(stream, lines)
    stream_, seq_, message = first_fault(demo_export)
    assert (stream_, seq_) == (stream, seq)
    assert f"expected event {seq} after event {seq - 1}, found event {seq + 1}" in message


def test_a_deleted_event_with_every_hash_recomputed_is_caught_by_the_replay(
    demo_export: Path,
) -> None:
    tampered = Export(demo_export)
    stream, seq = tampered.find("trade", "market-")
    tampered.resealed_without(stream, seq)
    assert first_fault(demo_export)[0] == stream


def test_two_swapped_events_are_caught(demo_export: Path) -> None:
    tampered = Export(demo_export)
    stream, seq = tampered.find("trade", "market-")
    lines = tampered.lines(stream)
    lines[seq - 1], lines[seq] = lines[seq], lines[seq - 1]
    tampered.write(stream, lines)
    stream_, seq_, message = first_fault(demo_export)
    assert (stream_, seq_) == (stream, seq)
    assert "out of order" in message


def test_a_rewritten_stream_is_caught_against_a_head_published_before(
    seeded: Database, demo_export: Path, tmp_path: Path
) -> None:
    published = heads_from_json(json.loads((demo_export / "manifest.json").read_text()))
    tampered = Export(demo_export)
    stream, seq = tampered.find("trade", "market-")
    data = tampered.record(stream, seq)["data"]
    # the attacker rewrites the history consistently: here the whole trade is removed
    tampered.resealed_without(stream, seq)
    assert first_fault(demo_export, published)[0] == stream
    copy = tmp_path / "honest"
    export(seeded, copy)
    assert verify(DirectorySource(copy), published).ok
    assert data  # the trade existed


def test_a_stream_dropped_from_the_export_is_caught(demo_export: Path) -> None:
    published = heads_from_json(json.loads((demo_export / "manifest.json").read_text()))
    tampered = Export(demo_export)
    stream, _ = tampered.find("trade", "market-")
    tampered.manifest["streams"] = [
        h for h in tampered.manifest["streams"] if h["stream"] != stream
    ]
    (demo_export / "manifest.json").write_text(json.dumps(tampered.manifest))
    tampered.path(stream).unlink()
    assert first_fault(demo_export, published)[:2] == (stream, 0)


def test_the_database_itself_is_checked_against_its_tables(seeded: Database) -> None:
    with seeded.write() as session:
        account = session.scalar(select(func.min(CashBalance.account_id)))
        session.execute(
            update(CashBalance)
            .where(CashBalance.account_id == account)
            .values(cash_micros=CashBalance.cash_micros + 1)
        )
    report = verify_database(seeded)
    assert report.disagreement is not None
    assert report.disagreement.seq == 0
    assert f"account {account}" in report.disagreement.message
    assert verify_database(seeded, replay=False).ok  # the chains themselves are intact
