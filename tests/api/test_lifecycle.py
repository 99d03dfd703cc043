"""A whole futarchy, through the HTTP API alone, on SQLite and PostgreSQL (issue 10).

The council adopts a welfare metric by motion; an admin opens a proposal with two
alternatives and the status quo; alice and bob split cash into it and trade; at its
decision time anyone decides it and the markets' averages pick the branch; observations
arrive, a measurement is computed and the council certifies it by motion; anyone settles,
and every trader is paid its deposit plus its net profit in the executed branch, to the
micro-unit of an exact rational reference, while the maker's loss stays within ``b ln n``.

The clock is real: motions and the decision wait out deadlines of a second or two.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

from fastapi.testclient import TestClient

from api.money import parse_micros
from db.session import Database
from market.conservation import check_conservation
from tests.helpers import MakeAccount, auth
from welfare import members

UNIT = 1_000_000
W_OBSERVED = 72.5  # points on a 0–100 score: W = 0.725 on the metric's [0, 1]


def micros(amount: str) -> int:
    """An amount the API wrote, as micro-units (the API's own parser, signs allowed)."""
    return parse_micros(amount, positive=False, allow_negative=True)


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


class Api:
    """Requests with a key; writes carry a fresh Idempotency-Key."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
        headers = {**auth(key), "Idempotency-Key": uuid.uuid4().hex}
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    def get(self, path: str, key: str) -> Any:
        response = self.client.get(path, headers=auth(key))
        assert response.status_code == 200, (path, response.text)
        return response.json()


def council_passes(api: Api, key: str, kind: str, payload: dict[str, Any]) -> int:
    """File a motion due in a second, vote yes with every seat, decide it once due."""
    motion = api.post(
        "/council/motions",
        key,
        {"kind": kind, "title": kind, "payload": payload, "deadline": at(1.0)},
    )
    api.post(f"/council/motions/{motion['id']}/ballots", key, {"choice": "yes"})
    time.sleep(1.1)
    decided = api.post(f"/council/motions/{motion['id']}/decide", key)
    assert decided["result"]["outcome"] == "passed", decided
    return int(motion["id"])


def test_a_whole_futarchy_through_the_api(
    client: TestClient, db: Database, make_account: MakeAccount
) -> None:
    api = Api(client)
    admin_id, admin = make_account("admin", "steward")
    council_id, council = make_account("council", "solo")
    (alice_id, alice), (bob_id, bob) = (
        make_account("trader", "alice"),
        make_account("trader", "bob"),
    )
    with db.write() as session:  # one member holds every seat
        members.create_member(
            session, name="Solo", constituency="All", population=1_000, account_id=council_id
        )

    # 1. vote on values: the council adopts a metric
    api.post("/indicators", admin, {"key": "score", "unit": "points"})
    version = api.post(
        "/metric-versions",
        council,
        {
            "name": "Score welfare",
            "entity": "Testland",
            "unit": "index",
            "lo": 0.0,
            "hi": 1.0,
            "components": [
                {
                    "key": "score",
                    "indicator": "score",
                    "unit": "points",
                    "weight": 1.0,
                    "normalisation": {"kind": "goalposts", "lo": 0.0, "hi": 100.0},
                }
            ],
        },
    )["version_id"]
    today = date.today().isoformat()
    council_passes(
        api, council, "adopt_metric_version", {"version_id": version, "effective_from": today}
    )

    # 2. bet on beliefs: a proposal deciding in 4 s on the last 4 s of trading
    for trader in (alice_id, bob_id):
        api.post(f"/accounts/{trader}/credit", admin, {"amount": "100"})
    api.post(f"/accounts/{admin_id}/credit", admin, {"amount": "50"})
    proposal = api.post(
        "/proposals",
        admin,
        {
            "title": "Raise the school leaving age",
            "alternatives": ["Leave at 17", "Leave at 18"],
            "asset_kind": "scalar",
            "closes_at": at(30),
            "decides_at": at(4),
            "subsidy": "50",
            "decision": {"window_seconds": 4, "interval_seconds": 1, "cap": 1.0},
            "settles_on": {"period": "2030", "cutoff": today},
        },
    )
    pid = proposal["id"]
    markets = [m["id"] for m in proposal["markets"]]
    b = micros(proposal["liquidity"])  # b = ⌊F / ln 3⌋ per branch
    for trader in (alice, bob):
        api.post(f"/proposals/{pid}/split", trader, {"amount": "40"})
    trades = [  # (trader, branch, outcome, shares): alice backs 'Leave at 18', bob doubts it
        (alice, 1, 0, "30"),
        (bob, 1, 1, "10"),
        (bob, 2, 0, "5"),
        (alice, 0, 1, "8"),
    ]
    charges: dict[tuple[str, int], int] = {}
    shares: dict[tuple[str, int, int], int] = {}
    for key, branch, outcome, count in trades:
        done = api.post(
            f"/markets/{markets[branch]}/trades",
            key,
            {"outcome": outcome, "side": "buy", "shares": count},
        )
        charges[(key, branch)] = charges.get((key, branch), 0) + micros(done["cash"])
        shares[(key, branch, outcome)] = shares.get((key, branch, outcome), 0) + micros(
            done["shares"]
        )
    refused = client.post(f"/proposals/{pid}/decide", headers=auth(bob))
    assert refused.status_code == 409
    assert "decides at" in refused.json()["detail"]

    due = datetime.fromisoformat(proposal["decides_at"]) - datetime.now(UTC)
    time.sleep(max(0.0, due.total_seconds()) + 0.2)
    decision = api.post(f"/proposals/{pid}/decide", bob)
    assert decision["executed_index"] == 1  # 'Leave at 18' beat the status quo
    assert api.get(f"/proposals/{pid}/decision", alice) == decision
    late = client.post(
        f"/markets/{markets[1]}/trades",
        json={"outcome": 0, "side": "buy", "shares": "1"},
        headers={**auth(alice), "Idempotency-Key": "late"},
    )
    assert late.status_code == 409  # trading closed at the decision

    # 3. the measurement arrives and the council certifies it; anyone settles
    before = client.post(f"/proposals/{pid}/settle", headers=auth(alice))
    assert before.status_code == 409
    assert "certified" in before.json()["detail"]
    api.post(
        "/indicators/score/observations",
        admin,
        [{"entity": "Testland", "period": 2030, "value": W_OBSERVED, "release_date": today}],
    )
    measurement = api.post(
        "/measurements", council, {"version_id": version, "period": "2030", "cutoff": today}
    )
    council_passes(api, council, "certify_measurement", {"measurement_id": measurement["id"]})
    settlement = api.post(f"/proposals/{pid}/settle", alice)
    assert settlement["kind"] == "settled"
    assert api.post(f"/proposals/{pid}/settle", bob) == settlement  # once

    # every payout against the exact reference: cash in branch 1 plus ⌊shares · π⌋
    w = Fraction(measurement["value"])
    assert w == Fraction(0.725)
    per_share = (int(w * UNIT), int((1 - w) * UNIT))  # ⌊x·1e6⌋, ⌊(1−x)·1e6⌋; x ≥ 0
    for key in (alice, bob):
        (mine,) = api.get("/me/settlements", key)["settlements"]
        cash_left = 40 * UNIT - charges.get((key, 1), 0)
        won = sum(shares.get((key, 1, k), 0) * per_share[k] // UNIT for k in (0, 1))
        assert micros(mine["paid"]) == cash_left + won
        assert micros(mine["profit"]) == cash_left + won - 40 * UNIT
        assert micros(api.get("/me/balances", key)["cash"]) == 60 * UNIT + cash_left + won
    sponsor = settlement["sponsor"]
    maker_loss = 50 * UNIT - micros(sponsor["paid"])  # F − what the maker gave back
    assert maker_loss <= b * math.log(2)  # two outcomes: the LMSR bound b ln 2
    assert micros(settlement["collateral"]) == 50 * UNIT + 80 * UNIT
    with db.read() as session:
        assert check_conservation(session).ok
