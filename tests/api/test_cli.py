"""The `futarchy` command line, run in-process through its entry point `api.cli.main`.

Errors are one line on stderr (exit 1 for a refusal, 2 for a command line that does not
parse); ``issue-key`` prints the key alone; ``run`` prints each demo key once, on the start
that creates the account, and binds ``HOST``:``PORT`` from the environment.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.cli import main
from db.identity import ApiKey
from db.session import Database
from tests.helpers import MakeAccount, auth

Run = tuple[int, str, str]


@pytest.fixture
def futarchy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``futarchy(*args) -> (exit code, stdout, stderr)``; the server is never started,
    ``uvicorn.run``'s arguments are kept in ``futarchy.served``."""
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(kwargs))
    for name in ("DATABASE_URL", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)  # restored after the test (serve sets one)

    def run(*args: str) -> Run:
        monkeypatch.setattr(sys, "argv", ["futarchy", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        code = exited.value.code
        return (code if isinstance(code, int) else 1), out, err

    run.served = served  # type: ignore[attr-defined]
    return run


def test_issue_key_for_a_missing_account_is_one_line_on_stderr_and_exit_1(
    futarchy: Any, db: Database
) -> None:
    code, out, err = futarchy("admin", "issue-key", "ghost", "--database-url", db.url)
    assert (code, out, err) == (1, "", "error: no account named 'ghost'\n")


def test_issue_key_refuses_a_name_no_account_can_have_in_one_line(
    futarchy: Any, db: Database
) -> None:
    code, out, err = futarchy("admin", "issue-key", "gh\u200bost", "--database-url", db.url)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("error: the account name holds the invisible or direction-changing ")
    assert "U+200B" in err


def test_issue_key_prints_a_new_key_alone_and_it_works(
    futarchy: Any, db: Database, client: TestClient, make_account: MakeAccount
) -> None:
    _, first_key = make_account("trader", "alice")
    code, out, err = futarchy("admin", "issue-key", "alice", "--database-url", db.url)
    assert (code, err) == (0, "")
    key = out.removesuffix("\n")
    assert "\n" not in key
    assert key.startswith("fut_")
    assert key != first_key
    assert len(key) == 4 + 43
    assert client.get("/accounts/me", headers=auth(key)).json()["name"] == "alice"
    assert client.get("/accounts/me", headers=auth(first_key)).status_code == 200


def test_a_database_that_is_not_migrated_is_one_line_and_exit_1(
    futarchy: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, out, err = futarchy("admin", "issue-key", "alice", "--database-url", url)
    assert (code, out) == (1, "")
    assert err == (
        "error: the database refused: no such table: account "
        "(is it migrated? futarchy db upgrade)\n"
    )


def test_run_prints_every_demo_key_once_then_says_how_to_get_one(
    futarchy: Any, db: Database, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8123")
    code, first, err = futarchy("run", "--database-url", db.url)
    assert (code, err) == (0, "")
    key_lines = [line for line in first.splitlines() if "fut_" in line]
    names = [line.split()[0] for line in key_lines]
    assert names == [
        "admin",
        "councillor",
        "councillor-africa",
        "councillor-americas",
        "councillor-europe",
        "councillor-oceania",
        "alice",
        "bob",
        "carol",
    ]
    assert re.fullmatch(r"  admin \(admin\): fut_[A-Za-z0-9_-]{43}", key_lines[0])
    assert re.fullmatch(r"  carol \(trader\): fut_[A-Za-z0-9_-]{43}", key_lines[-1])
    admin_key = key_lines[0].split()[-1]
    assert client.get("/accounts/me", headers=auth(admin_key)).json()["name"] == "admin"
    assert "council: councillor votes for Asia (295 of 800 seats, from the seat of China)" in first
    assert "a motion passes when its ballots carry at least 400 of the 800 seats" in first
    assert "API docs: http://0.0.0.0:8123/docs" in first
    assert futarchy.served[-1]["host"] == "0.0.0.0"
    assert futarchy.served[-1]["port"] == 8123

    code, again, err = futarchy("run", "--database-url", db.url, "--port", "8124")
    assert (code, err) == (0, "")
    assert "fut_" not in again  # a restart mints no key
    assert "existing" in again.splitlines()[0]
    assert "For a new key: futarchy admin issue-key NAME" in again
    assert futarchy.served[-1]["port"] == 8124  # the option wins over PORT
    with db.read() as session:
        assert session.scalar(select(func.count(ApiKey.id))) == 9

    code, out, err = futarchy("admin", "issue-key", "councillor", "--database-url", db.url)
    assert (code, err) == (0, "")
    assert client.get("/accounts/me", headers=auth(out.strip())).json()["role"] == "council"


def test_serve_binds_host_and_port_from_the_environment(
    futarchy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert futarchy("serve")[0] == 0
    assert (futarchy.served[-1]["host"], futarchy.served[-1]["port"]) == ("127.0.0.1", 8000)
    monkeypatch.setenv("HOST", "::1")
    monkeypatch.setenv("PORT", "9001")
    assert futarchy("serve")[0] == 0
    assert (futarchy.served[-1]["host"], futarchy.served[-1]["port"]) == ("::1", 9001)

    for bad in ("abc", "0", "65536"):
        monkeypatch.setenv("PORT", bad)
        code, out, err = futarchy("serve")
        assert (code, out) == (2, "")
        assert err.startswith("error: Invalid value for '--port' (env var: 'PORT'): ")
        assert err.count("\n") == 1
    assert len(futarchy.served) == 2
