"""Listing and revoking API keys: who may, what is shown, and how soon a key stops working.

- ``GET /accounts/{id}/keys`` and ``GET /me/keys`` page an account's keys by id
  (``after_id``, ``limit``, ``next_after_id``), showing id, prefix and times, never the key.
- ``DELETE /accounts/{id}/keys/{key_id}`` and ``DELETE /me/keys/{key_id}`` revoke:
  200 and the same body on every repeat; an admin for anyone, others for themselves only.
- The revoking worker refuses the key from its next request; another worker within
  ``auth_cache_seconds``. Revoking the last live key is allowed and says ``locked_out``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import CallerCache
from db.identity import hash_key
from db.session import Database
from db.settings import Settings
from tests.helpers import MakeAccount, auth


def _issue(client: TestClient, admin_key: str, account_id: int) -> dict[str, object]:
    issued = client.post(f"/accounts/{account_id}/keys", headers=auth(admin_key))
    assert issued.status_code == 201, issued.text
    body: dict[str, object] = issued.json()
    return body


def test_a_key_listing_shows_id_prefix_and_times_never_the_key(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    alice_id, alice_key = make_account("trader", "alice")
    second = _issue(client, admin_key, alice_id)
    assert second["account_id"] == alice_id
    assert second["prefix"] == str(second["api_key"])[:10]

    listed = client.get(f"/accounts/{alice_id}/keys", headers=auth(admin_key))
    assert listed.status_code == 200
    body = listed.json()
    assert body["next_after_id"] is None  # 2 keys, a page of 100
    assert [k["id"] for k in body["keys"]] == sorted(k["id"] for k in body["keys"])
    assert [k["prefix"] for k in body["keys"]] == [alice_key[:10], str(second["api_key"])[:10]]
    assert body["keys"][1]["id"] == second["key_id"]
    for key in body["keys"]:
        assert set(key) == {"id", "account_id", "prefix", "created_at", "revoked_at"}
        assert key["account_id"] == alice_id
        assert key["revoked_at"] is None
    for secret in (alice_key, str(second["api_key"])):
        assert secret not in listed.text
        assert hash_key(secret) not in listed.text

    mine = client.get("/me/keys", headers=auth(alice_key))
    assert mine.status_code == 200
    assert mine.json() == body


def test_keys_are_paged_by_id_with_next_after_id(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    bob_id, bob_key = make_account("trader", "bob")
    for _ in range(3):
        _issue(client, admin_key, bob_id)  # bob holds 4 keys

    def page(after_id: int) -> dict[str, object]:
        response = client.get(
            "/me/keys", params={"after_id": after_id, "limit": 2}, headers=auth(bob_key)
        )
        assert response.status_code == 200
        body: dict[str, object] = response.json()
        return body

    first = page(0)
    ids = [k["id"] for k in first["keys"]]  # type: ignore[attr-defined]
    assert len(ids) == 2
    assert first["next_after_id"] == ids[-1]  # a full page: read on from its last id
    second = page(ids[-1])
    more = [k["id"] for k in second["keys"]]  # type: ignore[attr-defined]
    assert len(more) == 2
    assert more[0] > ids[-1]
    assert second["next_after_id"] == more[-1]
    last = page(more[-1])
    assert last == {"keys": [], "next_after_id": None}
    for limit in (0, 1001):
        refused = client.get("/me/keys", params={"limit": limit}, headers=auth(bob_key))
        assert refused.status_code == 422


def test_revoking_ones_own_key_stops_it_at_once_on_this_worker_and_repeats_alike(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    carol_id, carol_key = make_account("trader", "carol")
    spare = _issue(client, admin_key, carol_id)
    spare_key, spare_id = str(spare["api_key"]), spare["key_id"]
    assert client.get("/accounts/me", headers=auth(spare_key)).status_code == 200  # cached now

    revoked = client.delete(f"/me/keys/{spare_id}", headers=auth(carol_key))
    assert revoked.status_code == 200
    body = revoked.json()
    assert body["key"]["id"] == spare_id
    assert body["key"]["revoked_at"] is not None
    assert body["live_keys"] == 1
    assert body["locked_out"] is False
    assert body["detail"] == (
        f"key {spare_id} ({spare_key[:10]}…) is revoked; account {carol_id} holds 1 live key"
    )

    refused = client.get("/accounts/me", headers=auth(spare_key))
    assert refused.status_code == 401  # this worker forgot it: no 30-second grace
    assert refused.headers["content-type"] == "application/problem+json"

    again = client.delete(f"/me/keys/{spare_id}", headers=auth(carol_key))
    assert again.status_code == 200
    assert again.json() == body  # idempotent: same revocation time, same count
    by_admin = client.delete(f"/accounts/{carol_id}/keys/{spare_id}", headers=auth(admin_key))
    assert by_admin.status_code == 200
    assert by_admin.json() == body

    listed = client.get("/me/keys", headers=auth(carol_key)).json()["keys"]
    assert [k["revoked_at"] is not None for k in listed] == [False, True]


def test_revoking_the_last_live_key_is_allowed_and_says_the_account_is_locked_out(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    dave_id, dave_key = make_account("trader", "dave")
    key_id = client.get("/me/keys", headers=auth(dave_key)).json()["keys"][0]["id"]

    revoked = client.delete(f"/accounts/{dave_id}/keys/{key_id}", headers=auth(dave_key))
    assert revoked.status_code == 200
    body = revoked.json()
    assert body["live_keys"] == 0
    assert body["locked_out"] is True
    assert "last live key" in body["detail"]
    assert f"POST /accounts/{dave_id}/keys" in body["detail"]
    assert "futarchy admin issue-key NAME" in body["detail"]

    assert client.get("/accounts/me", headers=auth(dave_key)).status_code == 401
    again = client.delete(f"/accounts/{dave_id}/keys/{key_id}", headers=auth(admin_key))
    assert again.status_code == 200
    assert again.json() == body

    fresh = _issue(client, admin_key, dave_id)  # the way back in
    assert client.get("/accounts/me", headers=auth(str(fresh["api_key"]))).status_code == 200


def test_only_an_admin_touches_another_accounts_keys(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    erin_id, erin_key = make_account("trader", "erin")
    frank_id, frank_key = make_account("council", "frank")
    frank_key_id = client.get("/me/keys", headers=auth(frank_key)).json()["keys"][0]["id"]
    erin_key_id = client.get("/me/keys", headers=auth(erin_key)).json()["keys"][0]["id"]

    for response in (
        client.get(f"/accounts/{frank_id}/keys", headers=auth(erin_key)),
        client.delete(f"/accounts/{frank_id}/keys/{frank_key_id}", headers=auth(erin_key)),
        client.get(f"/accounts/{erin_id}/keys", headers=auth(frank_key)),
        client.get("/accounts/999/keys", headers=auth(erin_key)),
    ):
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert "only its own keys" in response.json()["detail"]

    # a key of another account is not one of yours: 404, and it keeps working
    for response in (
        client.delete(f"/me/keys/{frank_key_id}", headers=auth(erin_key)),
        client.delete(f"/accounts/{erin_id}/keys/{frank_key_id}", headers=auth(erin_key)),
        client.delete(f"/accounts/{erin_id}/keys/{frank_key_id}", headers=auth(admin_key)),
        client.delete("/me/keys/999999", headers=auth(erin_key)),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/accounts/me", headers=auth(frank_key)).status_code == 200
    assert client.get("/accounts/999/keys", headers=auth(admin_key)).status_code == 404
    assert (
        client.delete(f"/accounts/999/keys/{erin_key_id}", headers=auth(admin_key)).status_code
        == 404
    )

    listed = client.get(f"/accounts/{frank_id}/keys", headers=auth(admin_key))
    assert [k["id"] for k in listed.json()["keys"]] == [frank_key_id]
    revoked = client.delete(f"/accounts/{frank_id}/keys/{frank_key_id}", headers=auth(admin_key))
    assert revoked.status_code == 200
    assert client.get("/accounts/me", headers=auth(frank_key)).status_code == 401


def test_key_routes_refuse_ids_out_of_range_and_need_a_key(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    for path in (
        "/accounts/0/keys",
        "/accounts/2147483648/keys",
        "/accounts/1/keys/0",
        "/accounts/1/keys/2147483648",
        "/me/keys/99999999999999999999999",
    ):
        method = client.get if path.endswith("/keys") else client.delete
        response = method(path, headers=auth(admin_key))
        assert response.status_code == 422, path
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/me/keys").status_code == 401
    assert client.delete("/me/keys/1").status_code == 401
    assert client.delete("/accounts/1/keys/1").status_code == 401


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_workers(db: Database) -> Iterator[tuple[TestClient, TestClient, FakeClock]]:
    """Two apps on one database, each with its own 30-second key cache on a fake clock."""
    clock = FakeClock()

    def worker() -> FastAPI:
        app = create_app(Settings(database_url=db.url, auth_cache_seconds=30), database=db)
        app.state.callers = CallerCache(30, clock=clock)
        return app

    with TestClient(worker()) as a, TestClient(worker()) as b:
        yield a, b, clock


def test_another_worker_refuses_a_revoked_key_within_auth_cache_seconds(
    two_workers: tuple[TestClient, TestClient, FakeClock], make_account: MakeAccount
) -> None:
    a, b, clock = two_workers
    _, admin_key = make_account("admin")
    gina_id, gina_key = make_account("trader", "gina")
    assert b.get("/accounts/me", headers=auth(gina_key)).status_code == 200  # b caches it
    key_id = a.get("/me/keys", headers=auth(gina_key)).json()["keys"][0]["id"]
    assert (
        a.delete(f"/accounts/{gina_id}/keys/{key_id}", headers=auth(admin_key)).status_code == 200
    )

    assert a.get("/accounts/me", headers=auth(gina_key)).status_code == 401
    clock.now += 29.9
    assert b.get("/accounts/me", headers=auth(gina_key)).status_code == 200  # the bound
    clock.now += 0.1
    assert b.get("/accounts/me", headers=auth(gina_key)).status_code == 401


def test_openapi_documents_every_key_route_and_its_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("/accounts/{account_id}/keys", "get"): {"401", "403", "404", "422"},
        ("/accounts/{account_id}/keys", "post"): {"401", "403", "404", "422"},
        ("/accounts/{account_id}/keys/{key_id}", "delete"): {"401", "403", "404", "422"},
        ("/me/keys", "get"): {"401", "422"},
        ("/me/keys/{key_id}", "delete"): {"401", "404", "422"},
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (path, method)
        for status in statuses:
            assert "application/problem+json" in responses[status]["content"]
    key_id = paths["/accounts/{account_id}/keys/{key_id}"]["delete"]["parameters"][1]
    assert key_id["schema"]["minimum"] == 1
    assert key_id["schema"]["maximum"] == 2**31 - 1
