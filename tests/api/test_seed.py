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
        assert session.scalar(select(func.count(Account.id))) == 1 + len(DEMO_TRADERS)
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
