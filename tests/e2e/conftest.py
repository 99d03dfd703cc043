"""Browser tests: the real server on a temporary demo database, driven by Chromium.

- The server is ``uvicorn api.asgi:app`` on 127.0.0.1 and a free port, over a temporary
  SQLite file migrated and seeded as ``make run`` seeds it (the seed's keys are kept to sign
  in with), started once per session and stopped at the end.
- The browser is Debian's Chromium at `CHROMIUM`, driven by Playwright (the PyPI package;
  never a browser download), headless, with `CHROMIUM_ARGS`. Where it is missing the tests
  skip and say why; under ``CI=true`` they fail instead (``make test`` installs it).
- Every test has a bounded timeout (`TIMEOUT_MS` per step); screenshots go to
  `ARTIFACTS` (``build/e2e``, or ``$E2E_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.seed import SeedReport, seed_demo
from db.identity import account_by_name
from db.migrate import upgrade
from db.session import Database
from db.types import utcnow
from welfare import members, motions

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "build" / "e2e"))
TIMEOUT_MS = 8_000
"""Longest wait for one step (a navigation, an element, a condition)."""
SERVER_START_S = 30.0
"""Longest wait for the server to answer /readyz."""

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


@dataclass(frozen=True)
class Server:
    """The running server: its address, the seed's keys and the open motion's id."""

    url: str
    seed: SeedReport
    motion_id: int

    def key(self, name: str) -> str:
        """A demo account's API key."""
        return self.seed.key(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str) -> tuple[SeedReport, int]:
    """Migrate and seed like ``make run``, plus one open motion for the council to vote."""
    upgrade(url)
    database = Database(url)
    try:
        with database.write() as session:
            report = seed_demo(session)
            account = account_by_name(session, "councillor")
            member = members.member_for_account(session, account.id)
            motion = motions.file_motion(
                session,
                member,
                kind="change_rules",
                title="Raise the quorum to 3/5",
                payload={"quorum": "3/5"},
                deadline=utcnow() + timedelta(days=7),
            )
            return report, motion.id
    finally:
        database.dispose()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url}/readyz within {SERVER_START_S} s")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server (uvicorn) on a temporary seeded demo database, loopback only."""
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'demo.db'}"
    seed, motion_id = _seed(url)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "ACCESS_LOG": "0"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.asgi:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    with (
        open(folder / "server.log", "wb") as log,
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log) as process,
    ):
        try:
            _wait_ready(base, process)
            yield Server(base, seed, motion_id)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _no_browser(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, headless (skips, saying why, only where it
    is missing and not under CI)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        _no_browser(f"no Chromium at {CHROMIUM} (apt-get install chromium; make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(chromium: Any, server: Server) -> Iterator[Any]:
    """``open_page(viewport=DESKTOP)``: a fresh browser context (its own cookies) and page,
    with every step bounded by `TIMEOUT_MS`; all closed after the test."""
    contexts: list[Any] = []

    def _open(viewport: dict[str, int] = DESKTOP) -> Any:
        context = chromium.new_context(viewport=viewport, base_url=server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
