"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, an API client, accounts.

The database is built only by running the Alembic migrations, as in production.

- SQLite: migrated once per session into a template file; each test gets a fresh copy.
- PostgreSQL: one throw-away database per session on 127.0.0.1:5432 (override with
  ``FUTARCHY_TEST_PG_URL``), migrated once and truncated after each test. Tests marked
  ``pg`` are skipped, with the reason, only when no server answers, and never under
  ``CI=true``: there they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from api.app import create_app
from db.identity import create_account, issue_api_key
from db.migrate import upgrade
from db.session import Database
from db.settings import Settings
from tests.helpers import MakeAccount

PG_ADMIN_URL = os.environ.get(
    "FUTARCHY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(dsn, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test session."""
    try:
        admin = _pg_admin_connect()
    except Exception as exc:  # any connection failure means: no server here
        if os.environ.get("CI") == "true":  # CI must test PostgreSQL, never skip it
            pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"futarchy_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _truncate_all(database: Database) -> None:
    tables = [t for t in inspect(database.engine).get_table_names() if t != "alembic_version"]
    if tables:
        quoted = ", ".join(f'"{t}"' for t in tables)
        with database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty `Database`: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        url: str = request.getfixturevalue("pg_url")
        database = Database(url, pool_size=5)
        try:
            yield database
        finally:
            _truncate_all(database)
            database.dispose()


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty SQLite `Database` (for tests that need only one backend)."""
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    """An API client on the test database."""
    app = create_app(Settings(database_url=db.url), database=db)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_account(db: Database) -> MakeAccount:
    """``make_account(role, name=None) -> (account id, API key)``."""
    counter = iter(range(1, 1_000_000))

    def _make(role: str, name: str | None = None) -> tuple[int, str]:
        with db.write() as session:
            account = create_account(session, name or f"{role}-{next(counter)}", role)
            return account.id, issue_api_key(session, account)

    return _make
