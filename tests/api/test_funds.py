"""Credit, debit, split, merge over HTTP; balances; idempotency of money-moving POSTs."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from api.idempotency import REPLAY_HEADER, IdempotentRequest, run_once
from api.schemas.funds import AmountIn, CashRead
from db.session import Database
from market import funding
from market.conservation import check_conservation
from tests.api.conftest import UNIT, Demo, Response, post
from tests.helpers import MakeAccount, auth


def _cash(db: Database, account_id: int) -> int:
    with db.read() as session:
        return funding.balances(session, account_id).cash_micros


def test_admin_credits_and_debits_cash(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    credited = post(client, f"/accounts/{trader_id}/credit", admin_key, {"amount": "12.5"})
    assert credited.status_code == 200
    assert credited.json() == {"account_id": trader_id, "cash": "12.5"}
    debited = post(client, f"/accounts/{trader_id}/debit", admin_key, {"amount": "2.000001"})
    assert debited.status_code == 200
    assert debited.json() == {"account_id": trader_id, "cash": "10.499999"}
    assert _cash(db, trader_id) == 10_499_999


def test_debit_beyond_the_balance_is_409_and_changes_nothing(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    post(client, f"/accounts/{trader_id}/credit", admin_key, {"amount": "3"})
    refused = post(client, f"/accounts/{trader_id}/debit", admin_key, {"amount": "3.5"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "holds only 3 of cash" in refused.json()["detail"]
    assert _cash(db, trader_id) == 3 * UNIT


def test_credit_needs_admin_a_known_account_and_a_sane_amount(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    trader_id, trader_key = make_account("trader")
    assert (
        post(client, f"/accounts/{trader_id}/credit", trader_key, {"amount": "1"}).status_code
        == 403
    )
    assert post(client, "/accounts/999999/credit", admin_key, {"amount": "1"}).status_code == 404
    no_key = client.post(f"/accounts/{trader_id}/credit", json={"amount": "1"})
    assert no_key.status_code == 401
    for bad in ("NaN", "inf", "-1", "1.1234567", "1e9", "100000000000"):
        refused = post(client, f"/accounts/{trader_id}/credit", admin_key, {"amount": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["detail"].startswith("amount: "), refused.json()
    extra = post(client, f"/accounts/{trader_id}/credit", admin_key, {"amount": "1", "x": 1})
    assert extra.status_code == 422


def test_missing_or_overlong_idempotency_key_is_400_and_changes_nothing(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    path = f"/accounts/{trader_id}/credit"
    missing = client.post(path, json={"amount": "1"}, headers=auth(admin_key))
    assert missing.status_code == 400
    assert missing.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in missing.json()["detail"]
    blank = client.post(
        path, json={"amount": "1"}, headers={**auth(admin_key), "Idempotency-Key": "  "}
    )
    assert blank.status_code == 400
    assert post(client, path, admin_key, {"amount": "1"}, idem="k" * 256).status_code == 400
    assert _cash(db, trader_id) == 0


def test_a_retry_replays_the_first_response_without_a_second_effect(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    path = f"/accounts/{trader_id}/credit"
    first = post(client, path, admin_key, {"amount": "5"}, idem="credit-1")
    again = post(client, path, admin_key, {"amount": "5.000"}, idem="credit-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers[REPLAY_HEADER] == "true"
    assert REPLAY_HEADER not in first.headers
    assert _cash(db, trader_id) == 5 * UNIT


def test_same_key_with_a_different_request_is_422(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    other_id, _ = make_account("trader")
    assert (
        post(
            client, f"/accounts/{trader_id}/credit", admin_key, {"amount": "5"}, idem="k"
        ).status_code
        == 200
    )
    for path, body in (
        (f"/accounts/{trader_id}/credit", {"amount": "6"}),
        (f"/accounts/{other_id}/credit", {"amount": "5"}),
        (f"/accounts/{trader_id}/debit", {"amount": "5"}),
    ):
        reused = post(client, path, admin_key, body, idem="k")
        assert reused.status_code == 422
        assert "already used for a different request" in reused.json()["detail"]
    assert _cash(db, trader_id) == 5 * UNIT
    assert _cash(db, other_id) == 0


def test_keys_belong_to_the_account_that_sends_them(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    _, first_admin = make_account("admin")
    _, second_admin = make_account("admin")
    trader_id, _ = make_account("trader")
    path = f"/accounts/{trader_id}/credit"
    assert post(client, path, first_admin, {"amount": "1"}, idem="same").status_code == 200
    assert post(client, path, second_admin, {"amount": "1"}, idem="same").status_code == 200
    assert _cash(db, trader_id) == 2 * UNIT


def test_a_refused_request_is_its_outcome_so_a_retry_replays_the_refusal(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    """Stripe's rule: a request that began executing has an outcome, refusals included.
    The debit of 2 from an empty account is refused; after a credit of 3 the retry with the
    same key replays that 409 (and debits nothing); a new key debits."""
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    debit = f"/accounts/{trader_id}/debit"
    first = post(client, debit, admin_key, {"amount": "2"}, idem="d")
    assert first.status_code == 409
    post(client, f"/accounts/{trader_id}/credit", admin_key, {"amount": "3"})
    retried = post(client, debit, admin_key, {"amount": "2"}, idem="d")
    assert retried.status_code == 409
    assert retried.headers["content-type"] == "application/problem+json"
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.content == first.content
    assert _cash(db, trader_id) == 3 * UNIT
    fresh = post(client, debit, admin_key, {"amount": "2"}, idem="d2")
    assert fresh.status_code == 200
    assert fresh.json()["cash"] == "1"


def test_a_request_refused_before_it_began_stores_nothing(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    """A malformed body never began executing: the same key then works for a good one."""
    _, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    credit = f"/accounts/{trader_id}/credit"
    assert post(client, credit, admin_key, {"amount": "1e3"}, idem="k").status_code == 422
    assert post(client, credit, admin_key, {"amount": "4"}, idem="k").status_code == 200
    assert _cash(db, trader_id) == 4 * UNIT


@pytest.mark.parametrize("operation", ["credit", "debit"])
def test_a_concurrent_duplicate_waits_and_replays_the_winner(
    client: TestClient, db: Database, make_account: MakeAccount, operation: str
) -> None:
    """One transaction holds an uncommitted credit (or debit of the whole balance) with key
    K; the same request over HTTP blocks behind it (row lock on PostgreSQL, write lock on
    SQLite), then replays it. On PostgreSQL the duplicate's own effect meets the winner's
    key (credit) or finds the cash gone (debit): either way it rolls back and replays."""
    admin_id, admin_key = make_account("admin")
    trader_id, _ = make_account("trader")
    start = 7 * UNIT if operation == "debit" else 0
    if start:
        with db.write() as session:
            funding.credit(session, trader_id, start)
    service = funding.credit if operation == "credit" else funding.debit
    path = f"/accounts/{trader_id}/{operation}"
    key = f"race-{uuid.uuid4().hex}"
    results: list[Response] = []
    with db.write() as session:
        winner = run_once(
            session,
            admin_id,
            IdempotentRequest(key=key, method="POST", path=path),
            AmountIn.model_validate({"amount": "7"}),
            200,
            lambda: CashRead(account_id=trader_id, cash=service(session, trader_id, 7 * UNIT)),
        )
        loser = threading.Thread(
            target=lambda: results.append(post(client, path, admin_key, {"amount": "7"}, idem=key))
        )
        loser.start()
        time.sleep(0.5)
        assert not results, "the duplicate must wait for the first transaction"
    loser.join(timeout=30)
    assert len(results) == 1
    assert results[0].status_code == 200, results[0].json()
    assert results[0].content == winner.body
    assert results[0].headers[REPLAY_HEADER] == "true"
    assert _cash(db, trader_id) == (7 * UNIT if operation == "credit" else 0)


def test_split_and_merge_move_cash_into_every_branch_and_back(
    client: TestClient, db: Database, demo: Demo
) -> None:
    alice = demo.trader_keys[0]
    split = post(client, f"/proposals/{demo.proposal_id}/split", alice, {"amount": "40"})
    assert split.status_code == 200
    body = split.json()
    assert body["cash"] == "60"
    assert [b["cash"] for b in body["branches"]] == ["40", "40", "40"]
    assert [b["branch_name"] for b in body["branches"]] == [
        "Leave at 17",
        "Leave at 18",
        "Status quo",
    ]
    assert [b["market_id"] for b in body["branches"]] == list(demo.market_ids)
    merged = post(client, f"/proposals/{demo.proposal_id}/merge", alice, {"amount": "15.5"})
    assert merged.status_code == 200
    assert merged.json()["cash"] == "75.5"
    assert {b["cash"] for b in merged.json()["branches"]} == {"24.5"}
    with db.read() as session:
        assert check_conservation(session).ok


def test_split_and_merge_refusals(client: TestClient, db: Database, demo: Demo) -> None:
    alice, bob = demo.trader_keys
    pid = demo.proposal_id
    too_much = post(client, f"/proposals/{pid}/split", alice, {"amount": "100.000001"})
    assert too_much.status_code == 409
    assert post(client, "/proposals/424242/split", alice, {"amount": "1"}).status_code == 404
    assert post(client, f"/proposals/{pid}/merge", bob, {"amount": "1"}).status_code == 409
    assert (
        post(client, f"/proposals/{pid}/split", demo.admin_key, {"amount": "1"}).status_code == 403
    )
    assert post(client, f"/proposals/{pid}/split", alice, {"amount": "0"}).status_code == 422
    assert _cash(db, demo.trader_ids[0]) == 100 * UNIT
