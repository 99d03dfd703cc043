"""API keys: a worker trusts a key it looked up for ``auth_cache_seconds``, no longer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.auth import Caller, CallerCache
from db.identity import ApiKey, Role, hash_key
from db.session import Database
from db.settings import Settings
from db.types import utcnow
from tests.helpers import MakeAccount, auth


def _revoke(db: Database, key: str) -> None:
    """Revoke a key in the database behind the API's back, as another worker would."""
    with db.write() as session:
        session.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(key)).values(revoked_at=utcnow())
        )


@pytest.fixture
def uncached(db: Database) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db.url, auth_cache_seconds=0), database=db)
    with TestClient(app) as test_client:
        yield test_client


def test_without_the_cache_a_revoked_key_is_refused_at_once(
    uncached: TestClient, make_account: MakeAccount, db: Database
) -> None:
    _, key = make_account("trader", "alice")
    assert uncached.get("/accounts/me", headers=auth(key)).json()["name"] == "alice"
    _revoke(db, key)
    refused = uncached.get("/accounts/me", headers=auth(key))
    assert refused.status_code == 401
    assert refused.json()["detail"] == (
        "the API key is unknown or revoked; send a live key (an admin can issue one)"
    )


def test_with_the_cache_a_worker_answers_a_known_key_from_memory(
    client: TestClient, make_account: MakeAccount, db: Database
) -> None:
    _, key = make_account("trader", "bob")
    assert client.get("/accounts/me", headers=auth(key)).status_code == 200
    _revoke(db, key)
    # within the default 30 s this worker still knows the key: the documented trade-off
    assert client.get("/accounts/me", headers=auth(key)).status_code == 200
    # an unknown key is never remembered
    assert client.get("/accounts/me", headers=auth("fut_unknown")).status_code == 401


def test_a_lookup_that_raced_a_revocation_is_not_remembered() -> None:
    callers = CallerCache(30)
    alice = Caller(account_id=1, name="alice", role=Role.TRADER)
    epoch = callers.epoch  # a request starts looking the key up…
    callers.forget("hash-of-alice-key")  # …while another revokes it and forgets it
    callers.put("hash-of-alice-key", alice, epoch)  # the stale lookup finishes
    assert callers.get("hash-of-alice-key") is None
    callers.put("hash-of-alice-key", alice, callers.epoch)  # a lookup begun afterwards
    assert callers.get("hash-of-alice-key") == alice
