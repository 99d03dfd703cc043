"""``GET /proposals/{id}/report``: content negotiation, ``?format=``, the documented errors,
and figures that agree with the trading routes (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from api.money import parse_micros
from api.routers.reports import negotiate
from reports import render_json
from tests.api.conftest import Demo, post
from tests.helpers import auth


def get(client: TestClient, demo: Demo, query: str = "", accept: str | None = None) -> Any:
    headers = auth(demo.trader_keys[0])
    if accept is not None:
        headers["Accept"] = accept
    return client.get(f"/proposals/{demo.proposal_id}/report{query}", headers=headers)


# --- negotiation (pure) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "json"),
        ("", "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        ("text/html", "html"),
        ("text/markdown", "md"),
        ("text/*", "html"),  # html and md tie at q=1: html comes first
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
        ("text/html;q=0.5, text/markdown", "md"),
        ("application/json;q=0.1, text/*;q=0.2", "html"),
        ("*/*;q=0.3, text/html;q=0", "json"),  # html refused outright
        ("TEXT/HTML", "html"),
        ("image/png", None),
        ("application/problem+json", None),
        ("text/html;q=0", None),
        ("text/html;q=abc", None),  # a malformed q drops the range
        ("garbage", None),
    ],
)
def test_negotiate(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


# --- the route -------------------------------------------------------------------------------


def test_the_report_needs_a_key(client: TestClient, demo: Demo) -> None:
    response = client.get(f"/proposals/{demo.proposal_id}/report")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_each_rendering_by_accept_and_format_wins(client: TestClient, demo: Demo) -> None:
    html = get(client, demo, accept="text/html")
    assert html.status_code == 200
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["content-security-policy"].startswith("default-src 'none'")
    assert html.headers["vary"] == "Accept"
    assert "<h1>School reform</h1>" in html.text
    assert 'id="no-trades"' in html.text  # nothing traded yet, and the page says so

    data = get(client, demo, accept="application/json")
    assert data.headers["content-type"] == "application/json"
    body = data.json()
    jsonschema_rs.validate(render_json.schema(), body)
    assert (body["proposal_id"], body["title"], body["has_trades"]) == (
        demo.proposal_id,
        "School reform",
        False,
    )
    assert body["alternatives"] == ["Leave at 17", "Leave at 18"]
    assert body["decision"]["state"] == "would_be"

    markdown = get(client, demo, accept="text/markdown")
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith("# Policy-decision report: School reform\n")

    assert get(client, demo).headers["content-type"] == "application/json"  # */*
    won = get(client, demo, query="?format=md", accept="text/html")
    assert won.headers["content-type"] == "text/markdown; charset=utf-8"
    rescued = get(client, demo, query="?format=html", accept="image/png")
    assert rescued.status_code == 200  # ?format= wins even over an Accept nothing meets


def test_an_accept_nothing_meets_is_406_in_words(client: TestClient, demo: Demo) -> None:
    response = get(client, demo, accept="image/png")
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["title"]) == (406, "Not acceptable")
    assert "application/json, text/html or text/markdown" in problem["detail"]


def test_an_unknown_proposal_is_404_and_a_bad_format_422(client: TestClient, demo: Demo) -> None:
    key = auth(demo.trader_keys[0])
    missing = client.get("/proposals/999999/report", headers=key)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no proposal with id 999999"
    for query in ("?format=pdf", "?format=", "?fromat=md"):
        response = client.get(f"/proposals/{demo.proposal_id}/report{query}", headers=key)
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/proposals/{2**31}/report", headers=key).status_code == 422


def test_the_report_agrees_with_the_trading_routes(client: TestClient, demo: Demo) -> None:
    alice, bob = demo.trader_keys
    for key in (alice, bob):
        assert post(
            client, f"/proposals/{demo.proposal_id}/split", key, {"amount": "40"}
        ).is_success
    bought = [
        post(client, f"/markets/{demo.market_ids[0]}/trades", alice, order).json()
        for order in (
            {"outcome": 0, "side": "buy", "shares": "12"},
            {"outcome": 0, "side": "buy", "shares": "3.5"},
        )
    ]
    sold = post(
        client,
        f"/markets/{demo.market_ids[0]}/trades",
        alice,
        {"outcome": 0, "side": "sell", "shares": "2"},
    ).json()
    other = post(
        client,
        f"/markets/{demo.market_ids[2]}/trades",
        bob,
        {"outcome": 1, "side": "buy", "shares": "4"},
    ).json()
    report = get(client, demo, accept="application/json").json()
    assert report["has_trades"] is True
    assert report["total_trades"] == 4
    first, second, status_quo = report["branches"]
    cash = [parse_micros(t["cash"], positive=False, allow_negative=True) for t in (*bought, sold)]
    assert first["activity"]["trades"] == 3
    assert parse_micros(first["activity"]["volume"]) == sum(abs(c) for c in cash)
    assert (first["activity"]["traders"], first["activity"]["top_trader_share"]) == (1, 1.0)
    assert second["activity"]["trades"] == 0
    assert status_quo["activity"]["volume"] == other["cash"]
    prices = client.get(f"/markets/{demo.market_ids[0]}", headers=auth(alice)).json()
    assert first["prices"] == [float(p) for p in prices["prices"]]
    kinds = {(f["kind"], f["branch_index"]) for f in report["flags"]}
    assert ("concentrated_trader", 0) in kinds
    assert ("thin_liquidity", 1) in kinds


def test_the_openapi_documents_every_rendering_and_error(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/proposals/{proposal_id}/report"][
        "get"
    ]
    assert operation["operationId"] == "get_proposal_report"
    ok = operation["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "text/html", "text/markdown"}
    assert ok["application/json"]["schema"] == json.loads(json.dumps(render_json.schema()))
    for code in ("401", "404", "406", "422"):
        assert list(operation["responses"][code]["content"]) == ["application/problem+json"]
    assert [p["name"] for p in operation["parameters"]] == ["proposal_id", "format"]
