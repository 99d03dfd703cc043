"""The request envelope and the protocol answers every route shares (issue 9).

Each test names what a user or an operator would notice: the request id they can quote,
the one log line per request, a problem+json for every error (even a bug's), the methods a
405 lists, what a malformed body or a NUL in the URL gets, and the health routes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from db.session import Database
from db.settings import Settings
from tests.helpers import MakeAccount, auth


@pytest.fixture
def app(db: Database) -> FastAPI:
    return create_app(Settings(database_url=db.url), database=db)


@pytest.fixture
def raw_client(app: FastAPI) -> Iterator[TestClient]:
    """A client that shows what a real client would get, server errors included."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_every_response_carries_a_request_id_and_a_sane_one_is_kept(
    raw_client: TestClient,
) -> None:
    fresh = raw_client.get("/healthz")
    assert len(fresh.headers["X-Request-ID"]) == 32
    kept = raw_client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
    assert kept.headers["X-Request-ID"] == "trace-42.a:b"
    replaced = raw_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert replaced.headers["X-Request-ID"] != "bad id with spaces"


def test_one_access_line_per_request_names_the_route_and_never_the_key(
    raw_client: TestClient, make_account: MakeAccount, caplog: pytest.LogCaptureFixture
) -> None:
    account_id, key = make_account("trader")
    with caplog.at_level(logging.INFO, logger="futarchy.access"):
        response = raw_client.get("/markets/123456", headers=auth(key))
    assert response.status_code == 404
    lines = [r for r in caplog.records if r.name == "futarchy.access"]
    assert len(lines) == 1
    line = json.loads(lines[0].getMessage())
    assert line["method"] == "GET"
    assert line["route"] == "/markets/{market_id}"
    assert line["status"] == 404
    assert line["account_id"] == account_id
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["ms"] >= 0
    assert key not in lines[0].getMessage()


def test_an_unexpected_error_is_a_problem_naming_the_request_and_is_logged(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    boom = APIRouter()

    @boom.get("/boom")
    def _boom() -> None:
        raise RuntimeError("a bug")

    app.include_router(boom)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="futarchy.error"),
    ):
        response = client.get("/boom")
        after = client.get("/healthz")  # the server (and the connection) carry on
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 500
    assert problem["request_id"] == response.headers["X-Request-ID"]
    assert problem["request_id"] in problem["detail"]
    assert any("a bug" in (r.exc_text or "") for r in caplog.records)
    assert after.status_code == 200


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/indicators/%00", "the path holds the control character U+0000"),
        ("/indicators/lifeExp/observations?entity=%00", "'entity' holds the control character"),
        ("/markets?proposal_id=1%01", "'proposal_id' holds the control character U+0001"),
    ],
)
def test_a_control_character_in_the_url_is_a_422_before_any_route_runs(
    raw_client: TestClient, make_account: MakeAccount, url: str, named: str
) -> None:
    _, key = make_account("trader")
    response = raw_client.get(url, headers=auth(key))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.json()["detail"]


def test_a_control_character_in_a_body_is_a_422_naming_the_field(
    raw_client: TestClient, make_account: MakeAccount
) -> None:
    _, key = make_account("admin")
    response = raw_client.post(
        "/indicators", json={"key": "x", "unit": "u\u0000", "description": "ok"}, headers=auth(key)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "unit"
    assert "U+0000" in response.json()["detail"]
    free_text = raw_client.post(
        "/indicators",
        json={"key": "x", "unit": "u", "description": "line one\r\nline two\tend"},
        headers=auth(key),
    )
    assert free_text.status_code == 201


def test_malformed_json_is_a_400_saying_so(
    raw_client: TestClient, make_account: MakeAccount
) -> None:
    _, key = make_account("admin")
    response = raw_client.post(
        "/accounts",
        content=b'{"name": "x",',
        headers={**auth(key), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("the body is not valid JSON")


def test_a_boolean_is_not_a_number(raw_client: TestClient, make_account: MakeAccount) -> None:
    _, key = make_account("admin")
    response = raw_client.post(
        "/council/members",
        json={"name": "France", "population": 1000, "contribution": False},
        headers=auth(key),
    )
    assert response.status_code == 422
    assert "a boolean is not a number" in response.json()["detail"]


def test_a_405_lists_every_method_the_path_takes(raw_client: TestClient) -> None:
    response = raw_client.delete("/proposals")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.headers["content-type"] == "application/problem+json"
    preview = raw_client.get("/measurements/preview")
    assert preview.status_code == 405
    assert preview.headers["Allow"] == "POST"


def test_huge_ids_are_a_422_not_a_database_error(
    raw_client: TestClient, make_account: MakeAccount
) -> None:
    _, key = make_account("admin")
    for url in ["/accounts/99999999999999999999", "/accounts/2147483648", "/accounts/-6227020800"]:
        response = raw_client.get(url, headers=auth(key))
        assert response.status_code in (404, 422), url
        assert response.headers["content-type"] == "application/problem+json"
    keys = raw_client.post(
        "/accounts/99999999999999999999/keys", headers={**auth(key), "Idempotency-Key": "k"}
    )
    assert keys.status_code in (404, 422)


def test_health_routes_and_the_way_in(raw_client: TestClient) -> None:
    assert raw_client.get("/healthz").json() == {"status": "ok"}
    assert raw_client.get("/readyz").json() == {"status": "ok"}
    root = raw_client.get("/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")


def test_readyz_says_503_when_the_database_does_not_answer(tmp_path: object) -> None:
    gone = Database("sqlite:////nonexistent-dir/never.db")
    app = create_app(Settings(database_url=gone.url), database=gone)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "the database does not answer" in response.json()["detail"]


def test_an_unknown_query_parameter_is_a_422_naming_it(
    raw_client: TestClient, make_account: MakeAccount
) -> None:
    """A typo must not silently give the default: ``?limt=5`` is refused."""
    _, key = make_account("trader")
    response = raw_client.get("/markets?limt=5", headers=auth(key))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "unknown query parameter 'limt'; this route takes after_id, limit, proposal_id"
    )
    assert raw_client.get("/markets?limit=5", headers=auth(key)).status_code == 200
