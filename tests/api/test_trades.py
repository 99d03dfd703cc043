"""Quotes and trades over HTTP: exact LMSR charges, spends, sales, limits, refusals, replays,
holdings and price history; concurrent trades through the API keep conservation."""

from __future__ import annotations

import math
import random
import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.idempotency import REPLAY_HEADER
from db.session import Database
from db.types import utcnow
from market.conservation import check_conservation
from market.models import AssetKind, Trade
from market.proposals import create_proposal
from tests.api.conftest import UNIT, Demo, Response, post, proposal_spec
from tests.helpers import adopt_metric, auth

B = math.floor(50 * UNIT / math.log(2)) / UNIT
"""The demo markets' liquidity b (F = 50, two outcomes), units."""


def _micros(text: str) -> int:
    return int(Decimal(text) * UNIT)


def _buy_cost(shares: float, q_long: float = 0.0) -> float:
    """``C(q + s·e_LONG) − C(q)`` for a binary LMSR with q_SHORT = 0, units (float)."""
    return B * math.log((math.exp((q_long + shares) / B) + 1) / (math.exp(q_long / B) + 1))


def _split(client: TestClient, demo: Demo, key: str, amount: str = "50") -> None:
    assert (
        post(client, f"/proposals/{demo.proposal_id}/split", key, {"amount": amount}).status_code
        == 200
    )


def _snapshot(client: TestClient, demo: Demo, key: str) -> dict[str, Any]:
    return {
        "balances": client.get("/me/balances", headers=auth(key)).json(),
        "positions": client.get("/me/positions", headers=auth(key)).json()["positions"],
        "market": client.get(f"/markets/{demo.market_ids[0]}", headers=auth(key)).json(),
    }


def test_quote_prices_exactly_and_changes_nothing(client: TestClient, demo: Demo) -> None:
    alice = demo.trader_keys[0]
    market = demo.market_ids[0]
    before = _snapshot(client, demo, alice)
    quoted = client.post(
        f"/markets/{market}/quote",
        json={"outcome": 0, "side": "buy", "shares": "5"},
        headers=auth(alice),
    )
    assert quoted.status_code == 200
    body = quoted.json()
    exact = _buy_cost(5) * UNIT
    assert 0 <= _micros(body["cash"]) - exact <= 2  # rounded up, in the maker's favour
    assert body["outcome_name"] == "LONG"
    assert body["prices_before"] == [0.5, 0.5]
    p_after = math.exp(5 / B) / (math.exp(5 / B) + 1)
    assert math.isclose(body["prices_after"][0], p_after, rel_tol=1e-9)
    assert _micros(body["average_price"]) == -(-_micros(body["cash"]) * UNIT // (5 * UNIT))
    assert _snapshot(client, demo, alice) == before


def test_buy_then_sell_moves_branch_cash_positions_and_prices(
    client: TestClient, db: Database, demo: Demo
) -> None:
    alice = demo.trader_keys[0]
    market = demo.market_ids[0]
    _split(client, demo, alice)
    bought = post(
        client, f"/markets/{market}/trades", alice, {"outcome": 0, "side": "buy", "shares": "5"}
    )
    assert bought.status_code == 201, bought.json()
    trade = bought.json()
    cost = _micros(trade["cash"])
    assert 0 <= cost - _buy_cost(5) * UNIT <= 2
    assert _micros(trade["branch_cash_after"]) == 50 * UNIT - cost
    assert trade["position_after"] == "5"

    state = client.get(f"/markets/{market}", headers=auth(alice)).json()
    assert state["shares_outstanding"] == ["5", "0"]
    assert state["trade_count"] == 1
    assert state["prices"] == trade["prices_after"]
    assert math.isclose(state["expected_welfare"], 100 * state["prices"][0])
    assert _micros(state["maker_cash"]) == 50 * UNIT + cost

    sold = post(
        client, f"/markets/{market}/trades", alice, {"outcome": 0, "side": "sell", "shares": "5"}
    )
    assert sold.status_code == 201, sold.json()
    proceeds = _micros(sold.json()["cash"])
    assert cost - 3 <= proceeds <= cost  # no profit from buy-then-sell
    assert sold.json()["position_after"] == "0"
    assert _micros(sold.json()["branch_cash_after"]) == 50 * UNIT - cost + proceeds

    assert client.get("/me/positions", headers=auth(alice)).json() == {
        "positions": [],
        "next_after_id": None,
    }
    mine = client.get("/me/trades", headers=auth(alice)).json()
    assert [(t["side"], t["shares"]) for t in mine["trades"]] == [("buy", "5"), ("sell", "5")]
    assert mine["trades"][0]["trade_id"] == trade["trade_id"]
    history = client.get(f"/markets/{market}/prices", headers=auth(alice)).json()
    assert [p["trade_id"] for p in history["points"]] == [t["trade_id"] for t in mine["trades"]]
    assert history["outcomes"] == ["LONG", "SHORT"]
    page = client.get(f"/markets/{market}/prices?limit=1", headers=auth(alice)).json()
    assert page["next_after_id"] == trade["trade_id"]
    with db.read() as session:
        assert check_conservation(session).ok


def test_buy_by_spend_pays_at_most_the_amount(client: TestClient, demo: Demo) -> None:
    bob = demo.trader_keys[1]
    market = demo.market_ids[2]
    _split(client, demo, bob, "20")
    spent = post(
        client, f"/markets/{market}/trades", bob, {"outcome": 1, "side": "buy", "spend": "10"}
    )
    assert spent.status_code == 201, spent.json()
    body = spent.json()
    assert 9.99 * UNIT < _micros(body["cash"]) <= 10 * UNIT
    shares = _micros(body["shares"]) / UNIT
    assert 0 <= _micros(body["cash"]) - _buy_cost(shares) * UNIT <= 2
    positions = client.get("/me/positions", headers=auth(bob)).json()["positions"]
    assert positions == [
        {
            "market_id": market,
            "proposal_id": demo.proposal_id,
            "branch_index": 2,
            "branch_name": "Status quo",
            "outcome": 1,
            "outcome_name": "SHORT",
            "shares": body["shares"],
        }
    ]


def test_refused_trades_change_nothing(client: TestClient, demo: Demo) -> None:
    alice = demo.trader_keys[0]
    market = demo.market_ids[0]
    _split(client, demo, alice, "1")
    before = _snapshot(client, demo, alice)
    path = f"/markets/{market}/trades"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"outcome": 0, "side": "buy", "shares": "5"}, 409, "hold only 1"),
        ({"outcome": 0, "side": "sell", "shares": "1"}, 409, "hold only 0"),
        ({"outcome": 0, "side": "buy", "shares": "1", "max_average_price": "0.5"}, 409, "price"),
        ({"outcome": 0, "side": "buy", "shares": "1", "max_cost": "0.4"}, 409, ""),
        ({"outcome": 2, "side": "buy", "shares": "1"}, 422, "outcome"),
        ({"outcome": 0, "side": "buy", "shares": "1", "spend": "1"}, 422, "not both"),
        ({"outcome": 0, "side": "buy"}, 422, ""),
        ({"outcome": 0, "side": "sell", "spend": "1"}, 422, "only a buy"),
        ({"outcome": 0, "side": "hold", "shares": "1"}, 422, "side"),
        ({"outcome": 0, "side": "buy", "shares": "NaN"}, 422, "shares: "),
        ({"outcome": 0, "side": "buy", "shares": "1e2"}, 422, "exponent"),
        ({"outcome": 0, "side": "buy", "shares": "0.0000001"}, 422, "decimals"),
        ({"outcome": 0, "side": "buy", "shares": "-1"}, 422, "negative"),
        ({"outcome": 0, "side": "buy", "shares": "10000000000"}, 422, "too large"),
        ({"outcome": -1, "side": "buy", "shares": "1"}, 422, "outcome"),
    ]
    for body, status, fragment in cases:
        refused = post(client, path, alice, body)
        assert refused.status_code == status, (body, refused.json())
        assert refused.headers["content-type"] == "application/problem+json"
        assert fragment in refused.json()["detail"], (body, refused.json())
    assert (
        post(
            client, "/markets/999999/trades", alice, {"outcome": 0, "side": "buy", "shares": "1"}
        ).status_code
        == 404
    )
    assert (
        post(client, path, demo.admin_key, {"outcome": 0, "side": "buy", "shares": "1"}).status_code
        == 403
    )
    assert client.post(path, json={"outcome": 0, "side": "buy", "shares": "1"}).status_code == 401
    no_idem = client.post(
        path, json={"outcome": 0, "side": "buy", "shares": "0.1"}, headers=auth(alice)
    )
    assert no_idem.status_code == 400
    assert _snapshot(client, demo, alice) == before


def test_a_market_whose_window_has_not_opened_refuses_trades(
    client: TestClient, db: Database, demo: Demo
) -> None:
    now = utcnow()
    with db.write() as session:
        later = create_proposal(
            session,
            demo.admin_id,
            proposal_spec(opens_at=now + timedelta(hours=1), closes_at=now + timedelta(days=1)),
        )
    alice = demo.trader_keys[0]
    read = client.get(f"/proposals/{later.id}", headers=auth(alice)).json()
    market = read["markets"][0]
    assert market["trading"] is False
    assert post(client, f"/proposals/{later.id}/split", alice, {"amount": "5"}).status_code == 200
    refused = post(
        client,
        f"/markets/{market['id']}/trades",
        alice,
        {"outcome": 0, "side": "buy", "shares": "1"},
    )
    assert refused.status_code == 409
    assert "does not trade yet" in refused.json()["detail"]


def test_a_retried_trade_is_the_same_trade(client: TestClient, db: Database, demo: Demo) -> None:
    alice = demo.trader_keys[0]
    _split(client, demo, alice)
    path = f"/markets/{demo.market_ids[1]}/trades"
    order = {"outcome": 0, "side": "buy", "shares": "2"}
    first = post(client, path, alice, order, idem="t-1")
    again = post(client, path, alice, order, idem="t-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers[REPLAY_HEADER] == "true"
    other = post(client, path, alice, {**order, "shares": "3"}, idem="t-1")
    assert other.status_code == 422
    with db.read() as session:
        assert session.scalar(select(func.count(Trade.id))) == 1


def test_concurrent_trades_through_the_api_keep_conservation(
    client: TestClient, db: Database, demo: Demo
) -> None:
    """4 threads × 12 random trades (2 traders, all branches) plus retried keys."""
    for key in demo.trader_keys:
        _split(client, demo, key)
    acknowledged: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        key = demo.trader_keys[seed % 2]
        for _ in range(12):
            market = rng.choice(demo.market_ids)
            side = rng.choice(["buy", "buy", "sell"])
            order = {
                "outcome": rng.randrange(2),
                "side": side,
                "shares": f"{rng.randrange(1, 30) / 10}",
            }
            idem = uuid.uuid4().hex
            response: Response = post(client, f"/markets/{market}/trades", key, order, idem=idem)
            if response.status_code == 201:
                replay = post(client, f"/markets/{market}/trades", key, order, idem=idem)
                with lock:
                    acknowledged.append(response.json()["trade_id"])
                    if replay.content != response.content:
                        failures.append("replay differs")
            elif response.status_code != 409:  # selling shares not held is a fair refusal
                with lock:
                    failures.append(f"{response.status_code}: {response.text}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert acknowledged
    with db.read() as session:
        stored = session.scalars(select(Trade.id).order_by(Trade.id)).all()
        report = check_conservation(session)
    assert sorted(acknowledged) == list(stored)
    assert report.ok, report.problems


def test_buying_a_bin_moves_the_expected_welfare_toward_it(
    client: TestClient, db: Database, demo: Demo
) -> None:
    with db.write() as session:
        adopt_metric(session, hi=40.0, name="Welfare on [0, 40]", motion_id=2)
        binned = create_proposal(
            session,
            demo.admin_id,
            proposal_spec(
                alternatives=("Reform",),
                asset_kind=AssetKind.BINNED,
                lo=0.0,
                hi=40.0,
                bin_edges=(0.0, 10.0, 20.0, 40.0),
            ),
        )
    alice = demo.trader_keys[0]
    assert post(client, f"/proposals/{binned.id}/split", alice, {"amount": "30"}).status_code == 200
    before = client.get(f"/proposals/{binned.id}", headers=auth(alice)).json()["markets"][0]
    assert math.isclose(before["expected_welfare"], (5 + 15 + 30) / 3)
    bought = post(
        client,
        f"/markets/{before['id']}/trades",
        alice,
        {"outcome": 2, "side": "buy", "spend": "20"},
    )
    assert bought.status_code == 201, bought.json()
    assert bought.json()["outcome_name"] == "[20, 40]"
    after = client.get(f"/markets/{before['id']}", headers=auth(alice)).json()
    assert after["prices"][2] > 1 / 3
    assert after["expected_welfare"] > before["expected_welfare"]
    expected = sum(p * m for p, m in zip(after["prices"], (5, 15, 30), strict=True))
    assert math.isclose(after["expected_welfare"], expected, rel_tol=1e-12)


def test_positions_are_paged_by_whole_markets(client: TestClient, demo: Demo) -> None:
    """Bob holds both outcomes in branch 0 and LONG in branch 2: with limit=1 the first page
    is market 0's two positions, the second market 2's one, and then the cursor is null."""
    bob = demo.trader_keys[1]
    _split(client, demo, bob, "20")
    first, _, last = demo.market_ids
    for market, outcome in [(first, 0), (first, 1), (last, 0)]:
        order = {"outcome": outcome, "side": "buy", "shares": "1"}
        assert post(client, f"/markets/{market}/trades", bob, order).status_code == 201
    page1 = client.get("/me/positions?limit=1", headers=auth(bob)).json()
    assert [(p["market_id"], p["outcome"]) for p in page1["positions"]] == [(first, 0), (first, 1)]
    assert page1["next_after_id"] == first
    page2 = client.get(f"/me/positions?limit=1&after_id={first}", headers=auth(bob)).json()
    assert [(p["market_id"], p["outcome"]) for p in page2["positions"]] == [(last, 0)]
    assert page2["next_after_id"] == last
    page3 = client.get(f"/me/positions?limit=1&after_id={last}", headers=auth(bob)).json()
    assert page3 == {"positions": [], "next_after_id": None}
