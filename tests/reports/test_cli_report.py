"""``futarchy report PROPOSAL --format html|json|md --out FILE``, run through the entry
point `api.cli.main`: the file holds the same report as the API; bad input is one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from db.session import Database
from tests.reports.helpers import traded

Run = tuple[int, str, str]


@pytest.fixture
def futarchy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``futarchy(*args) -> (exit code, stdout, stderr)``."""
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(*args: str) -> Run:
        monkeypatch.setattr(sys, "argv", ["futarchy", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        code = exited.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


def test_each_format_is_written_to_the_file(futarchy: Any, db: Database, tmp_path: Path) -> None:
    t = traded(db)
    pid = str(t.world.proposal_id)
    for fmt, check in (
        ("html", lambda text: text.startswith("<!doctype html>") and "<svg" in text),
        ("json", lambda text: json.loads(text)["total_trades"] == 4),
        ("md", lambda text: text.startswith("# Policy-decision report: Raise the school")),
    ):
        out = tmp_path / f"report.{fmt}"
        code, stdout, stderr = futarchy(
            "report", pid, "--format", fmt, "--out", str(out), "--database-url", db.url
        )
        assert (code, stderr) == (0, ""), stderr
        assert stdout.startswith(f"report of proposal {pid} ({fmt}, ")
        assert stdout.endswith(f"4 trades) written to {out}\n")
        assert check(out.read_text(encoding="utf-8"))


def test_without_out_the_report_goes_to_stdout(futarchy: Any, db: Database) -> None:
    t = traded(db)
    code, stdout, stderr = futarchy(
        "report", str(t.world.proposal_id), "-f", "json", "--database-url", db.url
    )
    assert (code, stderr) == (0, "")
    assert json.loads(stdout)["proposal_id"] == t.world.proposal_id


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["4242"], 1, "error: no proposal with id 4242\n"),
        (["1", "--format", "pdf"], 2, "error: Invalid value for '--format' / '-f': "),
        (["0"], 2, "error: Invalid value for 'proposal': "),
        (["abc"], 2, "error: Invalid value for 'proposal': "),
        (["1", "--out", "/no-such-dir/r.html"], 1, "error: cannot write /no-such-dir/r.html: "),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    futarchy: Any, sqlite_db: Database, args: list[str], code: int, error: str
) -> None:
    traded(sqlite_db)  # proposal 1 exists: only the input is wrong
    got, stdout, stderr = futarchy("report", *args, "--database-url", sqlite_db.url)
    assert (got, stdout) == (code, "")
    assert stderr.startswith(error)
    assert stderr.count("\n") == 1
