"""API load benchmark: concurrent traders against one proposal, over loopback HTTP.

For each backend (SQLite with one worker; PostgreSQL with several workers):

1. build a fresh database by migrating it, and seed it through the services: traders
   with cash split into one proposal (K alternatives + the status quo), one API key each;
2. start ``futarchy serve`` on 127.0.0.1 in a subprocess;
3. run ``--clients`` concurrent traders (asyncio + httpx, one keep-alive connection each)
   for at most ``--duration`` seconds AND at most ``--max-requests`` trades, whichever
   comes first. Each trader alternates a buy and the sale of the same shares in a random
   branch market, so no one runs out of money and every trade is valid; every request has
   a fresh ``Idempotency-Key``, and every ``--retry-every``-th one is sent a second time
   with the same key (the replay must return the same trade, never a second one);
4. stop the server and verify: the stored trades are exactly the acknowledged ones (no
   lost, no duplicated trade) and `market.conservation.check_conservation` holds to the
   micro-unit (cash + conditional cash + maker P&L, no negative balance).

Reports trades/s, p50/p99 latency and errors, beside ``pgbench -b simple-update`` run on
the same machine in the same run as the physical reference for one-row updates.

Everything is bounded in count and time, talks to loopback only, and stops by itself.

Run: ``.venv/bin/python -m bench.api_load`` (both backends, 32 clients, 60 s each).
Writes ``bench/results/api_load.json`` and the ``api_load`` section of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from api.seed import seed_demo
from bench.report import (
    machine,
    markdown_table,
    median,
    percentile,
    verdict,
    write_json,
    write_section,
)
from db.identity import Role, create_account, issue_api_key
from db.migrate import upgrade
from db.session import Database
from db.types import utcnow
from market import funding
from market.conservation import check_conservation
from market.models import AssetKind, Trade
from market.proposals import ProposalSpec, create_proposal, markets_of

PG_ADMIN = os.environ.get("FUTARCHY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_TPS = 400.0
TARGET_P99_MS = 150.0
BIN = Path(sys.executable).parent
MICROS = 1_000_000
CONNECT_STAGGER_S = 0.02
"""Client ``i`` opens its connection ``i × 20 ms`` after the start (0.62 s for 32)."""


@dataclass
class Seeded:
    """What the load needs to know about the seeded database."""

    proposal_id: int
    market_ids: list[int]
    keys: list[str]


@dataclass
class LoadResult:
    """Figures of one load run."""

    backend: str
    workers: int
    clients: int
    duration_s: float = 0.0
    acknowledged: int = 0
    replays: int = 0
    replay_mismatches: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    stored_trades: int = 0
    conservation_ok: bool = False
    conservation_problems: list[str] = field(default_factory=list)

    @property
    def tps(self) -> float:
        return self.acknowledged / self.duration_s if self.duration_s else 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies_ms")
        lat = self.latencies_ms or [0.0]
        data.update(
            tps=self.tps,
            p50_ms=median(lat),
            p99_ms=percentile(lat, 99),
            max_ms=max(lat),
            lost_or_duplicated=self.stored_trades - self.acknowledged,
        )
        return data


# --- databases -----------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A fresh SQLite file in a temporary directory."""
    folder = Path(tempfile.mkdtemp(prefix="futarchy-bench-"))
    try:
        yield f"sqlite:///{folder / 'bench.db'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def pg_database(prefix: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database: ``(sqlalchemy url, libpq url)``; dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rpartition("/")[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}", f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, traders: int, alternatives: int) -> Seeded:
    """Migrate and seed: the `make run` demo (whose council adopts the metric in force),
    then traders with cash split into one more open proposal."""
    upgrade(url)
    database = Database(url)
    try:
        with database.write() as session:
            seed_demo(session)
            admin = create_account(session, "bench-admin", Role.ADMIN)
            subsidy = 1_000 * MICROS
            funding.credit(session, admin.id, subsidy)
            now = utcnow()
            proposal = create_proposal(
                session,
                admin.id,
                ProposalSpec(
                    title="Load benchmark",
                    alternatives=tuple(f"Policy {i + 1}" for i in range(alternatives)),
                    asset_kind=AssetKind.SCALAR,
                    opens_at=now - timedelta(minutes=1),
                    closes_at=now + timedelta(days=1),
                    subsidy_micros=subsidy,
                ),
            )
            keys = []
            for i in range(traders):
                account = create_account(session, f"bench-trader-{i}", Role.TRADER)
                keys.append(issue_api_key(session, account))
                funding.credit(session, account.id, 100_000 * MICROS)
                funding.split(session, account.id, proposal.id, 100_000 * MICROS)
            market_ids = [m.id for m in markets_of(session, proposal.id)]
            return Seeded(proposal.id, market_ids, keys)
    finally:
        database.dispose()


def verify(url: str, result: LoadResult, proposal_id: int, market_ids: list[int]) -> None:
    """Count the trades stored in the loaded markets (the demo seeds trades elsewhere) and
    check conservation after the load."""
    database = Database(url)
    try:
        with database.read() as session:
            stored = select(func.count(Trade.id)).where(Trade.market_id.in_(market_ids))
            result.stored_trades = int(session.scalar(stored) or 0)
            report = check_conservation(session, proposal_id)
            result.conservation_ok = report.ok
            result.conservation_problems = list(report.problems)[:20]
    finally:
        database.dispose()


# --- server --------------------------------------------------------------------------------


@contextmanager
def server(url: str, port: int, workers: int) -> Iterator[str]:
    """``futarchy serve`` on 127.0.0.1:port in a subprocess, stopped on exit. Its access
    lines are written as in production (the cost is measured) and discarded."""
    env = {**os.environ, "DATABASE_URL": url}
    cmd = [str(BIN / "futarchy"), "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} before serving")
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer within 30 s")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --- load ----------------------------------------------------------------------------------


def trade_body(outcome: int, side: str, shares_micros: int) -> dict[str, Any]:
    """The JSON body of one trade by shares (decimal string, six decimals at most)."""
    return {"outcome": outcome, "side": side, "shares": f"{shares_micros / MICROS:.6f}"}


async def _client(
    base: str,
    key: str,
    market_ids: list[int],
    result: LoadResult,
    budget: list[int],
    deadline: float,
    retry_every: int,
    rng: random.Random,
    stagger: float,
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    # Clients connect one after another, not all in one millisecond: uvicorn's workers
    # share one listening socket, and a burst of connects lands on whichever worker wakes
    # first, leaving the others idle for the whole run (keep-alive keeps them there).
    await asyncio.sleep(stagger)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        held: tuple[int, int, int] | None = None  # (market, outcome, shares) to sell next
        sent = 0
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            if held is None:
                market_id, outcome = rng.choice(market_ids), rng.randrange(2)
                shares = rng.randrange(1, 50) * MICROS // 10
                body, side = trade_body(outcome, "buy", shares), "buy"
            else:
                market_id, outcome, shares = held
                body, side = trade_body(outcome, "sell", shares), "sell"
            idem = uuid.uuid4().hex
            path = f"/markets/{market_id}/trades"
            start = time.perf_counter()
            try:
                response = await client.post(path, json=body, headers={"Idempotency-Key": idem})
            except httpx.HTTPError as exc:
                result.errors += 1
                if len(result.error_samples) < 10:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                continue
            result.latencies_ms.append((time.perf_counter() - start) * 1000.0)
            if response.status_code not in (200, 201):
                result.errors += 1
                if len(result.error_samples) < 10:
                    result.error_samples.append(f"{response.status_code}: {response.text[:300]}")
                held = None
                continue
            result.acknowledged += 1
            held = (market_id, outcome, shares) if side == "buy" else None
            sent += 1
            if retry_every and sent % retry_every == 0:
                again = await client.post(path, json=body, headers={"Idempotency-Key": idem})
                result.replays += 1
                if again.status_code != response.status_code or again.json() != response.json():
                    result.replay_mismatches += 1


async def _load(
    base: str,
    seeded: Seeded,
    result: LoadResult,
    duration: float,
    max_requests: int,
    retry_every: int,
    seed_value: int,
) -> None:
    budget = [max_requests]
    start = time.monotonic()
    deadline = start + duration
    await asyncio.gather(
        *(
            _client(
                base,
                seeded.keys[i],
                seeded.market_ids,
                result,
                budget,
                deadline,
                retry_every,
                random.Random(seed_value + i),
                i * CONNECT_STAGGER_S,
            )
            for i in range(result.clients)
        )
    )
    result.duration_s = time.monotonic() - start


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_backend(backend: str, args: argparse.Namespace) -> LoadResult:
    """Seed, serve, load and verify one backend."""
    port = args.port or free_port()
    workers = 1 if backend == "sqlite" else args.pg_workers
    result = LoadResult(backend=backend, workers=workers, clients=args.clients)
    databases = sqlite_database() if backend == "sqlite" else pg_database("futarchy_bench")
    with databases as handle:
        url = handle if isinstance(handle, str) else handle[0]
        seeded = seed(url, args.clients, args.alternatives)
        with server(url, port, workers) as base:
            asyncio.run(
                _load(
                    base,
                    seeded,
                    result,
                    args.duration,
                    args.max_requests,
                    args.retry_every,
                    args.seed,
                )
            )
        verify(url, result, seeded.proposal_id, seeded.market_ids)
    return result


def pgbench_tps(clients: int, seconds: int) -> float | None:
    """``pgbench -b simple-update`` tps on a scratch database, or None without pgbench."""
    if shutil.which("pgbench") is None:
        return None
    with pg_database("pgbench_ref") as (_, libpq):
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "4", libpq],
            check=True,
            capture_output=True,
            timeout=300,
        )
        out = subprocess.run(
            [
                "pgbench",
                "-b",
                "simple-update",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-n",
                libpq,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    match = re.search(r"tps = ([0-9.]+)", out.stdout)
    return float(match.group(1)) if match else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the load on each backend, then pgbench; write JSON and the BENCHMARKS section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per backend")
    parser.add_argument("--max-requests", type=int, default=60_000, help="trades per backend")
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument("--alternatives", type=int, default=2)
    parser.add_argument("--retry-every", type=int, default=50)
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--no-write", action="store_true", help="print only (smoke runs)")
    args = parser.parse_args(argv)

    backends = ["sqlite", "pg"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args) for b in backends]
    pgbench = pgbench_tps(args.clients, args.pgbench_seconds) if "pg" in backends else None
    summaries = [r.summary() for r in results]
    data: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args),
        "results": summaries,
        "pgbench_simple_update_tps": pgbench,
    }
    for s in summaries:
        print(
            f"{s['backend']}: {s['tps']:.0f} trades/s, p50 {s['p50_ms']:.1f} ms, "
            f"p99 {s['p99_ms']:.1f} ms, errors {s['errors']}, "
            f"stored-acknowledged {s['lost_or_duplicated']}, replays {s['replays']} "
            f"({s['replay_mismatches']} mismatched), conservation "
            f"{'ok' if s['conservation_ok'] else s['conservation_problems']}"
        )
    if pgbench is not None:
        print(f"pgbench simple-update: {pgbench:.0f} tps")
    if not args.no_write:
        _write(data, args)
    return data


def _write(data: dict[str, Any], args: argparse.Namespace) -> None:
    path = write_json("api_load", data)
    m = data["machine"]
    rows = []
    for s in data["results"]:
        good = (
            s["tps"] >= TARGET_TPS
            and s["p99_ms"] <= TARGET_P99_MS
            and s["errors"] == 0
            and s["lost_or_duplicated"] == 0
            and s["replay_mismatches"] == 0
            and s["conservation_ok"]
        )
        backend = (
            "SQLite, 1 worker"
            if s["backend"] == "sqlite"
            else f"PostgreSQL, {s['workers']} workers"
        )
        rows.append(
            [
                backend,
                f"{s['tps']:.0f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                s["errors"],
                s["acknowledged"],
                s["lost_or_duplicated"],
                f"{s['replays']} / {s['replay_mismatches']}",
                "ok" if s["conservation_ok"] else "FAILED",
                verdict(good),
            ]
        )
    table = markdown_table(
        [
            "backend",
            "trades/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "trades",
            "lost or duplicated",
            "replays / mismatched",
            "conservation",
            "target",
        ],
        rows,
    )
    pg = data["pgbench_simple_update_tps"]
    reference = (
        f"Physical reference, same machine, same run: `pgbench -b simple-update -c "
        f"{args.clients} -j 2 -T {args.pgbench_seconds}` = **{pg:.0f} tps**."
        if pg is not None
        else "pgbench was not run (PostgreSQL backend not selected or pgbench missing)."
    )
    write_section(
        "api_load",
        f"## API load (trades over loopback HTTP)\n\n"
        f"Command: `.venv/bin/python -m bench.api_load` ({args.clients} clients, at most "
        f"{args.duration:.0f} s and {args.max_requests} trades per backend, server and load on "
        f"the same 2 cores), {m['measured_at']}, commit `{m['commit']}`. Raw figures: "
        f"`bench/results/{path.name}`. Target: ≥ {TARGET_TPS:.0f} trades/s, p99 ≤ "
        f"{TARGET_P99_MS:.0f} ms, zero errors, zero lost or duplicated trades.\n\n"
        f"{table}\n\n{reference}\n",
    )


if __name__ == "__main__":
    main()
