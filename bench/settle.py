"""Settlement benchmark: settle one proposal with 10,000 traders and 100,000 trades.

Issue 10: settling a proposal must take at most 10 s on SQLite and on PostgreSQL on this
machine, and its cost must grow with the number of traders, not of trades (`settle` reads
the proposal's stakes, branch cash and the executed market's positions, never the trades
or the ledger).

For each configuration (traders, trades) and each backend:

1. a fresh database is migrated (`db.migrate.upgrade`); a one-component metric on
   ``[0, 1]`` is adopted; a sponsor creates a scalar proposal with one alternative and the
   status quo (``F`` = 1,000 units), settling on the metric's measurement of Testland for
   2030 at a cut-off (`market.proposals.create_proposal`);
2. the traders are inserted in bulk (one executemany per table): each is credited
   200 units and splits them into the proposal, written as `market.funding.credit` and
   ``split`` would (cash row, ``credit`` and ``split`` ledger legs, stake, branch cash in
   both markets, the proposal's collateral);
3. the trades are generated in Python with the pure book (`market.book.quote_buy` on a
   `market.book.Book` with the market's ``b``: a random trader, branch and outcome and
   0.1–1 share each, from a seeded numpy Generator). The generator keeps each trader's
   branch cash, spend and positions and each market's ``q``, maker cash, trade count and
   averaging state as `market.trading.execute` would, then inserts the end state in bulk:
   the trades, two ledger legs per trade, positions, branch cash, the market rows.
   `market.conservation.check_conservation` is run once before settling, on the
   smallest configuration, to show the generator leaves exactly what real trades leave;
4. the decision is recorded (branch 0 executed, it settles), an observation stored,
   measured (``W = 0.725``) and certified;
5. `market.settling.settle` runs in its own write transaction, commit included
   (``time.perf_counter``), ``--repeats`` times, each on a fresh copy of the prepared
   database (SQLite: a copy of the file; PostgreSQL: ``CREATE DATABASE … TEMPLATE``).
   Each settlement must pay every trader; conservation is checked after the first
   settlement of each configuration.

Unless ``--no-profile`` is given, one more settlement of the largest configuration per
backend, outside the timed samples, records the time spent in each SQL statement (cursor
events), and on SQLite also runs under cProfile.

Run: ``.venv/bin/python -m bench.settle`` (``--backends sqlite,pg``, ``--repeats 3``,
``--quick`` for a small smoke size). Writes ``bench/results/settle.json`` and the
``settle`` section of ``BENCHMARKS.md`` (``--quick`` writes ``settle-quick.json`` only).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Engine, Table, event, func, insert, select, update
from sqlalchemy.orm import Session

from bench.report import machine, markdown_table, median, verdict, write_json, write_section
from db.identity import Account, create_account
from db.migrate import upgrade
from db.session import Database
from db.types import utcnow
from market import funding
from market import repository as repo
from market.assets import ScalarAsset
from market.book import MICROS, Book, quote_buy
from market.conservation import check_conservation
from market.decision import DecisionRule, TwapState, advance, decide, initial_state
from market.ledger import Holder, LedgerEntry, Leg, OperationKind
from market.models import AssetKind, Market, Proposal
from market.proposals import ProposalSpec, SettlesOnSpec, create_proposal
from market.settlement_models import Decision, Payout, Settlement
from market.settling import settle
from welfare.measurement_service import certify_measurement, measure
from welfare.metric_service import adopt_version, create_version
from welfare.observation_service import (
    ObservationInput,
    append_observations,
    create_indicator,
    find_indicator,
)
from welfare.records import VersionStatus

CONFIGS: tuple[tuple[int, int], ...] = ((1_000, 100_000), (10_000, 10_000), (10_000, 100_000))
"""(traders, trades) of a full run."""

QUICK_CONFIGS: tuple[tuple[int, int], ...] = ((20, 2_000), (200, 200), (200, 2_000))
"""(traders, trades) of ``--quick``: the same shape, a hundredth of the size."""

TARGET_S = 10.0
DEPOSIT = 200 * MICROS
"""What each trader splits into the proposal (micro-units)."""
SUBSIDY = 1_000 * MICROS
"""``F``, the sponsor's subsidy (micro-units): ``b = ⌊F / ln 2⌋`` ≈ 1,443 units."""
MIN_SHARES, MAX_SHARES = MICROS // 10, MICROS
"""Each trade buys between 0.1 and 1 share (micro-shares, uniform)."""

INDICATOR = "score"
ENTITY, PERIOD, YEAR = "Testland", "2030", 2030
CUTOFF, RELEASED = date(2031, 6, 30), date(2031, 1, 1)
W = 0.725
"""The certified welfare value: a LONG share pays 0.724999, a SHORT share 0.275."""
AVERAGED = (0.6, 0.5)
"""The branches' averages the decision is recorded with: branch 0 beats the status quo."""

PG_ADMIN = os.environ.get("FUTARCHY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

ACCOUNT = cast(Table, Account.__table__)
LEDGER = cast(Table, LedgerEntry.__table__)
BACKEND_NAMES = {"sqlite": "SQLite", "pg": "PostgreSQL"}


# --- databases -------------------------------------------------------------------------------


class Store(ABC):
    """Throw-away databases of one backend: fresh ones to prepare, copies to settle."""

    backend = ""

    @abstractmethod
    def fresh(self, tag: str) -> str:
        """The URL of a new, empty database."""

    @abstractmethod
    def copy(self, url: str, tag: str) -> str:
        """A copy of the (prepared, closed) database at ``url``; returns its URL."""

    @abstractmethod
    def drop(self, url: str) -> None:
        """Remove one database."""

    @abstractmethod
    def close(self) -> None:
        """Remove every database made here."""


class SqliteStore(Store):
    """Database files in a temporary folder; a copy is a file copy (after a checkpoint)."""

    backend = "sqlite"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="futarchy-bench-settle-"))

    def _path(self, url: str) -> Path:
        return Path(url.removeprefix("sqlite:///"))

    def fresh(self, tag: str) -> str:
        return f"sqlite:///{self.folder / f'{tag}.db'}"

    def copy(self, url: str, tag: str) -> str:
        source = self._path(url)
        with sqlite3.connect(source) as conn:  # fold the WAL into the file before copying
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        target = self.fresh(tag)
        shutil.copyfile(source, self._path(target))
        return target

    def drop(self, url: str) -> None:
        path = self._path(url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PgStore(Store):
    """Databases on the PostgreSQL server; a copy is ``CREATE DATABASE … TEMPLATE``."""

    backend = "pg"

    def __init__(self) -> None:
        import psycopg

        self.admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
        self.base = PG_ADMIN.rpartition("/")[0]
        self.prefix = f"futarchy_bench_settle_{uuid.uuid4().hex[:8]}"
        self.made: list[str] = []

    def _url(self, name: str) -> str:
        return f"{self.base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"

    def _create(self, tag: str, template: str | None) -> str:
        name = f"{self.prefix}_{tag}".lower()
        self.made.append(name)
        from_template = "" if template is None else f' TEMPLATE "{template}"'
        self.admin.execute(f'CREATE DATABASE "{name}"{from_template}')
        return self._url(name)

    def fresh(self, tag: str) -> str:
        return self._create(tag, None)

    def copy(self, url: str, tag: str) -> str:
        return self._create(tag, url.rpartition("/")[2])

    def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in self.made:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


@contextmanager
def opened(url: str) -> Iterator[Database]:
    """A `Database` on ``url``, its connections closed afterwards."""
    db = Database(url, pool_size=2)
    try:
        yield db
    finally:
        db.dispose()


# --- building the proposal -------------------------------------------------------------------


def adopt_metric(session: Session) -> str:
    """Put in force a one-component metric version of Testland on ``[0, 1]``; its id.

    What a passed ``adopt_metric_version`` motion does, with a stand-in motion id."""
    if find_indicator(session, INDICATOR) is None:
        create_indicator(session, INDICATOR, "points", "The benchmark's score")
    version = create_version(
        session,
        {
            "name": "Benchmark welfare",
            "entity": ENTITY,
            "unit": "points",
            "lo": 0.0,
            "hi": 1.0,
            "components": [
                {
                    "key": "score",
                    "indicator": INDICATOR,
                    "unit": "points",
                    "weight": 1.0,
                    "normalisation": {"kind": "goalposts", "lo": 0.0, "hi": 1.0},
                }
            ],
        },
    )
    if version.status == VersionStatus.DRAFT.value:
        adopt_version(session, version.version_id, date(2000, 1, 1), 1)
    return version.version_id


@dataclass
class _Branch:
    """One market as the generator keeps it (what `market.trading.execute` updates)."""

    market_id: int
    book: Book
    maker_cash: int
    twap: TwapState | None
    trade_count: int = 0


@dataclass(frozen=True)
class World:
    """A decided, measured proposal with its traders, ready to settle."""

    proposal_id: int
    traders: tuple[int, ...]
    rows: dict[str, int] = field(default_factory=dict)
    setup_s: float = 0.0


def _proposal(session: Session) -> Proposal:
    now = utcnow()
    sponsor = create_account(session, "sponsor", "admin").id
    funding.credit(session, sponsor, SUBSIDY)
    spec = ProposalSpec(
        title="Raise the school leaving age",
        alternatives=("Leave at 18",),
        asset_kind=AssetKind.SCALAR,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
        subsidy_micros=SUBSIDY,
        settles_on=SettlesOnSpec(period=PERIOD, entity=ENTITY, cutoff=CUTOFF),
    )
    return create_proposal(session, sponsor, spec)


def _insert_traders(session: Session, count: int) -> list[int]:
    """``count`` trader accounts (one executemany); their ids in name order."""
    now = utcnow()
    names = [f"bench-trader-{i:06d}" for i in range(count)]
    session.execute(
        insert(ACCOUNT), [{"name": n, "role": "trader", "created_at": now} for n in names]
    )
    ids = dict(
        session.execute(
            select(ACCOUNT.c.name, ACCOUNT.c.id).where(ACCOUNT.c.name.like("bench-trader-%"))
        ).all()
    )
    return [int(ids[n]) for n in names]


def _ledger_row(operation: str, kind: OperationKind, leg: Leg, at: datetime) -> dict[str, Any]:
    """The row `market.ledger.post` writes for one leg."""
    return {
        "operation": operation,
        "kind": kind.value,
        "market_id": leg.market_id,
        "holder": leg.holder.value,
        "account_id": leg.account_id,
        "proposal_id": leg.proposal_id,
        "amount_micros": leg.amount_micros,
        "created_at": at,
    }


def _fund(
    session: Session, proposal_id: int, market_ids: list[int], traders: list[int]
) -> list[dict[str, Any]]:
    """Credit every trader `DEPOSIT` and split it into the proposal, in bulk.

    Writes what `market.funding.credit` then ``split`` write for each trader: the cash row
    (``+D − D = 0``), the stake ``D``, the proposal's collateral ``+N·D``; returns the ledger
    rows of both operations (the branch cash rows are written with the trades' end state).
    """
    now = utcnow()
    session.execute(insert(repo.CASH), [{"account_id": a, "cash_micros": 0} for a in traders])
    session.execute(
        insert(repo.STAKE),
        [{"account_id": a, "proposal_id": proposal_id, "deposit_micros": DEPOSIT} for a in traders],
    )
    session.execute(
        update(repo.PROPOSAL)
        .where(repo.PROPOSAL.c.id == proposal_id)
        .values(collateral_micros=repo.PROPOSAL.c.collateral_micros + DEPOSIT * len(traders))
    )
    rows: list[dict[str, Any]] = []
    for a in traders:
        credit = uuid.uuid4().hex
        rows.append(_ledger_row(credit, OperationKind.CREDIT, Leg(Holder.OUTSIDE, -DEPOSIT), now))
        rows.append(
            _ledger_row(
                credit, OperationKind.CREDIT, Leg(Holder.ACCOUNT, DEPOSIT, account_id=a), now
            )
        )
        split = uuid.uuid4().hex
        for leg in funding._split_legs(a, proposal_id, market_ids, DEPOSIT):
            rows.append(_ledger_row(split, OperationKind.SPLIT, leg, now))
    return rows


@dataclass
class _Trades:
    """The end state of the generated trades, as rows to insert."""

    trades: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    branch_cash: list[dict[str, Any]]


def _generate(
    rng: np.random.Generator,
    proposal: Proposal,
    branches: list[_Branch],
    traders: list[int],
    count: int,
) -> _Trades:
    """``count`` buys by random traders, priced and applied as `market.trading.execute`
    does, spread evenly over the hour of trading before now."""
    rule = DecisionRule.from_dict(proposal.decision_rule or {})
    assert proposal.decides_at is not None
    decides_at = proposal.decides_at.timestamp()
    asset = ScalarAsset(proposal.lo, proposal.hi)
    who = rng.integers(0, len(traders), size=count).tolist()
    where = rng.integers(0, len(branches), size=count).tolist()
    what = rng.integers(0, 2, size=count).tolist()
    shares = rng.integers(MIN_SHARES, MAX_SHARES + 1, size=count).tolist()
    cash: dict[tuple[int, int], int] = {(a, j): DEPOSIT for a in traders for j in range(2)}
    spent: defaultdict[tuple[int, int], int] = defaultdict(int)
    held: defaultdict[tuple[int, int, int], int] = defaultdict(int)
    start, now = proposal.opens_at, utcnow()
    step = (now - start) / (count + 1)
    trades: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    for i in range(count):
        account, j, k = traders[who[i]], where[i], what[i]
        branch = branches[j]
        at = start + step * (i + 1)
        quote = quote_buy(branch.book, k, shares[i])
        c = quote.cash_micros
        if cash[(account, j)] < c:
            raise AssertionError(f"trader {account} cannot pay {c} in branch {j}")
        cash[(account, j)] -= c
        spent[(account, j)] += c
        held[(account, branch.market_id, k)] += quote.delta_micros[k]
        branch.book = branch.book.apply(quote)
        branch.maker_cash += c
        branch.trade_count += 1
        # market.trading._averaged and market.deciding.advance_market, for a buy
        after = asset.expected_welfare(quote.prices_after)
        t = at.timestamp()
        state = branch.twap
        if state is None:
            before = asset.expected_welfare(quote.prices_before)
            state = initial_state(rule, min(t, decides_at), decides_at, before)
        branch.twap = advance(state, rule, max(t, state.observed_at), after)
        trades.append(
            {
                "market_id": branch.market_id,
                "account_id": account,
                "outcome": k,
                "shares_micros": quote.delta_micros[k],
                "cash_micros": c,
                "prices_after": list(quote.prices_after),
                "created_at": at,
            }
        )
        operation = uuid.uuid4().hex
        for leg in (
            Leg(Holder.ACCOUNT, -c, branch.market_id, account_id=account),
            Leg(Holder.MAKER, c, branch.market_id),
        ):
            ledger.append(_ledger_row(operation, OperationKind.TRADE, leg, at))
    positions = [
        {"account_id": a, "market_id": m, "outcome": k, "shares_micros": s}
        for (a, m, k), s in held.items()
    ]
    branch_cash = [
        {
            "account_id": a,
            "market_id": branches[j].market_id,
            "proposal_id": proposal.id,
            "cash_micros": c,
            "spent_micros": spent.get((a, j), 0),
        }
        for (a, j), c in cash.items()
    ]
    return _Trades(trades, ledger, positions, branch_cash)


def _record_markets(session: Session, branches: list[_Branch]) -> None:
    """Each market's ``q``, maker cash, trade count and averaging state after the trades."""
    for branch in branches:
        values: dict[str, Any] = {
            "q_micros": list(branch.book.q_micros),
            "maker_cash_micros": branch.maker_cash,
            "trade_count": branch.trade_count,
        }
        if branch.twap is not None:
            values |= {
                "twap_observation": branch.twap.observation,
                "twap_observed_at": branch.twap.observed_at,
                "twap_cum_weighted": branch.twap.cum_weighted,
                "twap_window_start": branch.twap.window_start,
                "twap_last_live": branch.twap.last_live,
            }
        session.execute(update(repo.MARKET).where(repo.MARKET.c.id == branch.market_id), values)


def _decide(session: Session, proposal_id: int) -> None:
    """Record the decision from `AVERAGED` with the pure rule, closing trading (what the
    deciding service records): branch 0 is executed and the markets settle."""
    proposal = session.get(Proposal, proposal_id)
    assert proposal is not None
    assert proposal.seed_hex is not None
    rule = DecisionRule.from_dict(proposal.decision_rule or {})
    d = decide(rule, AVERAGED, 1, bytes.fromhex(proposal.seed_hex), proposal.id)
    assert (d.executed, d.settles) == (0, True), d
    session.add(
        Decision(
            proposal_id=proposal.id,
            rule_hash=proposal.decision_rule_hash or "",
            averaged=list(d.averaged),
            best_index=d.best_alternative,
            margin=d.margin,
            greedy_index=d.greedy,
            distribution=list(d.distribution),
            seed_hex=proposal.seed_hex,
            draw_u=d.u,
            executed_index=d.executed,
            explored=d.explored,
            settles=d.settles,
        )
    )
    proposal.status = "decided"
    session.execute(update(Market).where(Market.proposal_id == proposal.id).values(status="closed"))
    session.flush()


def prepare(url: str, traders: int, trades: int, seed: int, *, conserve: bool) -> World:
    """Migrate ``url`` and build a decided, measured, certified proposal with ``traders``
    traders and ``trades`` trades (see the module docstring)."""
    started = time.perf_counter()
    upgrade(url)
    with opened(url) as db:
        with db.write() as s:
            version = adopt_metric(s)
            proposal = _proposal(s)
            markets = list(
                s.scalars(
                    select(Market).where(Market.proposal_id == proposal.id).order_by(Market.id)
                )
            )
            market_ids = [m.id for m in markets]
            assert [m.branch_index for m in markets] == [0, 1]
            branches = [
                _Branch(
                    m.id,
                    Book(tuple(m.q_micros), m.b_micros),
                    m.maker_cash_micros,
                    None
                    if m.twap_observation is None
                    else TwapState(
                        float(m.twap_observation),
                        float(m.twap_observed_at or 0.0),
                        float(m.twap_cum_weighted or 0.0),
                        float(m.twap_window_start or 0.0),
                        float(m.twap_last_live or 0.0),
                    ),
                )
                for m in markets
            ]
            ids = _insert_traders(s, traders)
            ledger = _fund(s, proposal.id, market_ids, ids)
            made = _generate(np.random.default_rng(seed), proposal, branches, ids, trades)
            s.execute(insert(LEDGER), ledger + made.ledger)
            s.execute(insert(repo.BRANCH_CASH), made.branch_cash)
            if made.trades:
                s.execute(insert(repo.TRADE), made.trades)
            if made.positions:
                s.execute(insert(repo.POSITION), made.positions)
            _record_markets(s, branches)
            proposal_id = proposal.id
        rows = {
            "ledger_entries": len(ledger) + len(made.ledger),
            "trades": len(made.trades),
            "positions": len(made.positions),
            "branch_cash": len(made.branch_cash),
        }
        if conserve:
            with db.read() as s:
                report = check_conservation(s)
            assert report.ok, report.problems[:10]
            assert report.totals["trades"] == trades, report.totals
        with db.write() as s:
            _decide(s, proposal_id)
        with db.write() as s:
            append_observations(s, INDICATOR, [ObservationInput(ENTITY, YEAR, W, RELEASED)])
            measurement = measure(s, version, YEAR, CUTOFF)
            certify_measurement(s, measurement.id, 1)
        if not db.is_sqlite:
            # what autovacuum would have done by now; in autocommit, or the statistics
            # roll back with the connection's transaction when it is returned to the pool
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    return World(proposal_id, tuple(ids), rows, time.perf_counter() - started)


# --- settling --------------------------------------------------------------------------------


@dataclass
class StatementTimes:
    """Time spent per SQL statement (cursor events), grouped by the statement's start."""

    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def attach(self, engine: Engine) -> Callable[[], None]:
        """Listen on ``engine``; returns the function that stops listening."""

        def before(_c: Any, _cur: Any, _stmt: str, _p: Any, context: Any, _many: bool) -> None:
            context._bench_started = time.perf_counter()

        def after(_c: Any, _cur: Any, statement: str, _p: Any, context: Any, _many: bool) -> None:
            label = _label(statement)
            self.seconds[label] += time.perf_counter() - context._bench_started
            self.calls[label] += 1

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)

        def detach() -> None:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)

        return detach

    def top(self, count: int) -> list[dict[str, Any]]:
        """The ``count`` statements that took longest, longest first."""
        ordered = sorted(self.seconds.items(), key=lambda kv: -kv[1])[:count]
        return [{"statement": s, "seconds": t, "calls": self.calls[s]} for s, t in ordered]


def _label(statement: str) -> str:
    """A statement's first words (enough to tell the statements of `settle` apart)."""
    text = re.sub(r"\s+", " ", statement).strip()
    text = re.sub(r"VALUES \(.*", "VALUES (…)", text)
    text = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", text)
    return text[:90] + ("…" if len(text) > 90 else "")


PHASES: dict[str, str] = {
    "_lock": "lock the proposal and its markets",
    "settlement_of": "look for an earlier settlement",
    "_ending": "decide how it ends (void motions, decision, certified measurement)",
    "_holdings": "read stakes, branch cash and positions",
    "_check_backed": "check every branch is fully backed",
    "_plan": "compute the payouts (pure)",
    "_credit": "credit every trader's and the sponsor's cash (upsert)",
    "_insert_payouts": "insert one payout row per trader",
    "_legs": "build the ledger legs (pure)",
    "post": "post the settle operation (ledger INSERT)",
    "_zero_holdings": "zero branch cash and positions (2 UPDATEs)",
}
"""The functions of `market.settling` timed in the instrumented settlement, and what each does."""


@contextmanager
def timed_phases(seconds: defaultdict[str, float]) -> Iterator[None]:
    """Time each function of `PHASES` while inside (wall time, no profiler): `settle` and
    ``_finish`` look them up in their module when called, so wrapping the module's names
    times every call."""
    import market.settling as module

    originals = {name: getattr(module, name) for name in PHASES}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - started

        return wrapper

    for name, function in originals.items():
        setattr(module, name, timed(name, function))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


@dataclass(frozen=True)
class Instrumented:
    """What the untimed settlements of the largest configuration show.

    Attributes:
        seconds: the instrumented settlement, commit included.
        phases: seconds in each function of `PHASES`, then the rest of ``settle`` and the
            commit, in the order they run.
        statements: the statements with most time in the driver (cursor events; on SQLite
            a SELECT's rows are mostly fetched after the event, so its time shows less).
        profile: cProfile's top entries by cumulative time (SQLite only; a separate run).
        profile_text: the same, as pstats prints it.
    """

    seconds: float
    phases: list[dict[str, Any]]
    statements: list[dict[str, Any]]
    profile: list[dict[str, Any]]
    profile_text: str


def _settle_once(db: Database, proposal_id: int) -> float:
    """Seconds to settle ``proposal_id`` in one write transaction, commit included."""
    with db.read() as s:  # connect first: the pool's connection is not part of the figure
        s.scalar(select(Proposal.status).where(Proposal.id == proposal_id))
    started = time.perf_counter()
    with db.write() as s:
        row = settle(s, proposal_id)
        kind = row.kind
    elapsed = time.perf_counter() - started
    assert kind == "settled", kind
    return elapsed


def check_paid(db: Database, world: World, *, conserve: bool) -> int:
    """Every trader was paid (a payout row, and exactly that much cash); optionally the
    whole database's conservation check. Returns the settle operation's ledger legs."""
    with db.read() as s:
        settlement = s.scalar(select(Settlement).where(Settlement.proposal_id == world.proposal_id))
        assert settlement is not None
        assert settlement.kind == "settled"
        pay = cast(Table, Payout.__table__).c
        paid = s.execute(
            select(func.count(), func.sum(pay.paid_micros))
            .select_from(
                cast(Table, Payout.__table__).join(
                    repo.CASH, repo.CASH.c.account_id == pay.account_id
                )
            )
            .where(
                pay.proposal_id == world.proposal_id,
                pay.paid_micros > 0,
                repo.CASH.c.cash_micros == pay.paid_micros,
            )
        ).one()
        assert int(paid[0]) == len(world.traders), (paid, len(world.traders))
        assert int(paid[1]) == settlement.paid_micros, (paid, settlement.paid_micros)
        if conserve:
            report = check_conservation(s)
            assert report.ok, report.problems[:10]
        legs = s.scalar(
            select(func.count())
            .select_from(LEDGER)
            .where(
                LEDGER.c.proposal_id == world.proposal_id,
                LEDGER.c.kind == OperationKind.SETTLE.value,
            )
        )
        return int(legs or 0)


def instrumented(db: Database, proposal_id: int) -> tuple[float, list[Any], list[Any]]:
    """Settle once with every phase and statement timed: (seconds, phases, statements)."""
    times = StatementTimes()
    phases: defaultdict[str, float] = defaultdict(float)
    with db.read() as s:
        s.scalar(select(Proposal.status).where(Proposal.id == proposal_id))
    detach = times.attach(db.engine)
    try:
        with timed_phases(phases):
            started = time.perf_counter()
            with db.write() as s:
                settle(s, proposal_id)
                returned = time.perf_counter()
            elapsed = time.perf_counter() - started
    finally:
        detach()
    commit = elapsed - (returned - started)
    times.seconds["COMMIT"] += commit
    times.calls["COMMIT"] += 1
    rows = [
        {"phase": name, "what": what, "seconds": phases[name]}
        for name, what in PHASES.items()
        if name in phases
    ]
    rest = returned - started - sum(phases.values())
    rows.append(
        {
            "phase": "rest",
            "what": "the rest of settle: savepoint and settlement row, ORM flush of the "
            "markets and the proposal",
            "seconds": rest,
        }
    )
    rows.append({"phase": "commit", "what": "COMMIT", "seconds": commit})
    return elapsed, rows, times.top(12)


def profiled(db: Database, proposal_id: int) -> tuple[list[dict[str, Any]], str]:
    """Settle once under cProfile: the top entries by cumulative time, and pstats' text."""
    with db.read() as s:
        s.scalar(select(Proposal.status).where(Proposal.id == proposal_id))
    profiler = cProfile.Profile()
    profiler.enable()
    with db.write() as s:
        settle(s, proposal_id)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw = cast(dict[tuple[str, int, str], tuple[Any, ...]], stats.stats)  # type: ignore[attr-defined]
    entries = [
        {
            "function": f"{_short(path)}:{line}({name})",
            "calls": calls,
            "tottime_s": tottime,
            "cumtime_s": cumtime,
        }
        for (path, line, name), (_cc, calls, tottime, cumtime, _callers) in sorted(
            raw.items(), key=lambda kv: -kv[1][3]
        )[:30]
    ]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return entries, out.getvalue()


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# --- a run -----------------------------------------------------------------------------------


@dataclass
class Figure:
    """The timed settlements of one configuration on one backend."""

    backend: str
    traders: int
    trades: int
    samples_s: list[float]
    setup_s: float
    rows: dict[str, int]
    conserved_before: bool

    @property
    def median_s(self) -> float:
        return median(self.samples_s)


def _extra_runs(store: Store, base: str, tag: str, world: World) -> Instrumented:
    """The untimed settlements: phases and statements; cProfile on SQLite."""
    url = store.copy(base, f"{tag}_phases")
    try:
        with opened(url) as db:
            seconds, phases, statements = instrumented(db, world.proposal_id)
            check_paid(db, world, conserve=False)
    finally:
        store.drop(url)
    entries: list[dict[str, Any]] = []
    text = ""
    if store.backend == "sqlite":
        url = store.copy(base, f"{tag}_profile")
        try:
            with opened(url) as db:
                entries, text = profiled(db, world.proposal_id)
        finally:
            store.drop(url)
    return Instrumented(seconds, phases, statements, entries, text)


def run_backend(
    store: Store,
    configs: Sequence[tuple[int, int]],
    repeats: int,
    seed: int,
    *,
    instrument: bool,
) -> tuple[list[Figure], Instrumented | None]:
    """Every configuration on one backend; the instrumented run of the largest one."""
    figures: list[Figure] = []
    instrumented = None
    smallest = min(configs, key=lambda c: c[0] + c[1])
    largest = max(configs, key=lambda c: (c[0] * c[1], c))
    for traders, trades in configs:
        tag = f"t{traders}_n{trades}"
        base = store.fresh(f"{tag}_prep")
        conserve = (traders, trades) == smallest
        world = prepare(base, traders, trades, seed, conserve=conserve)
        samples = []
        legs = 0
        for r in range(repeats):
            url = store.copy(base, f"{tag}_run{r}")
            try:
                with opened(url) as db:
                    samples.append(_settle_once(db, world.proposal_id))
                    legs = check_paid(db, world, conserve=r == 0)
            finally:
                store.drop(url)
            print(
                f"  {store.backend} {traders} traders, {trades} trades: settle {samples[-1]:.3f} s",
                flush=True,
            )
        if instrument and (traders, trades) == largest:
            instrumented = _extra_runs(store, base, tag, world)
        store.drop(base)
        figures.append(
            Figure(
                store.backend,
                traders,
                trades,
                samples,
                world.setup_s,
                world.rows | {"settle_ledger_legs": legs},
                conserve,
            )
        )
        print(
            f"{store.backend} {traders} traders, {trades} trades: median "
            f"{figures[-1].median_s:.3f} s (setup {world.setup_s:.1f} s)",
            flush=True,
        )
    return figures, instrumented


def ratios(figures: Sequence[Figure], configs: Sequence[tuple[int, int]]) -> dict[str, float]:
    """time(T, N) / time(T, N/10) and time(T, N) / time(T/10, N) of the configurations
    ``(T/10, N)``, ``(T, N/10)``, ``(T, N)`` (given in that order)."""
    by = {(f.traders, f.trades): f.median_s for f in figures}
    (few_traders, _), (_, few_trades), full = configs
    return {
        "trades_x10": by[full] / by[(full[0], few_trades)],
        "traders_x10": by[full] / by[(few_traders, full[1])],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark on each backend; write the JSON and the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backends", default="sqlite,pg", help="comma-separated: sqlite,pg")
    parser.add_argument("--repeats", type=int, default=3, help="timed settlements per figure")
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the instrumented settlement of the largest configuration",
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKEND_NAMES)
    if unknown or not backends:
        parser.error(f"unknown backend(s) {sorted(unknown)}; choose from sqlite, pg")
    configs = QUICK_CONFIGS if args.quick else CONFIGS

    started = time.perf_counter()
    figures: list[Figure] = []
    instrumented: dict[str, Instrumented] = {}
    for backend in backends:
        store: Store = SqliteStore() if backend == "sqlite" else PgStore()
        try:
            found, extra = run_backend(
                store, configs, args.repeats, args.seed, instrument=args.profile
            )
        finally:
            store.close()
        figures += found
        if extra is not None:
            instrumented[backend] = extra
    wall = time.perf_counter() - started

    growth = {b: ratios([f for f in figures if f.backend == b], configs) for b in backends}
    result: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args),
        "wall_s": wall,
        "target_s": TARGET_S,
        "figures": [
            {
                "backend": f.backend,
                "traders": f.traders,
                "trades": f.trades,
                "median_s": f.median_s,
                "samples_s": f.samples_s,
                "target_met": f.median_s <= TARGET_S,
                "setup_s": f.setup_s,
                "rows": f.rows,
                "conservation_checked_before_settling": f.conserved_before,
            }
            for f in figures
        ],
        "ratios": growth,
        "instrumented": {
            b: {
                "seconds": i.seconds,
                "phases": i.phases,
                "statements": i.statements,
                "profile_top": i.profile,
            }
            for b, i in instrumented.items()
        },
    }
    path = write_json("settle-quick" if args.quick else "settle", result)
    for b, i in instrumented.items():
        print(f"\n{BACKEND_NAMES[b]}: instrumented settlement {i.seconds:.3f} s; phases:")
        for p in i.phases:
            print(f"  {p['seconds']:8.3f} s  {p['phase']}: {p['what']}")
        print("statements:")
        for s in i.statements[:8]:
            print(f"  {s['seconds']:8.3f} s  {s['calls']:6d}×  {s['statement']}")
        if i.profile_text:
            print(i.profile_text)
    if not args.quick:
        write_section("settle", _markdown(result, argv, configs, path))
    print(f"wall {wall:.0f} s -> {path}")
    return result


def _markdown(
    result: dict[str, Any],
    argv: list[str] | None,
    configs: Sequence[tuple[int, int]],
    path: Path,
) -> str:
    m = result["machine"]
    given = " ".join(sys.argv[1:] if argv is None else argv)
    command = f"`.venv/bin/python -m bench.settle{' ' + given if given else ''}`"
    rows = []
    for f in result["figures"]:
        rows.append(
            [
                BACKEND_NAMES[f["backend"]],
                f"{f['traders']:,}",
                f"{f['trades']:,}",
                f"{f['median_s']:.2f}",
                " / ".join(f"{x:.2f}" for x in f["samples_s"]),
                f"{f['rows']['settle_ledger_legs']:,}",
                f"{f['setup_s']:.0f}",
                verdict(f["target_met"]),
            ]
        )
    table = markdown_table(
        [
            "backend",
            "traders",
            "trades",
            "median s",
            "samples s",
            "settle ledger legs",
            "set-up s (not timed)",
            f"target ≤ {TARGET_S:.0f} s",
        ],
        rows,
    )
    (few, _), (_, few_trades), full = configs
    growth = []
    for b, r in result["ratios"].items():
        growth.append(
            f"- {BACKEND_NAMES[b]}: time({full[0]:,} traders, {full[1]:,} trades) / "
            f"time({full[0]:,}, {few_trades:,}) = **{r['trades_x10']:.2f}** (10× the trades); "
            f"time({full[0]:,}, {full[1]:,}) / time({few:,}, {full[1]:,}) = "
            f"**{r['traders_x10']:.2f}** (10× the traders)"
        )
    detail = ""
    inst = result["instrumented"]
    if inst:
        names = list(inst)
        phase_rows = []
        for n, phase in enumerate(inst[names[0]]["phases"]):
            row: list[object] = [f"`{phase['phase']}`: {phase['what']}"]
            for b in names:
                p = inst[b]["phases"][n]
                row.append(f"{p['seconds']:.3f} ({100 * p['seconds'] / inst[b]['seconds']:.0f}%)")
            phase_rows.append(row)
        phase_rows.append(["total", *(f"{inst[b]['seconds']:.3f}" for b in names)])
        phases = markdown_table(
            ["phase of `settle`", *(f"{BACKEND_NAMES[b]} s" for b in names)], phase_rows
        )
        heaviest = "; ".join(
            f"{BACKEND_NAMES[b]}: `{inst[b]['statements'][0]['statement']}` "
            f"{inst[b]['statements'][0]['seconds']:.3f} s"
            for b in names
        )
        detail = (
            f"Where the time goes, {full[0]:,} traders and {full[1]:,} trades: one more "
            "settlement per backend outside the samples, each phase timed by wrapping the "
            "functions of `market.settling` (wall time, no profiler; the instrumented run is "
            f"one sample, so it may differ from the medians):\n\n{phases}\n\n"
            f"Heaviest statement (driver time, cursor events): {heaviest}.\n"
        )
        top = inst.get("sqlite", {}).get("profile_top", [])
        if top:
            ours = [e for e in top if e["function"].startswith(("market/", "db/"))]
            listed = "; ".join(f"`{e['function']}` {e['cumtime_s']:.3f} s" for e in ours[:6])
            driver = next((e for e in top if "executemany" in e["function"]), None)
            spent = (
                ""
                if driver is None
                else f"; in the driver's `executemany`: {driver['cumtime_s']:.3f} s"
            )
            detail += (
                "\ncProfile of one more SQLite settlement (profiler overhead included), the "
                f"project's functions with the most cumulative time: {listed}{spent} "
                "(top 30 entries in the JSON).\n"
            )
    return (
        "## Settlement (one proposal, `market.settling.settle`)\n\n"
        f"Command: {command} (a fresh database per configuration, {result['args']['repeats']} "
        f"timed settlements each on a fresh copy), {m['measured_at']}, commit `{m['commit']}`, "
        f"Python {m['python']}, {m['cpu_count']} cores; the whole run took "
        f"{result['wall_s'] / 60:.1f} min. Raw figures: `bench/results/{path.name}`.\n\n"
        "A binary scalar proposal (one alternative and the status quo, F = 1,000 units); "
        f"every trader splits {DEPOSIT // MICROS} units into it; the trades are buys of 0.1 to "
        "1 share by random traders in random branches and outcomes, priced by the LMSR book "
        "and written in bulk exactly as the trading service leaves them (conservation checked "
        "before settling on the smallest configuration, and after the first settlement of "
        "each). Decided for branch 0, settled against a certified W = 0.725. A sample is "
        "`settle` in its own write transaction, commit included.\n\n"
        f"{table}\n\n"
        "Growth (ratios of medians; ≈ 1 for 10× the trades means the time grows with the "
        "traders, not the trades; what does grow with the trades is the number of traders "
        "holding shares of the executed market, at most traders × outcomes, hence the ledger "
        "legs and position rows written):\n\n" + "\n".join(growth) + "\n\n" + detail
    )


if __name__ == "__main__":
    main()
