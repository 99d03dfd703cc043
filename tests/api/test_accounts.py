"""Accounts, keys and roles, and the problem+json shape of every refusal."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import MakeAccount, auth


def test_admin_creates_a_trader_whose_key_then_works(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    created = client.post(
        "/accounts", json={"name": "alice", "role": "trader"}, headers=auth(admin_key)
    )
    assert created.status_code == 201
    alice = created.json()
    assert alice["name"] == "alice"
    assert alice["role"] == "trader"

    issued = client.post(f"/accounts/{alice['id']}/keys", headers=auth(admin_key))
    assert issued.status_code == 201
    key = issued.json()["api_key"]
    assert key.startswith("fut_")

    me = client.get("/accounts/me", headers=auth(key))
    assert me.status_code == 200
    assert me.json()["name"] == "alice"


def test_no_key_is_401_problem_json(client: TestClient) -> None:
    response = client.get("/accounts/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401
    assert "API key" in body["detail"]


def test_unknown_key_is_401(client: TestClient) -> None:
    response = client.get("/accounts/me", headers=auth("fut_not-a-real-key"))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is unknown or revoked"


def test_trader_may_not_create_accounts(client: TestClient, make_account: MakeAccount) -> None:
    _, trader_key = make_account("trader")
    response = client.post(
        "/accounts", json={"name": "mallory", "role": "admin"}, headers=auth(trader_key)
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "admin role" in response.json()["detail"]


def test_duplicate_name_is_409_and_unknown_role_is_422(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin", name="root")
    duplicate = client.post(
        "/accounts", json={"name": "root", "role": "trader"}, headers=auth(admin_key)
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "an account named 'root' exists already"

    bad_role = client.post(
        "/accounts", json={"name": "bob", "role": "king"}, headers=auth(admin_key)
    )
    assert bad_role.status_code == 422
    assert bad_role.headers["content-type"] == "application/problem+json"
    assert "role" in bad_role.json()["detail"]


def test_unknown_account_is_404(client: TestClient, make_account: MakeAccount) -> None:
    _, admin_key = make_account("admin")
    response = client.post("/accounts/999/keys", headers=auth(admin_key))
    assert response.status_code == 404
    assert response.json()["detail"] == "no account with id 999"


def test_openapi_documents_problem_responses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/accounts"]["post"]["responses"]
    assert {"401", "403", "409", "422"} <= set(responses)
    assert "application/problem+json" in responses["409"]["content"]
