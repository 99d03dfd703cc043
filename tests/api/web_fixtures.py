"""Fixtures for the web page tests (a pytest plugin: ``pytest_plugins`` in each test module):
the `make run` seeded seeded once per session, a fresh copy per test, a browser-like client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.seed import SeedReport, seed_demo
from db.migrate import upgrade
from db.session import Database
from tests.api.web_helpers import Demo, browser


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedReport]:
    """A SQLite file migrated and seeded as `make run` seeds it, once per session."""
    path = tmp_path_factory.mktemp("web-demo") / "demo.db"
    upgrade(f"sqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    try:
        with database.write() as session:
            report = seed_demo(session)
    finally:
        database.dispose()
    return path, report


@pytest.fixture
def seeded(seeded_template: tuple[Path, SeedReport], tmp_path: Path) -> Iterator[Demo]:
    """A fresh copy of the seeded demo for one test."""
    template, report = seeded_template
    path = tmp_path / "demo.db"
    shutil.copyfile(template, path)
    database = Database(f"sqlite:///{path}")
    yield Demo(database, report)
    database.dispose()


@pytest.fixture
def web(seeded: Demo) -> Iterator[TestClient]:
    """A browser-like client on the seeded demo (signed out)."""
    with browser(seeded.database) as client:
        yield client
