"""Settlements through the API and the command line, on SQLite and PostgreSQL.

The world is `tests.integration.test_settling`'s: a binary proposal on a ``[0, 1]`` metric,
traders A and B with 50 split each and four trades; settled at ``W = 0.725`` in branch 0,
A is paid 57.013152, B 45.111859 and the sponsor 67.189707 of its 69.314718.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli_settle import register
from db.identity import Account, issue_api_key
from db.session import Database
from tests.helpers import auth
from tests.integration.test_settling import (
    World,
    build,
    certify,
    decide_now,
    measure_w,
)


def keys(db: Database, world: World) -> dict[str, str]:
    """A fresh API key for A, B and the sponsor."""
    ids = {**world.traders, "sponsor": world.sponsor}
    with db.write() as s:
        out = {}
        for name, account_id in ids.items():
            account = s.get(Account, account_id)
            assert account is not None
            out[name] = issue_api_key(s, account)
        return out


def problem(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return str(body["detail"])


def test_settle_is_refused_with_the_reason_until_it_is_due(
    db: Database, client: TestClient
) -> None:
    world = build(db)
    key = keys(db, world)["B"]
    pid = world.proposal_id
    refused = client.post(f"/proposals/{pid}/settle", headers=auth(key))
    assert problem(refused, 409).startswith(
        f"proposal {pid} is open: it settles only once decided (POST /proposals/{pid}/decide"
    )
    assert refused.json()["type"] == "/problems/cannot-settle-yet"
    decide_now(db, world)
    refused = client.post(f"/proposals/{pid}/settle", headers=auth(key))
    assert problem(refused, 409) == (
        f"proposal {pid} cannot settle yet: no certified measurement of version "
        f"{world.version_id}, entity Testland, period 2030 yet: compute one with the data "
        "known at 2031-06-30 (POST /measurements) and certify it by council motion"
    )
    missing = client.get(f"/proposals/{pid}/settlement", headers=auth(key))
    assert problem(missing, 404) == (
        f"proposal {pid} is decided; it has no settlement yet (POST /proposals/{pid}/settle "
        "once it is due)"
    )
    assert problem(client.post("/proposals/999/settle", headers=auth(key)), 404) == (
        "no proposal with id 999"
    )
    assert problem(client.get("/proposals/999/settlement", headers=auth(key)), 404) == (
        "no proposal with id 999"
    )
    assert client.post(f"/proposals/{pid}/settle").status_code == 401
    assert client.get("/me/settlements").status_code == 401
    assert client.post("/proposals/0/settle", headers=auth(key)).status_code == 422


def test_any_caller_settles_once_and_everyone_reads_the_same_settlement(
    db: Database, client: TestClient
) -> None:
    world = build(db)
    decide_now(db, world)
    mid = measure_w(db, world)
    certify(db, mid)
    key = keys(db, world)
    pid = world.proposal_id

    first = client.post(f"/proposals/{pid}/settle", headers=auth(key["B"]))
    assert first.status_code == 200, first.text
    body = first.json()
    assert {k: body[k] for k in ("proposal_id", "kind", "reason")} == {
        "proposal_id": pid,
        "kind": "settled",
        "reason": "",
    }
    assert body["measurement"] == {
        "id": mid,
        "version_id": world.version_id,
        "entity": "Testland",
        "period": "2030",
        "cutoff": "2031-06-30",
        "welfare_value": 0.725,
        "certified_by_motion_id": 1,
    }
    assert (body["executed_branch_index"], body["executed_branch_name"]) == (0, "Leave at 18")
    assert (body["ipw_probability"], body["declared_void_by_motion_id"]) == (None, None)
    assert {k: body[k] for k in ("collateral", "deposits", "traders_paid_total")} == {
        "collateral": "169.314718",
        "deposits": "100",
        "traders_paid_total": "102.125011",
    }
    assert (body["traders"], body["traders_paid"]) == (2, 2)
    assert body["sponsor"] == {
        "account_id": world.sponsor,
        "subsidy": "69.314718",
        "paid": "67.189707",
        "profit": "-2.125011",
    }
    assert body["branches"] == [
        {
            "market_id": world.market_ids[0],
            "branch_index": 0,
            "branch_name": "Leave at 18",
            "status": "settled",
            "traders_cash": "64.875051",
            "maker_cash": "104.439667",
            "shares_paid": "37.24996",
            "maker_result": "-2.125011",
            "maker_loss_bound": "69.314717",
        },
        {
            "market_id": world.market_ids[1],
            "branch_index": 1,
            "branch_name": "Status quo",
            "status": "void",
            "traders_cash": "84.875052",
            "maker_cash": "84.439666",
            "shares_paid": "0",
            "maker_result": None,
            "maker_loss_bound": "69.314717",
        },
    ]

    again = client.post(f"/proposals/{pid}/settle", headers=auth(key["sponsor"]))
    assert again.status_code == 200
    assert again.json() == body
    read = client.get(f"/proposals/{pid}/settlement", headers=auth(key["A"]))
    assert read.status_code == 200
    assert read.json() == body

    balances = client.get("/me/balances", headers=auth(key["A"])).json()
    assert balances["cash"] == "107.013152"


def test_my_settlements_say_what_each_proposal_paid_me(db: Database, client: TestClient) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    key = keys(db, world)
    pid = world.proposal_id
    assert client.get("/me/settlements", headers=auth(key["A"])).json() == {
        "settlements": [],
        "next_after_id": None,
    }
    assert client.post(f"/proposals/{pid}/settle", headers=auth(key["A"])).status_code == 200

    page = client.get("/me/settlements", headers=auth(key["A"])).json()
    (item,) = page["settlements"]
    assert {k: v for k, v in item.items() if k != "settled_at"} == {
        "proposal_id": pid,
        "title": "Raise the school leaving age",
        "kind": "settled",
        "traded": True,
        "deposit": "50",
        "paid": "57.013152",
        "profit": "7.013152",
        "sponsor": None,
    }
    assert page["next_after_id"] is None
    b_item = client.get("/me/settlements", headers=auth(key["B"])).json()["settlements"][0]
    assert (b_item["paid"], b_item["profit"]) == ("45.111859", "-4.888141")
    sponsor_item = client.get("/me/settlements", headers=auth(key["sponsor"])).json()
    assert sponsor_item["settlements"][0]["traded"] is False
    assert (sponsor_item["settlements"][0]["paid"], sponsor_item["settlements"][0]["sponsor"]) == (
        "0",
        {
            "account_id": world.sponsor,
            "subsidy": "69.314718",
            "paid": "67.189707",
            "profit": "-2.125011",
        },
    )

    full = client.get("/me/settlements?limit=1", headers=auth(key["A"])).json()
    assert full["next_after_id"] == pid
    rest = client.get(f"/me/settlements?after_id={pid}", headers=auth(key["A"])).json()
    assert rest == {"settlements": [], "next_after_id": None}
    bad = client.get("/me/settlements?limit=0", headers=auth(key["A"]))
    assert bad.status_code == 422


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def settle_cli(db: Database) -> Any:
    """``settle_cli(*args) -> (exit code, stdout, stderr)`` of ``futarchy settle`` on ``db``."""
    app = typer.Typer()
    register(app)

    @app.callback()
    def _group() -> None:
        """A group, so the command is called by its name as under ``futarchy``."""

    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["settle", *args, "--database-url", db.url])
        return result.exit_code, result.stdout, result.stderr

    return run


def test_futarchy_settle_one_and_due(db: Database, settle_cli: Any) -> None:
    world = build(db)
    pid = world.proposal_id
    assert settle_cli("--due") == (0, "no proposal is due for settlement\n", "")
    code, out, err = settle_cli(str(pid))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: proposal {pid}: proposal {pid} is open: it settles only once")
    assert err.count("\n") == 1

    decide_now(db, world)
    certify(db, measure_w(db, world))
    line = (
        f"proposal {pid} settled against measurement 1 (W = 0.725), branch 0 executed; "
        "traders paid 102.125011, sponsor 67.189707\n"
    )
    assert settle_cli("--due") == (0, line, "")
    assert settle_cli(str(pid)) == (0, line, "")  # once: the same settlement again
    assert settle_cli("--due") == (0, "no proposal is due for settlement\n", "")
    assert settle_cli("999") == (1, "", "error: proposal 999: no proposal with id 999\n")


def test_futarchy_settle_takes_a_proposal_or_due(settle_cli: Any) -> None:
    for args in ((), ("1", "--due")):
        code, out, err = settle_cli(*args)
        assert (code, out) == (2, "")
        assert "give either a PROPOSAL id or --due (exactly one of them)" in err
