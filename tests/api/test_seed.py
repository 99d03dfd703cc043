"""The `make run` demo: created once, idempotent across restarts, its keys work."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.seed import (
    ADMIN_CASH,
    DEMO_SUBSIDY,
    DEMO_TRADERS,
    TRADER_CASH,
    TRADER_SPLIT,
    seed_demo,
)
from db.identity import Account
from db.session import Database
from market.conservation import check_conservation
from market.models import Proposal
from tests.helpers import auth


def test_the_demo_is_seeded_once_and_its_keys_work(client: TestClient, db: Database) -> None:
    with db.write() as session:
        first = seed_demo(session)
    with db.write() as session:
        second = seed_demo(session)
    assert first.created is True
    assert second.created is False
    assert second.proposal_id == first.proposal_id
    assert set(first.trader_keys) == set(DEMO_TRADERS)
    assert second.admin_key != first.admin_key  # a fresh key each start; both work
    with db.read() as session:
        assert session.scalar(select(func.count(Proposal.id))) == 1
        assert session.scalar(select(func.count(Account.id))) == 2 + len(DEMO_TRADERS)
        assert check_conservation(session).ok

    for key in (first.admin_key, second.admin_key):
        assert client.get("/accounts/me", headers=auth(key)).json()["role"] == "admin"
    admin = client.get("/me/balances", headers=auth(second.admin_key)).json()
    assert admin["cash"] == str((ADMIN_CASH - DEMO_SUBSIDY) // 1_000_000)

    proposal = client.get(f"/proposals/{first.proposal_id}", headers=auth(second.admin_key)).json()
    assert proposal["status"] == "open"
    assert [m["branch_name"] for m in proposal["markets"]] == [
        "Leave at 17",
        "Leave at 18",
        "Status quo",
    ]
    assert {m["trading"] for m in proposal["markets"]} == {True}

    alice = second.trader_keys["alice"]
    balances = client.get("/me/balances", headers=auth(alice)).json()
    assert balances["cash"] == str((TRADER_CASH - TRADER_SPLIT) // 1_000_000)
    assert {b["cash"] for b in balances["branches"]} == {str(TRADER_SPLIT // 1_000_000)}
    market = proposal["markets"][0]["id"]
    trade = client.post(
        f"/markets/{market}/trades",
        json={"outcome": 0, "side": "buy", "shares": "10"},
        headers={**auth(alice), "Idempotency-Key": "demo-1"},
    )
    assert trade.status_code == 201


def test_the_demo_council_adopted_the_gapminder_metric_the_proposal_trades(
    client: TestClient, db: Database
) -> None:
    with db.write() as session:
        report = seed_demo(session)
    with db.write() as session:
        again = seed_demo(session)
    assert again.metric_version_id == report.metric_version_id
    key = report.councillor_key
    version = client.get(f"/metric-versions/{report.metric_version_id}", headers=auth(key)).json()
    assert version["status"] == "adopted"
    assert version["name"] == "HDI-like welfare (gapminder demo)"
    motions = client.get("/council/motions", headers=auth(key)).json()["motions"]
    assert len(motions) == 1  # the restart filed no second motion
    assert motions[0]["id"] == version["adopted_by_motion_id"]
    assert motions[0]["result"]["outcome"] == "passed"
    members = client.get("/council/members", headers=auth(key)).json()
    assert len(members) == 142
    assert sum(m["seats"] for m in members) == 800
    seated = [m for m in members if m["account_id"] is not None]
    assert [m["name"] for m in seated] == ["China"]  # the most seats, held by the councillor
    proposal = client.get(f"/proposals/{report.proposal_id}", headers=auth(key)).json()
    assert proposal["metric_version_id"] == report.metric_version_id
    assert (proposal["lo"], proposal["hi"]) == (0.0, 1.0)
    assert {m["expected_welfare"] for m in proposal["markets"]} == {0.5}
    preview = client.post(
        "/measurements/preview",
        json={"version_id": report.metric_version_id, "period": "2007", "cutoff": "2010-01-01"},
        headers=auth(key),
    )
    assert preview.status_code == 200, preview.text
    assert 0.6 < preview.json()["value"] < 0.8
