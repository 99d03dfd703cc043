"""Fixtures for the trading API tests: an admin, traders with cash, an open proposal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response as Response  # what Starlette's TestClient returns

from db.identity import create_account, issue_api_key
from db.session import Database
from db.types import utcnow
from market import funding
from market.models import AssetKind
from market.proposals import ProposalSpec, create_proposal, markets_of
from tests.helpers import MakeAccount, adopt_metric, auth

UNIT = 1_000_000


def post(
    client: TestClient,
    path: str,
    key: str,
    body: dict[str, Any] | None = None,
    *,
    idem: str | None = None,
) -> Response:
    """POST with an API key and an Idempotency-Key (a fresh one unless given)."""
    headers = {**auth(key), "Idempotency-Key": idem or uuid.uuid4().hex}
    return client.post(path, json=body, headers=headers)


@pytest.fixture
def make_account_sqlite(sqlite_db: Database) -> MakeAccount:
    """``make_account`` on the `sqlite_db` fixture: ``(role, name=None) -> (id, key)``."""
    counter = iter(range(1, 1_000_000))

    def _make(role: str, name: str | None = None) -> tuple[int, str]:
        with sqlite_db.write() as session:
            account = create_account(session, name or f"{role}-{next(counter)}", role)
            return account.id, issue_api_key(session, account)

    return _make


@dataclass(frozen=True)
class Demo:
    """An admin (sponsor) and two traders with 100 cash each, and one open proposal."""

    admin_id: int
    admin_key: str
    trader_ids: tuple[int, int]
    trader_keys: tuple[str, str]
    proposal_id: int
    market_ids: tuple[int, ...]


def proposal_spec(**changes: Any) -> ProposalSpec:
    """Two alternatives + the status quo, open for a day, F = 50, bound to the metric in
    force (scalar on [0, 100] with `tests.helpers.adopt_metric`)."""
    now = utcnow()
    values: dict[str, Any] = {
        "title": "School reform",
        "alternatives": ("Leave at 17", "Leave at 18"),
        "asset_kind": AssetKind.SCALAR,
        "opens_at": now - timedelta(hours=1),
        "closes_at": now + timedelta(days=1),
        "subsidy_micros": 50 * UNIT,
        **changes,
    }
    return ProposalSpec(**values)


@pytest.fixture
def demo(db: Database, make_account: MakeAccount) -> Demo:
    """The metric in force, an open proposal sponsored by an admin, and two traders
    holding 100 cash each."""
    admin_id, admin_key = make_account("admin", "root")
    a_id, a_key = make_account("trader", "alice")
    b_id, b_key = make_account("trader", "bob")
    with db.write() as session:
        adopt_metric(session)
        funding.credit(session, admin_id, 1_000 * UNIT)
        for trader in (a_id, b_id):
            funding.credit(session, trader, 100 * UNIT)
        proposal = create_proposal(session, admin_id, proposal_spec())
        market_ids = tuple(m.id for m in markets_of(session, proposal.id))
    return Demo(admin_id, admin_key, (a_id, b_id), (a_key, b_key), proposal.id, market_ids)
