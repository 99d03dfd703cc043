"""The fuzzing gate: the app's own OpenAPI document is the contract, and schemathesis holds
every operation to it, on SQLite and on PostgreSQL, as an admin, a trader and nobody.

For each operation schemathesis sends valid and invalid requests (positive and negative
generation, boundary values from the coverage phase, then random ones) and runs all of its
checks on each response: no 5xx; the status code, content type, headers and body are the
documented ones; invalid data is refused and valid data accepted; plus the check below that
every error is ``application/problem+json`` with a status that matches the response's.

The world behind the API is seeded once per backend (`world`): an admin sponsor, a trader
with cash split into an open proposal's three branches, a seated council member, an adopted
metric version with observations. Each test item issues fresh keys, so an earlier case that
revoked a key does not blind a later one.

The number of examples is bounded (`EXAMPLES`, and fewer for anonymous callers, who meet a
401 at once) and the generation is derandomised, so the gate is repeatable and stays
well under three minutes on two cores. To search harder on your machine::

    FUTARCHY_FUZZ_EXAMPLES=200 FUTARCHY_FUZZ_RANDOM=1 .venv/bin/pytest tests/api/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.core.failures import Failure

from api.app import create_app
from db.identity import Account, create_account, issue_api_key
from db.session import Database
from db.settings import Settings
from db.types import utcnow
from market import funding
from market.models import AssetKind
from market.proposals import ProposalSpec, create_proposal
from tests.conftest import _truncate_all
from tests.helpers import adopt_metric

UNIT = 1_000_000
EXAMPLES = int(os.environ.get("FUTARCHY_FUZZ_EXAMPLES", "12"))
"""Examples per operation and caller in the generation phase (bounded: this is a gate)."""

RANDOM = os.environ.get("FUTARCHY_FUZZ_RANDOM") == "1"


class NotProblemJson(Failure):
    """An error response that is not a well-formed problem+json document."""

    code = "FUT001"
    checks = ("errors_are_problem_json",)
    kind_title = "Error is not problem+json"


@schemathesis.check
def errors_are_problem_json(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx is ``application/problem+json`` with type, title, status (equal to
    the response's) and a non-empty detail."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    problem: Any = None
    if content_type.startswith("application/problem+json"):
        try:
            problem = json.loads(response.content)
        except ValueError:
            problem = None
    well_formed = (
        isinstance(problem, dict)
        and problem.get("status") == response.status_code
        and all(isinstance(problem.get(k), str) for k in ("type", "title", "detail"))
        and bool(problem.get("detail"))
    )
    if not well_formed:
        raise NotProblemJson(
            operation=case.operation.label,
            title="Error is not problem+json",
            message=f"{response.status_code} with {content_type!r}: {response.text[:200]!r}",
        )
    return True


@dataclass(frozen=True)
class World:
    """The seeded database and its accounts (keys are issued per test)."""

    database: Database
    accounts: dict[str, int]


def _seed(database: Database) -> World:
    with database.write() as session:
        admin = create_account(session, "fuzz-admin", "admin")
        trader = create_account(session, "fuzz-trader", "trader")
        council = create_account(session, "fuzz-council", "council")
        adopt_metric(session)
        funding.credit(session, admin.id, 10_000 * UNIT)
        funding.credit(session, trader.id, 1_000 * UNIT)
        now = utcnow()
        proposal = create_proposal(
            session,
            admin.id,
            ProposalSpec(
                title="Fuzzed reform",
                alternatives=("A", "B"),
                asset_kind=AssetKind.SCALAR,
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=30),
                subsidy_micros=50 * UNIT,
            ),
        )
        funding.split(session, trader.id, proposal.id, 100 * UNIT)
        ids = {"admin": admin.id, "trader": trader.id, "council": council.id}
    return World(database, ids)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A migrated, seeded database per backend, shared by every fuzzed operation."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
        shutil.copyfile(template, path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("pg_url"), pool_size=5)
    try:
        yield _seed(database)
    finally:
        if request.param == "pg":
            _truncate_all(database)
        database.dispose()


def _headers(world: World, role: str) -> dict[str, str]:
    """The Authorization header of a fresh key of the role's account (none: anonymous)."""
    if role == "anonymous":
        return {}
    with world.database.write() as session:
        account = session.get(Account, world.accounts[role])
        assert account is not None
        key = issue_api_key(session, account)
    return {"Authorization": f"Bearer {key}"}


_UNSET = Database("sqlite:////nonexistent/unset.db")  # never connected: `served` replaces it
APP = create_app(Settings(database_url=_UNSET.url), database=_UNSET)
"""The app under test. Its OpenAPI document does not depend on the database, so the schema
is loaded once at import; each backend's `world` plugs its database into ``APP.state``
(every route reads the database from there). Loaded eagerly because schemathesis's lazy
``from_fixture`` loader does not run under pytest 9."""

schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    APP,
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": EXAMPLES, "deterministic": not RANDOM},
            "checks": {
                # Data the schema admits may still break a domain rule that JSON Schema
                # cannot state (weights summing to 1, shares or spend but not both, a name
                # already taken after NFKC): a 422 naming it is then the right answer. A
                # 5xx never is (not_a_server_error), nor a 429 (there is no rate limit).
                "positive_data_acceptance": {
                    "expected-statuses": ["2XX", "3XX", "401", "403", "404", "409", "422"]
                }
            },
        }
    ),
)


@pytest.fixture(scope="module")
def served(world: World) -> World:
    """`APP` serving this backend's world."""
    APP.state.database = world.database
    APP.state.settings = Settings(database_url=world.database.url)
    return world


@pytest.mark.slow
@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not RANDOM,
    database=None,
)
@pytest.mark.parametrize("role", ["admin", "trader", "anonymous"])
def test_every_operation_keeps_its_contract(case: Case, role: str, served: World) -> None:
    case.call_and_validate(headers=_headers(served, role))
