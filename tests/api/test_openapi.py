"""The OpenAPI document at /docs: every trading route declares its errors; money is a string."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import CurrentCaller
from api.openapi import contract
from db.session import Database
from db.settings import Settings
from tests.api.conftest import Demo, post
from tests.helpers import auth

MONEY_MOVING = {
    ("post", "/accounts/{account_id}/credit"),
    ("post", "/accounts/{account_id}/debit"),
    ("post", "/proposals/{proposal_id}/split"),
    ("post", "/proposals/{proposal_id}/merge"),
    ("post", "/proposals"),
    ("post", "/markets/{market_id}/trades"),
}

TRADING_PREFIXES = (
    "/proposals",
    "/markets",
    "/me",
    "/accounts/{account_id}/credit",
    "/accounts/{account_id}/debit",
)


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_every_trading_route_declares_its_errors_as_problem_json(openapi: dict[str, Any]) -> None:
    operations = [
        (method, path, op)
        for path, item in openapi["paths"].items()
        if path.startswith(TRADING_PREFIXES)
        for method, op in item.items()
    ]
    assert len(operations) >= 16
    for method, path, op in operations:
        errors = {code for code in op["responses"] if code.startswith("4")}
        assert "401" in errors, (method, path)
        assert "422" in errors, (method, path)  # every route takes a parameter or a body
        for code in errors:
            content = op["responses"][code].get("content", {})
            assert "application/problem+json" in content, (method, path, code)
        if (method, path) in MONEY_MOVING:
            assert "400" in errors, (method, path)
            headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in headers, (method, path)
    found = {(m, p) for m, p, _ in operations}
    assert found >= MONEY_MOVING


def test_amounts_are_decimal_strings_in_the_schema(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for name, field in [
        ("AmountIn", "amount"),
        ("CashRead", "cash"),
        ("TradeRead", "cash"),
        ("TradeRead", "average_price"),
        ("MarketRead", "liquidity"),
    ]:
        prop = schemas[name]["properties"][field]
        assert prop["type"] == "string", (name, field, prop)
        assert "pattern" in prop
    order = schemas["OrderIn"]["properties"]["shares"]
    assert "string" in str(order)


def test_markets_list_by_proposal(client: TestClient, demo: Demo) -> None:
    key = demo.trader_keys[0]
    listed = client.get(f"/markets?proposal_id={demo.proposal_id}", headers=auth(key)).json()
    assert [m["id"] for m in listed["markets"]] == list(demo.market_ids)
    assert listed["markets"][-1]["is_status_quo"] is True
    page = client.get("/markets?limit=2", headers=auth(key)).json()
    assert [m["id"] for m in page["markets"]] == list(demo.market_ids[:2])
    assert page["next_after_id"] == demo.market_ids[1]
    assert client.get("/markets/999999", headers=auth(key)).status_code == 404
    assert client.get("/markets/999999/prices", headers=auth(key)).status_code == 404


def test_ids_beyond_bigint_are_422_not_a_server_error(client: TestClient, demo: Demo) -> None:
    key = demo.trader_keys[0]
    huge = 2**31
    for path in (
        f"/markets/{huge}",
        f"/proposals/{huge}",
        f"/markets/{huge}/prices",
        f"/me/trades?market_id={huge}",
        f"/me/positions?proposal_id={huge}",
        f"/markets?after_id={huge}",
        "/markets/0",
    ):
        response = client.get(path, headers=auth(key))
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    order = {"outcome": 0, "side": "buy", "shares": "1"}
    assert post(client, f"/markets/{huge}/trades", key, order).status_code == 422
    assert post(client, f"/proposals/{huge}/split", key, {"amount": "1"}).status_code == 422
    big_outcome = post(
        client, f"/markets/{demo.market_ids[0]}/trades", key, {**order, "outcome": huge}
    )
    assert big_outcome.status_code == 422
    assert client.get(f"/markets/{huge - 1}", headers=auth(key)).status_code == 404


def test_no_two_routers_claim_one_method_and_path() -> None:
    """Routers are matched hot path first (`api.routers.HOT_PATH`); that is only a speed-up
    while no method and path pattern is declared twice."""
    from fastapi.routing import APIRoute

    from api.routers import HOT_PATH, all_routers

    routers = all_routers()
    claimed = [
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
    assert len(claimed) == len(set(claimed))
    assert [r.routes[0].path.split("/")[1] for r in routers[: len(HOT_PATH)]] == [
        "markets",
        "markets",
    ]


PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/audit/streams"),
    ("get", "/audit/streams/{stream}"),
    ("get", "/audit/verify"),
}
"""Operations anyone may call without a key (health, and the audit log: evidence for
outsiders)."""


def test_every_route_documents_its_errors(openapi: dict[str, Any]) -> None:
    """The gate against a route added without its errors: every operation documents each
    error status its shape implies, as problem+json. A key → 401; a path or query
    parameter or a body → 422; a JSON body → 400 (malformed JSON); an Idempotency-Key →
    400, required, at most 255 characters. No operation documents FastAPI's default
    ``application/json`` validation error."""
    operations = [
        (method, path, op)
        for path, item in openapi["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 50
    for method, path, op in operations:
        where = (method, path)
        responses = op["responses"]
        errors = {code for code in responses if code[0] in "45"}
        for code in errors:
            assert list(responses[code].get("content", {})) == ["application/problem+json"], (
                where,
                code,
            )
        if where not in PUBLIC:
            assert "401" in errors, where
        params = [p for p in op.get("parameters", []) if p["in"] in {"path", "query"}]
        body = op.get("requestBody", {}).get("content", {})
        if params or body:
            assert "422" in errors, where
        if "application/json" in body:
            assert "400" in errors, where
        for header in (p for p in op.get("parameters", []) if p["in"] == "header"):
            if header["name"] == "Idempotency-Key":
                assert header["required"] is True, where
                assert header["schema"]["maxLength"] == 255, where
                assert "400" in errors, where
    schemas = openapi.get("components", {}).get("schemas", {})
    assert "HTTPValidationError" not in schemas


careless = APIRouter()


@careless.get("/careless/{thing_id}")
def _careless(thing_id: int, _caller: CurrentCaller) -> dict[str, int]:
    return {"thing_id": thing_id}


def test_the_gate_would_catch_a_route_without_documented_errors(db: Database) -> None:
    """A route added with no ``responses=`` lacks the 401 the test above demands."""
    app = create_app(Settings(database_url=db.url), database=db)
    app.include_router(careless)
    responses = contract(app)["paths"]["/careless/{thing_id}"]["get"]["responses"]
    assert "401" not in responses
