"""Proposals over HTTP: creation (subsidy paid once, funded markets), reads, closing."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from db.session import Database
from market import funding
from market.conservation import check_conservation
from tests.api.conftest import UNIT, Demo, post
from tests.helpers import MakeAccount, adopt_metric, auth


def _body(**changes: Any) -> dict[str, Any]:
    closes = datetime.now(UTC) + timedelta(days=2)
    return {
        "title": "Four-day week",
        "alternatives": ["Pilot", "Nationwide"],
        "lo": 0,
        "hi": 100,
        "closes_at": closes.isoformat(),
        "subsidy": "69.314718",
        **changes,
    }


def _funded_admin(
    db: Database, make_account: MakeAccount, cash: int = 500 * UNIT
) -> tuple[int, str]:
    """An admin holding ``cash``, with the metric in force on [0, 100]."""
    admin_id, key = make_account("admin")
    with db.write() as session:
        adopt_metric(session)
        funding.credit(session, admin_id, cash)
    return admin_id, key


def _cash(db: Database, account_id: int) -> int:
    with db.read() as session:
        return funding.balances(session, account_id).cash_micros


def test_create_opens_one_funded_market_per_branch_and_charges_f_once(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    admin_id, key = _funded_admin(db, make_account)
    created = post(client, "/proposals", key, _body(), idem="p1")
    assert created.status_code == 201, created.json()
    proposal = created.json()
    assert proposal["subsidy"] == "69.314718"
    assert proposal["collateral"] == "69.314718"
    assert proposal["sponsor_account_id"] == admin_id
    assert proposal["status"] == "open"
    markets = proposal["markets"]
    assert [m["branch_name"] for m in markets] == ["Pilot", "Nationwide", "Status quo"]
    assert [m["is_status_quo"] for m in markets] == [False, False, True]
    for market in markets:
        assert market["outcomes"] == ["LONG", "SHORT"]
        assert market["prices"] == [0.5, 0.5]
        assert market["expected_welfare"] == 50.0
        assert market["trading"] is True
        assert market["maker_cash"] == "69.314718"
        # b = floor(F / ln 2) micro-units
        assert market["liquidity"] == f"{math.floor(69_314_718 / math.log(2)) / UNIT:.6f}".rstrip(
            "0"
        )
    # the decision terms, fixed at creation: decide at the close, the default rule
    assert proposal["decides_at"] == proposal["closes_at"]
    assert proposal["decision_rule"] == {
        "window_seconds": 86_400,
        "interval_seconds": 3_600,
        "cap": 1.0,
        "threshold": 0.0,
        "epsilon": 0.0,
        "exploration_mode": "none",
    }
    assert len(proposal["decision_rule_hash"]) == len(proposal["seed_commitment"]) == 64
    assert proposal["seed"] is None  # secret until the decision
    assert proposal["settles_on"] is None
    assert proposal["liquidity"] == markets[0]["liquidity"]
    assert _cash(db, admin_id) == 500 * UNIT - 69_314_718
    # a retry (the same request, its time written differently) creates nothing new
    again = post(client, "/proposals", key, _body(closes_at=proposal["closes_at"]), idem="p1")
    assert again.status_code == 201
    assert again.content == created.content
    assert _cash(db, admin_id) == 500 * UNIT - 69_314_718
    listed = client.get("/proposals", headers=auth(key)).json()
    assert [p["id"] for p in listed["proposals"]] == [proposal["id"]]
    with db.read() as session:
        assert check_conservation(session).ok


def test_a_binned_proposal_prices_every_bin_and_reads_its_expected_welfare(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, key = _funded_admin(db, make_account)
    with db.write() as session:
        adopt_metric(session, hi=40.0, name="Welfare on [0, 40]", motion_id=2)
    created = post(
        client,
        "/proposals",
        key,
        _body(asset_kind="binned", lo=0, hi=40, bin_edges=[0, 10, 20, 40], alternatives=["A"]),
    )
    assert created.status_code == 201, created.json()
    market = created.json()["markets"][0]
    assert market["outcomes"] == ["[0, 10)", "[10, 20)", "[20, 40]"]
    assert math.isclose(sum(market["prices"]), 1.0)
    assert math.isclose(market["expected_welfare"], (5 + 15 + 30) / 3)


def test_malformed_definitions_are_422_and_charge_nothing(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    admin_id, key = _funded_admin(db, make_account)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    long_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        (_body(lo=100, hi=0), "lo = 100 differs from the tradable bounds [0, 100]"),
        (_body(hi=50), "hi = 50 differs from the tradable bounds [0, 100]"),
        (_body(lo="NaN"), "lo"),
        (_body(hi="Infinity"), "hi"),
        (_body(alternatives=[]), "between 1 and"),
        (_body(alternatives=["Same", "same"]), "appears twice"),
        (_body(alternatives=["Status quo"]), "appears twice"),
        (_body(opens_at=long_ago, closes_at=past), "has passed"),
        (_body(closes_at="2030-01-01T00:00:00"), "closes_at"),
        (_body(subsidy="-5"), "subsidy"),
        (_body(subsidy="1.0000001"), "subsidy"),
        (_body(subsidy=5), "subsidy"),
        (_body(asset_kind="binned"), "bin edges"),
        (_body(bin_edges=[0, 50, 100]), "scalar asset"),
        (_body(asset_kind="options"), "asset_kind"),
        (_body(title=" "), "title"),
        (_body(surprise=True), "surprise"),
        (_body(decides_at=past), "decides_at: the decision time"),
        (_body(decides_at="2030-01-01T00:00:00"), "decides_at"),
        (_body(decision={"cap": 0}), "decision.cap"),
        (_body(decision={"epsilon": 1}), "decision.epsilon"),
        (_body(decision={"epsilon": 0.2}), "decision.exploration_mode: exploration_mode must"),
        (_body(decision={"exploration_mode": "often"}), "decision.exploration_mode"),
        (
            _body(decision={"window_seconds": 5_000, "interval_seconds": 3_600}),
            "decision.window_seconds: window_seconds (5000) must be a whole multiple",
        ),
        (_body(decision={"window_seconds": 1.5}), "decision.window_seconds"),
        (_body(decision={"threshold": True}), "decision.threshold"),
        (_body(seed="abcd"), "seed"),
        (_body(seed="zz" * 16), "seed"),
        (_body(settles_on={"period": "2007-13"}), "settles_on.period"),
        (_body(settles_on={"entity": "World"}), "settles_on.period"),
        (_body(settles_on={"period": "2007", "cutoff": "soon"}), "settles_on.cutoff"),
    ]
    for body, fragment in cases:
        refused = post(client, "/proposals", key, body)
        assert refused.status_code == 422, (body, refused.json())
        assert refused.headers["content-type"] == "application/problem+json"
        assert fragment in refused.json()["detail"], (fragment, refused.json())
    assert _cash(db, admin_id) == 500 * UNIT
    assert client.get("/proposals", headers=auth(key)).json()["proposals"] == []


def test_a_proposal_states_its_decision_terms_and_keeps_its_seed_secret(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, key = _funded_admin(db, make_account)
    seed = "5eed" * 16
    decides = datetime.now(UTC) + timedelta(days=1)
    body = _body(
        decides_at=decides.isoformat(),
        decision={
            "window_seconds": 7_200,
            "cap": 0.5,
            "threshold": 2,
            "epsilon": 0.3,
            "exploration_mode": "ipw",
        },
        seed=seed.upper(),
        settles_on={"period": "2007", "cutoff": "2008-06-30"},
    )
    created = post(client, "/proposals", key, body)
    assert created.status_code == 201, created.json()
    proposal = created.json()
    assert proposal["decision_rule"] == {
        "window_seconds": 7_200,
        "interval_seconds": 3_600,
        "cap": 0.5,
        "threshold": 2.0,
        "epsilon": 0.3,
        "exploration_mode": "ipw",
    }
    assert datetime.fromisoformat(proposal["decides_at"]) == decides
    assert proposal["seed_commitment"] == hashlib.sha256(bytes.fromhex(seed)).hexdigest()
    assert proposal["seed"] is None
    assert proposal["settles_on"] == {
        "entity": "Testland",
        "period": "2007",
        "cutoff": "2008-06-30",
    }
    # exploration costs liquidity: d_min = 0.3 / 3 = 0.1, b = ⌊⌊F · 0.1⌋ / ln 2⌋
    assert proposal["liquidity"] == "9.999998"
    assert {m["liquidity"] for m in proposal["markets"]} == {"9.999998"}
    read = client.get(f"/proposals/{proposal['id']}", headers=auth(key)).json()
    assert read == {**proposal, "markets": read["markets"]}


def test_create_needs_an_admin_with_enough_cash(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, trader_key = make_account("trader")
    assert post(client, "/proposals", trader_key, _body()).status_code == 403
    admin_id, poor_key = _funded_admin(db, make_account, cash=10 * UNIT)
    short = post(client, "/proposals", poor_key, _body())
    assert short.status_code == 409
    assert "more than the sponsor's cash" in short.json()["detail"]
    assert _cash(db, admin_id) == 10 * UNIT
    assert client.post("/proposals", json=_body()).status_code == 401
    missing_key = client.post("/proposals", json=_body(), headers=auth(poor_key))
    assert missing_key.status_code == 400


def test_read_list_and_pages(client: TestClient, db: Database, make_account: MakeAccount) -> None:
    _, key = _funded_admin(db, make_account)
    ids = [post(client, "/proposals", key, _body(title=f"P{i}")).json()["id"] for i in range(3)]
    _, trader_key = make_account("trader")
    one = client.get(f"/proposals/{ids[1]}", headers=auth(trader_key))
    assert one.status_code == 200
    assert one.json()["title"] == "P1"
    first = client.get("/proposals?limit=2", headers=auth(trader_key)).json()
    assert [p["id"] for p in first["proposals"]] == ids[:2]
    assert first["next_after_id"] == ids[1]
    rest = client.get(f"/proposals?limit=2&after_id={ids[1]}", headers=auth(trader_key)).json()
    assert [p["id"] for p in rest["proposals"]] == ids[2:]
    assert rest["next_after_id"] is None
    assert client.get("/proposals/999999", headers=auth(trader_key)).status_code == 404
    assert client.get("/proposals?limit=0", headers=auth(trader_key)).status_code == 422
    assert client.get("/proposals?status=bogus", headers=auth(trader_key)).status_code == 422
    assert client.get("/proposals").status_code == 401


def test_close_stops_trading_and_splits_but_not_merges(client: TestClient, demo: Demo) -> None:
    alice = demo.trader_keys[0]
    pid = demo.proposal_id
    assert post(client, f"/proposals/{pid}/split", alice, {"amount": "10"}).status_code == 200
    assert client.post(f"/proposals/{pid}/close", headers=auth(alice)).status_code == 403
    closed = client.post(f"/proposals/{pid}/close", headers=auth(demo.admin_key))
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert {m["status"] for m in closed.json()["markets"]} == {"closed"}
    assert {m["trading"] for m in closed.json()["markets"]} == {False}
    again = client.post(f"/proposals/{pid}/close", headers=auth(demo.admin_key))
    assert again.status_code == 200
    market = demo.market_ids[0]
    order = {"outcome": 0, "side": "buy", "shares": "1"}
    trade = post(client, f"/markets/{market}/trades", alice, order)
    assert trade.status_code == 409
    assert "closed" in trade.json()["detail"]
    assert (
        client.post(f"/markets/{market}/quote", json=order, headers=auth(alice)).status_code == 409
    )
    assert post(client, f"/proposals/{pid}/split", alice, {"amount": "1"}).status_code == 409
    assert post(client, f"/proposals/{pid}/merge", alice, {"amount": "10"}).status_code == 200
    decided = client.get("/proposals?status=decided", headers=auth(alice))
    assert (decided.status_code, decided.json()["proposals"]) == (200, [])
    open_only = client.get("/proposals?status=open", headers=auth(alice)).json()
    assert open_only["proposals"] == []
    assert client.post("/proposals/999999/close", headers=auth(demo.admin_key)).status_code == 404


def test_a_proposal_binds_to_the_metric_version_in_force(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    admin_id, key = make_account("admin")
    with db.write() as session:
        funding.credit(session, admin_id, 500 * UNIT)
    bounds_left_out = {k: v for k, v in _body().items() if k not in ("lo", "hi")}
    refused = post(client, "/proposals", key, bounds_left_out)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "no adopted metric version is in force on" in refused.json()["detail"]
    with db.write() as session:
        metric = adopt_metric(session, lo=0.0, hi=1.0)
    unknown = post(client, "/proposals", key, {**bounds_left_out, "metric_version_id": "f" * 64})
    assert unknown.status_code == 404
    created = post(client, "/proposals", key, bounds_left_out)
    assert created.status_code == 201, created.json()
    proposal = created.json()
    assert (proposal["metric_version_id"], proposal["lo"], proposal["hi"]) == (metric, 0.0, 1.0)
    assert proposal["markets"][0]["expected_welfare"] == 0.5
    named = post(client, "/proposals", key, {**bounds_left_out, "metric_version_id": metric})
    assert named.status_code == 201
    assert _cash(db, admin_id) == 500 * UNIT - 2 * 69_314_718
