"""Deciding over HTTP and from the command line: 409 before the decision time, one decision
for every caller afterwards, the crank, the timer.

The demo proposal (two alternatives and the status quo, F = 50, on [0, 100]) trades from an
hour ago until a day from now and decides at its close with the default rule. The API reads
the clock of `market.deciding`; the tests move it to just after the decision time.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import api.cli
from api.cli_decide import register
from api.routers.decisions import due_timer
from db.session import Database
from db.settings import Settings
from market import deciding
from market.decision import uniform
from market.proposals import get_proposal
from market.settlement_models import Decision
from tests.api.conftest import UNIT, Demo, post
from tests.helpers import auth

B = math.floor(50 * UNIT / math.log(2)) / UNIT
"""The demo markets' liquidity b = ⌊F / ln 2⌋ (F = 50), units: 72.134752."""

AFTER_30 = 100 / (1 + math.exp(-30 / B))
"""E[W] after buying 30 LONG from q = 0: 100 · p_LONG = 60.249894…"""

AVERAGE_30 = (sum(range(51, 61)) + 14 * AFTER_30) / 24
"""The average of a branch bought up by 30 LONG as the window opens: the observation climbs
by the cap of 1 per hour (51, …, 60), then stays at 60.249894… for 14 hours: 58.270772…"""


def _decides_at(db: Database, demo: Demo) -> datetime:
    with db.read() as session:
        decides_at = get_proposal(session, demo.proposal_id).decides_at
    assert decides_at is not None
    return decides_at


def _clock_at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    """Deciding's clock reads ``instant`` from now on."""
    monkeypatch.setattr(deciding, "utcnow", lambda: instant)


def _buy_long(client: TestClient, demo: Demo, branch: int, shares: str) -> None:
    alice = demo.trader_keys[0]
    split = post(client, f"/proposals/{demo.proposal_id}/split", alice, {"amount": "40"})
    assert split.status_code == 200, split.json()
    body = {"outcome": 0, "side": "buy", "shares": shares}
    bought = post(client, f"/markets/{demo.market_ids[branch]}/trades", alice, body)
    assert bought.status_code == 201, bought.json()


def test_before_the_decision_time_deciding_is_409_and_the_decision_404(
    client: TestClient, demo: Demo, db: Database
) -> None:
    alice = demo.trader_keys[0]
    stamp = re.escape(_decides_at(db, demo).isoformat().replace("+00:00", "Z"))
    early = client.post(f"/proposals/{demo.proposal_id}/decide", headers=auth(alice))
    assert early.status_code == 409
    assert early.headers["content-type"] == "application/problem+json"
    assert re.fullmatch(
        rf"proposal {demo.proposal_id} decides at {stamp}, in (23 h 59 min|1 d); it cannot be "
        "decided before then",
        early.json()["detail"],
    ), early.json()
    missing = client.get(f"/proposals/{demo.proposal_id}/decision", headers=auth(alice))
    assert missing.status_code == 404
    assert re.match(
        rf"proposal {demo.proposal_id} is not decided yet; it decides at {stamp}, in ",
        missing.json()["detail"],
    )
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 0


def test_any_caller_decides_once_the_time_has_come_and_everyone_gets_that_decision(
    client: TestClient, demo: Demo, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = demo.trader_keys
    _buy_long(client, demo, 1, "30")  # branch 1 ("Leave at 18") up from 50 to 60.25
    decides_at = _decides_at(db, demo)
    _clock_at(monkeypatch, decides_at + timedelta(seconds=1))
    decided = client.post(f"/proposals/{demo.proposal_id}/decide", headers=auth(bob))
    assert decided.status_code == 200, decided.json()
    decision = decided.json()
    proposal = client.get(f"/proposals/{demo.proposal_id}", headers=auth(bob)).json()
    assert proposal["status"] == "decided"
    assert decision["proposal_id"] == demo.proposal_id
    assert decision["rule"] == proposal["decision_rule"]
    assert decision["rule_hash"] == proposal["decision_rule_hash"]
    assert decision["decided_by_account_id"] == demo.trader_ids[1]
    branches = decision["branches"]
    assert [b["branch_name"] for b in branches] == ["Leave at 17", "Leave at 18", "Status quo"]
    assert [b["market_id"] for b in branches] == list(demo.market_ids)
    assert branches[0]["averaged_welfare"] == branches[2]["averaged_welfare"] == 50.0
    # the buy came an instant after the window opened (`AVERAGE_30`)
    assert round(AVERAGE_30, 6) == 58.270772
    assert branches[1]["averaged_welfare"] == pytest.approx(AVERAGE_30, rel=1e-12)
    for branch in branches:
        assert branch["averaged_price"] == pytest.approx(branch["averaged_welfare"] / 100)
    assert decision["status_quo_index"] == 2
    assert decision["best_alternative_index"] == decision["greedy_index"] == 1
    assert decision["margin"] == pytest.approx(branches[1]["averaged_welfare"] - 50.0)
    assert decision["threshold"] == 0.0
    assert decision["distribution"] == [0.0, 1.0, 0.0]
    assert (decision["executed_index"], decision["executed_branch"]) == (1, "Leave at 18")
    assert [b["executed"] for b in branches] == [False, True, False]
    assert (decision["explored"], decision["settles"]) == (False, True)
    assert decision["exploration_mode"] == "none"
    seed = bytes.fromhex(decision["seed"])
    assert hashlib.sha256(seed).hexdigest() == decision["seed_commitment"]
    assert decision["seed_commitment"] == proposal["seed_commitment"]
    assert decision["u"] == uniform(seed, demo.proposal_id)
    assert proposal["seed"] == decision["seed"]  # revealed with the decision

    # again, by anyone, and read back: the same decision
    again = client.post(f"/proposals/{demo.proposal_id}/decide", headers=auth(demo.admin_key))
    assert (again.status_code, again.json()) == (200, decision)
    read = client.get(f"/proposals/{demo.proposal_id}/decision", headers=auth(alice))
    assert (read.status_code, read.json()) == (200, decision)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 1

    # trading stopped with the decision; the lifecycle never goes back
    body = {"outcome": 0, "side": "buy", "shares": "1"}
    late = post(client, f"/markets/{demo.market_ids[0]}/trades", alice, body)
    assert late.status_code == 409
    closing = client.post(f"/proposals/{demo.proposal_id}/close", headers=auth(demo.admin_key))
    assert closing.status_code == 409
    assert "is decided; it cannot be closed again" in closing.json()["detail"]
    listed = client.get("/proposals?status=decided", headers=auth(alice)).json()["proposals"]
    assert [p["id"] for p in listed] == [demo.proposal_id]


def test_the_crank_advances_quiet_averages_for_any_caller(
    client: TestClient, demo: Demo, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _buy_long(client, demo, 0, "30")
    decides_at = _decides_at(db, demo)
    _clock_at(monkeypatch, decides_at - timedelta(hours=12))
    cranked = client.post(f"/proposals/{demo.proposal_id}/crank", headers=auth(demo.trader_keys[1]))
    assert cranked.status_code == 200, cranked.json()
    result = cranked.json()
    assert result["advanced"] is True
    assert datetime.fromisoformat(result["at"]) == decides_at - timedelta(hours=12)
    branch, other, status_quo = result["branches"]
    assert branch["live_welfare"] == pytest.approx(AFTER_30, rel=1e-12)
    assert branch["observation"] == branch["live_welfare"]  # reached after 11 intervals
    assert branch["average"] == pytest.approx(AVERAGE_30, rel=1e-12)
    assert other["average"] == status_quo["average"] == 50.0
    assert datetime.fromisoformat(branch["observed_at"]) == decides_at - timedelta(hours=12)
    # once decided the averages are frozen; the crank only reads them
    _clock_at(monkeypatch, decides_at)
    decision = client.post(f"/proposals/{demo.proposal_id}/decide", headers=auth(demo.admin_key))
    frozen = client.post(f"/proposals/{demo.proposal_id}/crank", headers=auth(demo.admin_key))
    assert frozen.status_code == 200
    assert frozen.json()["advanced"] is False
    averages = [b["average"] for b in frozen.json()["branches"]]
    assert averages == [b["averaged_welfare"] for b in decision.json()["branches"]]


def test_unknown_proposals_and_anonymous_callers(client: TestClient, demo: Demo) -> None:
    key = demo.trader_keys[0]
    for method, suffix in (("post", "decide"), ("get", "decision"), ("post", "crank")):
        unknown = client.request(method, f"/proposals/999999/{suffix}", headers=auth(key))
        assert unknown.status_code == 404, suffix
        assert unknown.json()["detail"] == "no proposal with id 999999"
        path = f"/proposals/{demo.proposal_id}/{suffix}"
        assert client.request(method, path).status_code == 401
        assert (
            client.request(method, f"/proposals/0/{suffix}", headers=auth(key)).status_code == 422
        )


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def futarchy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``futarchy(*args) -> (exit code, stdout, stderr)`` through `api.cli.main` with the
    decide commands registered (as the lead wires them)."""
    app = typer.Typer()
    register(app)
    monkeypatch.setattr(api.cli, "app", app)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["futarchy", *args])
        with pytest.raises(SystemExit) as exited:
            api.cli.main()
        out, err = capsys.readouterr()
        code = exited.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


def test_the_cli_decides_and_cranks_one_line_per_proposal(
    futarchy: Any, demo: Demo, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = str(demo.proposal_id)
    url = ("--database-url", db.url)
    code, out, err = futarchy("decide", pid, *url)
    assert (code, out) == (1, "")
    assert re.fullmatch(rf"error: proposal {pid} decides at \S+Z, in .*before then\n", err)
    code, out, err = futarchy("decide", "--due", *url)
    assert (code, out, err) == (0, "no proposal is due to be decided\n", "")
    code, out, err = futarchy("crank", pid, *url)
    assert (code, err) == (0, "")
    assert re.fullmatch(
        rf"proposal {pid} cranked: 'Leave at 17' 50, 'Leave at 18' 50, 'Status quo' 50 "
        r"\(averages at \S+Z if nothing trades until then\)\n",
        out,
    )
    code, out, err = futarchy("crank", *url)  # every undecided proposal
    assert (code, out.count("\n"), err) == (0, 1, "")

    _clock_at(monkeypatch, _decides_at(db, demo))
    code, out, err = futarchy("decide", "--due", *url)
    assert (code, err) == (0, "")
    assert out == (
        f"proposal {pid} decided: executes branch 2 'Status quo' (greedy 2, margin +0, settles)\n"
    )
    code, again, err = futarchy("decide", pid, *url)
    assert (code, again, err) == (0, out, "")  # the same decision
    code, out, err = futarchy("crank", pid, *url)
    assert code == 0
    assert out.startswith(f"proposal {pid} is decided (averages frozen): ")
    code, out, err = futarchy("crank", *url)
    assert (code, out) == (0, "no undecided proposal to crank\n")


def test_the_cli_refuses_in_one_line(futarchy: Any, db: Database) -> None:
    url = ("--database-url", db.url)
    code, out, err = futarchy("decide", "42", *url)
    assert (code, out, err) == (1, "", "error: no proposal with id 42\n")
    code, out, err = futarchy("crank", "42", *url)
    assert (code, out, err) == (1, "", "error: no proposal with id 42\n")
    code, out, err = futarchy("decide", *url)
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert "give a PROPOSAL id or --due" in err
    code, _, err = futarchy("decide", "42", "--due", *url)
    assert code == 2


# --- the timer ------------------------------------------------------------------------------


def test_the_timer_decides_due_proposals_and_is_off_by_default(
    demo: Demo, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(database_url=db.url).decide_due_every_seconds == 0
    monkeypatch.setenv("DECIDE_DUE_EVERY_SECONDS", "2.5")
    assert Settings(database_url=db.url).decide_due_every_seconds == 2.5
    with due_timer(db, 0) as off:
        assert off is None
    _clock_at(monkeypatch, _decides_at(db, demo) + timedelta(minutes=1))
    with due_timer(db, 0.05) as thread:
        assert thread is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.read() as session:
                if get_proposal(session, demo.proposal_id).status == "decided":
                    break
            time.sleep(0.05)
    assert not thread.is_alive()
    with db.read() as session:
        assert get_proposal(session, demo.proposal_id).status == "decided"
        decision = session.scalars(select(Decision)).one()
        assert decision.decided_by_account_id is None
