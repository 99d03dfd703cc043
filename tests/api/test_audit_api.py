"""The audit log over HTTP and on the command line: public heads and events, the
server's own verification, ``futarchy audit heads|export|verify``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.seed import seed_demo
from db.audit_chain import GENESIS, body_hash
from db.session import Database

Run = tuple[int, str, str]


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.write() as session:
        seed_demo(session)
    return db


def test_heads_and_events_are_public_and_chain(client: TestClient, seeded: Database) -> None:
    page = client.get("/audit/streams").json()
    governance = page["streams"][0]
    assert governance["stream"] == "governance"
    assert governance["seq"] > 0
    markets = [h for h in page["streams"] if h["stream"].startswith("market-")]
    assert markets
    assert page["next_after_id"] is None
    prev, seq = GENESIS, 0
    while True:
        events = client.get(f"/audit/streams/governance?after={seq}&limit=1000").json()
        for event in events["events"]:
            record = json.loads(event["body"])
            assert record["prev"] == prev
            assert record["seq"] == seq + 1
            assert event["hash"] == body_hash(event["body"])
            assert event["kind"] == record["kind"]
            prev, seq = event["hash"], event["seq"]
        if events["next_after"] is None:
            break
    assert (seq, prev) == (governance["seq"], governance["hash"])


def test_heads_page_by_market_id(client: TestClient, seeded: Database) -> None:
    first = client.get("/audit/streams?limit=1").json()
    assert [h["stream"] for h in first["streams"]] == ["governance", "market-1"]
    assert first["next_after_id"] == 1
    second = client.get("/audit/streams?after_id=1&limit=1").json()
    assert [h["stream"] for h in second["streams"]] == ["market-2"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/audit/streams/market-999999", 404),
        ("/audit/streams/market-9999999999", 404),
        ("/audit/streams/market-99999999999", 422),
        ("/audit/streams/market-0", 422),
        ("/audit/streams/nothing", 422),
        ("/audit/streams/governance?after=-1", 422),
        ("/audit/streams/governance?since=1", 422),
    ],
)
def test_bad_stream_requests_are_problems(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_the_server_verifies_itself(client: TestClient, seeded: Database) -> None:
    report = client.get("/audit/verify").json()
    assert report["ok"] is True, report
    assert report["disagreement"] is None
    assert report["decisions_checked"] == 1
    assert report["settlements_checked"] == 1
    chain = client.get("/audit/verify?chain_only=true").json()
    assert chain["ok"] is True
    assert chain["events"] == report["events"]
    assert chain["trades_checked"] == 0


@pytest.fixture
def futarchy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``futarchy(*args) -> (exit code, stdout, stderr)``, in process."""
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(*args: str) -> Run:
        monkeypatch.setattr(sys, "argv", ["futarchy", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        code = exited.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


def test_export_publish_and_verify_on_the_command_line(
    futarchy: Any, seeded: Database, tmp_path: Path
) -> None:
    url = seeded.url
    code, out, err = futarchy(
        "audit", "heads", "--out", str(tmp_path / "heads.json"), "--database-url", url
    )
    assert (code, err) == (0, "")
    assert "wrote the heads of" in out
    code, out, err = futarchy("audit", "export", str(tmp_path / "x"), "--database-url", url)
    assert code == 0, err
    assert out.startswith("exported ")
    assert out.rstrip().endswith(str(tmp_path / "x"))
    code, out, err = futarchy(
        "audit",
        "verify",
        "--from",
        str(tmp_path / "x"),
        "--published",
        str(tmp_path / "heads.json"),
    )
    assert code == 0, err
    assert "everything agrees" in out
    assert "1 decisions and 1 settlements" in out
    code, out, err = futarchy("audit", "verify", "--database-url", url)
    assert code == 0, err
    # an edited line: one line on stderr naming the stream and event, exit 1
    stream = tmp_path / "x" / "streams" / "governance.jsonl"
    lines = stream.read_text().splitlines()
    lines[0] = lines[0].replace('"seq":1', '"seq":1 ')
    stream.write_text("\n".join(lines) + "\n")
    code, out, err = futarchy("audit", "verify", "--from", str(tmp_path / "x"))
    assert code == 1
    assert out == ""
    assert err.startswith("error: governance #1: ")
    assert err.count("\n") == 1


def test_cli_refusals_are_one_line(futarchy: Any, seeded: Database, tmp_path: Path) -> None:
    code, _, err = futarchy("audit", "verify", "--from", str(tmp_path / "missing"))
    assert code == 2
    assert err.startswith("error: ")
    assert "not an audit export" in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    code, _, err = futarchy("audit", "export", str(tmp_path / "full"), "--database-url", seeded.url)
    assert code == 2
    assert "is not an empty directory" in err
    (tmp_path / "bad.json").write_text('{"streams": [{"stream": "x", "seq": 1, "hash": ""}]}')
    code, _, err = futarchy(
        "audit", "verify", "--published", str(tmp_path / "bad.json"), "--database-url", seeded.url
    )
    assert code == 2
    assert "names no stream" in err
