"""Proposals over HTTP: creation (subsidy paid once, funded markets), reads, closing."""

from __future__ import annotations

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
    ]
    for body, fragment in cases:
        refused = post(client, "/proposals", key, body)
        assert refused.status_code == 422, (body, refused.json())
        assert refused.headers["content-type"] == "application/problem+json"
        assert fragment in refused.json()["detail"], (fragment, refused.json())
    assert _cash(db, admin_id) == 500 * UNIT
    assert client.get("/proposals", headers=auth(key)).json()["proposals"] == []


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
