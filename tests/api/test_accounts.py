"""Accounts, keys and roles, and the problem+json shape of every refusal."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from db.identity import Account, DuplicateAccount, InvalidAccountName, InvalidRole, create_account
from db.session import Database
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
    assert response.json()["detail"] == (
        "the API key is unknown or revoked; send a live key (an admin can issue one)"
    )


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
    assert duplicate.json()["detail"] == (
        "an account named 'root' exists already; choose another name"
    )

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


# --- names that could pass for another ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ali\u200bce", "U+200B"),  # zero-width space
        ("\u202eecila", "U+202E"),  # right-to-left override
        ("alice\u2066", "U+2066"),  # left-to-right isolate
        ("\ufeffalice", "U+FEFF"),  # byte order mark
    ],
)
def test_a_name_with_an_invisible_or_bidi_character_is_422_naming_it(
    client: TestClient, make_account: MakeAccount, name: str, code: str
) -> None:
    _, admin_key = make_account("admin")
    refused = client.post(
        "/accounts", json={"name": name, "role": "trader"}, headers=auth(admin_key)
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert code in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"] == "name"


def test_a_name_is_stored_nfkc_normalised_and_unique_in_that_form(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    fullwidth = client.post(
        "/accounts", json={"name": "ａｌｉｃｅ", "role": "trader"}, headers=auth(admin_key)
    )
    assert fullwidth.status_code == 201
    assert fullwidth.json()["name"] == "alice"
    plain = client.post(
        "/accounts", json={"name": "alice", "role": "trader"}, headers=auth(admin_key)
    )
    assert plain.status_code == 409
    assert plain.json()["detail"] == "an account named 'alice' exists already; choose another name"


def test_a_bad_name_and_a_bad_role_are_both_named_at_once(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    refused = client.post(
        "/accounts", json={"name": "bob\u200d", "role": "king"}, headers=auth(admin_key)
    )
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"name", "role"}


def test_the_library_refuses_impersonating_names_with_a_typed_error(db: Database) -> None:
    with db.write() as session:
        create_account(session, "carol", "trader")
        with pytest.raises(InvalidAccountName, match=r"U\+200C"):
            create_account(session, "car\u200col", "trader")
        with pytest.raises(InvalidAccountName, match="is empty"):
            create_account(session, " \u3000 ", "trader")  # NFKC makes U+3000 a plain space
        with pytest.raises(InvalidAccountName, match="101 characters; send at most 100"):
            create_account(session, "x" * 101, "trader")
        with pytest.raises(InvalidAccountName) as both:
            create_account(session, "\u202ecarol", "king")
        assert "U+202E" in str(both.value)
        assert "role must be one of admin, council, trader, not 'king'" in str(both.value)
        with pytest.raises(InvalidRole):
            create_account(session, "dave", "king")
        with pytest.raises(DuplicateAccount):
            create_account(session, "ｃａｒｏｌ", "trader")  # fullwidth: NFKC gives "carol"


def test_two_concurrent_creations_of_one_name_give_one_account_and_one_refusal(
    db: Database,
) -> None:
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with db.write() as session:
                create_account(session, "erin", "trader")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with db.write() as session:
        create_account(session, "erin", "trader")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # the second writer waits on the first (lock or unique index)
    thread.join(timeout=10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], DuplicateAccount)
    with db.read() as session:
        assert session.scalar(select(func.count(Account.id)).where(Account.name == "erin")) == 1


def test_account_routes_refuse_ids_out_of_range_with_422(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    for path in ("/accounts/0", "/accounts/2147483648", "/accounts/99999999999999999999/keys"):
        assert client.get(path, headers=auth(admin_key)).status_code == 422, path
    assert client.post("/accounts/2147483648/keys", headers=auth(admin_key)).status_code == 422
