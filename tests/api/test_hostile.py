"""Hostile input, row by row: what an attacker or a careless client sends, what comes back,
and that nothing changed.

Each row is one request against the `demo` world (an admin, two traders with cash, an open
proposal). For every row the answer is the status in the table, as
``application/problem+json``, and every table of the database holds exactly what it held
before (the idempotency records of requests that began and were refused are their stored
outcome, not a change of state; none of these rows begins).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, table

from db.session import Database
from tests.api.conftest import Demo
from tests.helpers import auth


def snapshot(db: Database) -> dict[str, int]:
    """Row count of every table (the state a refused request must not change)."""
    with db.read() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {
            name: int(session.scalar(select(func.count()).select_from(table(name))) or 0)
            for name in names
            if name != "alembic_version"
        }


@dataclass(frozen=True)
class Hostile:
    """One hostile request: who sends it, what, and the status it must get."""

    why: str
    method: str
    path: str  # {proposal} and {market} are filled from the demo
    role: str  # "admin", "trader" or "anonymous"
    status: int
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    detail: str = ""


NESTED = b"[" * 100_000
BALANCED_DEEP = b'{"name": ' + b"[" * 40 + b"]" * 40 + b', "role": "trader"}'
JSON = {"Content-Type": "application/json"}

ROWS = [
    Hostile(
        "a 5 MiB body",
        "POST",
        "/accounts",
        "admin",
        413,
        content=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'", "role": "trader"}',
        headers=JSON,
        detail="larger than 4 MiB",
    ),
    Hostile("100,000 open brackets", "POST", "/accounts", "admin", 400, content=NESTED,
            headers=JSON, detail="nests deeper than 32"),
    Hostile("40 levels of nesting", "POST", "/accounts", "admin", 400, content=BALANCED_DEEP,
            headers=JSON, detail="nests deeper than 32"),
    Hostile("an amount as a float 1e308", "POST", "/proposals/{proposal}/split", "trader", 422,
            json={"amount": 1e308}, detail="decimal string"),
    Hostile("an amount of 400 digits", "POST", "/proposals/{proposal}/split", "trader", 422,
            json={"amount": "1" + "0" * 400}, detail="characters long"),
    Hostile("an outcome of 10**30", "POST", "/markets/{market}/trades", "trader", 422,
            json={"outcome": 10**30, "side": "buy", "shares": "1"}),
    Hostile("a NaN literal", "POST", "/markets/{market}/trades", "trader", 422,
            content=b'{"outcome": NaN, "side": "buy", "shares": "1"}', headers=JSON),
    Hostile("1e999 (infinity)", "POST", "/proposals/{proposal}/split", "trader", 422,
            content=b'{"amount": 1e999}', headers=JSON, detail="finite decimal string"),
    Hostile("Infinity as a goalpost", "POST", "/metric-versions", "admin", 422,
            content=b'{"name": "w", "entity": "E", "unit": "u", "lo": 0, "hi": Infinity,'
            b' "components": [{"key": "k", "indicator": "score", "unit": "points",'
            b' "weight": 1}]}', headers=JSON),
    Hostile("a boolean as an outcome", "POST", "/markets/{market}/trades", "trader", 422,
            json={"outcome": False, "side": "buy", "shares": "1"},
            detail="a boolean is not a number"),
    Hostile("NUL in a name", "POST", "/accounts", "admin", 422,
            json={"name": "eve\u0000", "role": "trader"}, detail="U+0000"),
    Hostile("an RTL override in a name", "POST", "/accounts", "admin", 422,
            json={"name": "alice\u202egpj.exe", "role": "trader"}, detail="U+202E"),
    Hostile("a zero-width space in a name", "POST", "/accounts", "admin", 422,
            json={"name": "ali\u200bce", "role": "trader"}, detail="U+200B"),
    Hostile("NUL in a path", "GET", "/indicators/%00", "trader", 422, detail="U+0000"),
    Hostile("NUL in a query", "GET", "/markets?proposal_id=%00", "trader", 422,
            detail="U+0000"),
    Hostile("an id past 64 bits", "GET", "/markets/99999999999999999999", "trader", 422),
    Hostile("an id past 32 bits", "GET", "/proposals/2147483648", "trader", 422),
    Hostile("a negative id", "POST", "/proposals/-6227020800/split", "trader", 404,
            json={"amount": "1"}),
    Hostile("no Idempotency-Key", "POST", "/proposals/{proposal}/split", "trader", 400,
            json={"amount": "1"}, headers={"Idempotency-Key": ""}, detail="Idempotency-Key"),
    Hostile("a 256-character Idempotency-Key", "POST", "/proposals/{proposal}/split",
            "trader", 400, json={"amount": "1"}, headers={"Idempotency-Key": "k" * 256},
            detail="255"),
    Hostile("unknown fields", "POST", "/proposals/{proposal}/split", "trader", 422,
            json={"amount": "1", "to": "attacker"}),
    Hostile("a body that is not JSON", "POST", "/proposals/{proposal}/split", "trader", 400,
            content=b"amount=1", headers=JSON),
    # wrong roles: a valid request from someone who may not make it
    Hostile("a trader creates an account", "POST", "/accounts", "trader", 403,
            json={"name": "mallory", "role": "admin"}),
    Hostile("a trader credits itself", "POST", "/accounts/2/credit", "trader", 403,
            json={"amount": "1000"}),
    Hostile("a trader debits another", "POST", "/accounts/3/debit", "trader", 403,
            json={"amount": "1"}),
    Hostile("a trader closes a proposal", "POST", "/proposals/{proposal}/close", "trader",
            403),
    Hostile("a trader defines an indicator", "POST", "/indicators", "trader", 403,
            json={"key": "evil", "unit": "u"}),
    Hostile("a trader drafts a metric", "POST", "/metric-versions", "trader", 403,
            json={"name": "w", "entity": "E", "unit": "u", "lo": 0, "hi": 1,
                  "components": [{"key": "k", "indicator": "score", "unit": "points",
                                  "weight": 1}]}),
    Hostile("a trader seats a member", "POST", "/council/members", "trader", 403,
            json={"name": "Narnia", "population": 10}),
    Hostile("a trader changes the rules", "PATCH", "/council/rules", "trader", 403,
            json={"threshold": "1/10"}),
    Hostile("a trader files a motion", "POST", "/council/motions", "trader", 403,
            json={"kind": "change_rules", "title": "t", "payload": {"threshold": "1/10"},
                  "deadline": "2100-01-01T00:00:00Z"}),
    Hostile("an admin trades", "POST", "/markets/{market}/trades", "admin", 403,
            json={"outcome": 0, "side": "buy", "shares": "1"}),
    Hostile("an admin splits", "POST", "/proposals/{proposal}/split", "admin", 403,
            json={"amount": "1"}),
    Hostile("nobody credits", "POST", "/accounts/2/credit", "anonymous", 401,
            json={"amount": "1"}),
    Hostile("a forged key", "POST", "/proposals/{proposal}/split", "anonymous", 401,
            json={"amount": "1"}, headers={"Authorization": "Bearer fut_forged"}),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[r.why for r in ROWS])
def test_hostile_input_is_refused_in_words_and_changes_nothing(
    client: TestClient, db: Database, demo: Demo, row: Hostile
) -> None:
    keys: dict[str, Callable[[], dict[str, str]]] = {
        "admin": lambda: auth(demo.admin_key),
        "trader": lambda: auth(demo.trader_keys[0]),
        "anonymous": dict,
    }
    path = row.path.format(proposal=demo.proposal_id, market=demo.market_ids[0])
    headers = {"Idempotency-Key": uuid.uuid4().hex, **keys[row.role](), **row.headers}
    before = snapshot(db)
    response = client.request(row.method, path, json=row.json, content=row.content, headers=headers)
    assert response.status_code == row.status, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == row.status
    assert row.detail in problem["detail"]
    assert snapshot(db) == before
