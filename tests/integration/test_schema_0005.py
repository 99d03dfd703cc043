"""Revision 0005 (decide and settle): the upgrade from the two heads keeps and backfills the
stored data, the downgrade reverses it, and the services keep the new columns current.

The upgrade test builds a database at ``0003_council`` + ``0004_metrics`` with raw SQL (so it
does not depend on today's models): accounts, a stored metric version and measurement,
three proposals (one bound to the stored version, one to an opaque id, one to an id longer
than a version id), two funded branch markets with splits, a merge and trades, and motions
of every kind. Then it upgrades and checks every backfill against numbers written out.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.exc import IntegrityError

from db.base import Base
from db.migrate import alembic_config, check, downgrade, upgrade
from db.session import Database
from db.types import UTCDateTime
from market import funding, repository
from market.conservation import check_conservation
from market.decision import DecisionRule, commitment
from market.models import BranchCash, Market, Proposal, ProposalStatus
from market.proposal_rule import SettlesOn, canonical_json, default_rule, rule_hash
from market.settlement_models import Decision, Payout, Settlement, Stake
from market.trading import Order, Side, execute
from tests.integration.trading_helpers import UNIT, build_world
from welfare.council import Motion

PG_ADMIN_URL = os.environ.get(
    "FUTARCHY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

UNMERGE = "0003_council"
"""Downgrading from the merge to one of its parents leaves both heads ("-1" is ambiguous)."""

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VERSION_ID = hashlib.sha256(b"test welfare metric").hexdigest()
F = 10 * UNIT


# --- a database at any revision, on either backend ---------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no revision applied): SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'heads.db'}"
        return
    import psycopg

    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any connection failure means: no server here
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"futarchy_test_0005_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _typed(value: Any) -> sa.types.TypeEngine[Any] | None:
    if isinstance(value, datetime):
        return UTCDateTime()
    if isinstance(value, date):
        return sa.Date()
    if isinstance(value, dict | list):
        return sa.JSON()
    return None


def insert(conn: Connection, table: str, **values: Any) -> None:
    """``INSERT INTO table (…) VALUES (…)`` as raw SQL, binding dates and JSON as such."""
    columns = ", ".join(values)
    params = ", ".join(f":{c}" for c in values)
    stmt = text(f"INSERT INTO {table} ({columns}) VALUES ({params})")
    binds = [sa.bindparam(c, type_=t) for c, v in values.items() if (t := _typed(v)) is not None]
    conn.execute(stmt.bindparams(*binds), values)


def versions(url: str) -> set[str]:
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        database.dispose()


# --- the data stored at the two heads -------------------------------------------------------

A, B, S, C = 1, 2, 3, 4  # traders A and B, the sponsor S, a council account C
P1, P2, P3 = 1, 2, 3
M1, M2 = 1, 2  # P1's branches: M1 the alternative, M2 the status quo
MEASUREMENT = 1
CLOSES = {
    P1: T0 + timedelta(days=2, hours=6, minutes=30),  # 54.5 h of trading: a 24 h window
    P2: T0 + timedelta(hours=5, minutes=59, seconds=59),  # 5 h 59 m 59 s: a 5 h window
    P3: T0 + timedelta(minutes=30),  # 30 min: at least 1 h
}

LEGS: list[tuple[str, list[tuple[str, int | None, str, int | None, int | None, int]]]] = [
    # (kind, [(operation, market, holder, account, proposal, amount)])
    ("credit", [("c1", None, "outside", None, None, -100 * UNIT)]),
    ("credit", [("c1", None, "account", A, None, 100 * UNIT)]),
    ("credit", [("c2", None, "outside", None, None, -50 * UNIT)]),
    ("credit", [("c2", None, "account", B, None, 50 * UNIT)]),
    ("credit", [("c3", None, "outside", None, None, -F)]),
    ("credit", [("c3", None, "account", S, None, F)]),
]


def _split_legs(op: str, account: int, amount: int) -> list[tuple[Any, ...]]:
    legs: list[tuple[Any, ...]] = [
        (op, None, "account", account, P1, -amount),
        (op, None, "collateral", None, P1, amount),
    ]
    for m in (M1, M2):
        legs += [(op, m, "collateral", None, P1, -amount), (op, m, "account", account, P1, amount)]
    return legs


def _ledger() -> list[tuple[str, tuple[Any, ...]]]:
    entries: list[tuple[str, tuple[Any, ...]]] = []
    for kind, legs in LEGS:
        entries += [(kind, leg) for leg in legs]
    subsidy = [("s1", None, "account", S, P1, -F), ("s1", None, "collateral", None, P1, F)]
    for m in (M1, M2):
        subsidy += [("s1", m, "collateral", None, P1, -F), ("s1", m, "maker", None, P1, F)]
    entries += [("subsidy", leg) for leg in subsidy]
    entries += [("split", leg) for leg in _split_legs("sp1", A, 30 * UNIT)]
    entries += [("split", leg) for leg in _split_legs("sp2", B, 20 * UNIT)]
    merge = [
        (o, m, h, a, p, -amount) for (o, m, h, a, p, amount) in _split_legs("mg1", A, 5 * UNIT)
    ]
    entries += [("merge", leg) for leg in merge]
    for op, market, account, cash in TRADES_CASH:
        entries += [
            ("trade", (op, market, "account", account, None, -cash)),
            ("trade", (op, market, "maker", None, None, cash)),
        ]
    return entries


# (operation, market, account, cash): A buys in M1, B buys in M2, A sells part in M1
TRADES_CASH = [("t1", M1, A, 2_345_678), ("t2", M2, B, 1_600_001), ("t3", M1, A, -612_345)]
TRADE_ROWS = [  # (market, account, outcome, shares, cash)
    (M1, A, 0, 4_000_000, 2_345_678),
    (M2, B, 1, 3_000_000, 1_600_001),
    (M1, A, 0, -1_000_000, -612_345),
]


def build_heads_database(url: str) -> None:
    """Migrate to the two heads and store the data described in the module docstring."""
    upgrade(url, "0003_council")
    upgrade(url, "0004_metrics")
    assert versions(url) == {"0003_council", "0004_metrics"}
    database = Database(url)
    try:
        with database.engine.begin() as conn:
            _store(conn)
    finally:
        database.dispose()


def _store(conn: Connection) -> None:
    accounts = (
        (A, "alice", "trader"),
        (B, "bob", "trader"),
        (S, "sponsor", "admin"),
        (C, "councillor", "council"),
    )
    for account, name, role in accounts:
        insert(conn, "account", id=account, name=name, role=role, created_at=T0)
    for account, cash in ((A, 75 * UNIT), (B, 30 * UNIT), (S, 0)):
        insert(conn, "cash_balance", account_id=account, cash_micros=cash)
    insert(
        conn,
        "metric_version",
        version_id=VERSION_ID,
        name="Test welfare",
        canonical="{}",
        status="adopted",
        effective_from=date(2025, 1, 1),
        adopted_by_motion_id=10,
        adopted_at=T0,
        created_at=T0,
    )
    insert(
        conn,
        "measurement",
        id=MEASUREMENT,
        version_id=VERSION_ID,
        entity="Testland",
        period="2026",
        cutoff=date(2027, 1, 1),
        value=42.5,
        breakdown=[],
        missing={},
        monte_carlo=0,
        computed_at=T0,
    )
    proposals = (
        (P1, VERSION_ID, 0.0, 100.0, 55 * UNIT, "open"),
        (P2, "gdp-v1", -10.0, 10.0, 0, "open"),
        (P3, "x" * 100, 0.0, 1.0, 0, "closed"),
    )
    for pid, metric, lo, hi, collateral, status in proposals:
        insert(
            conn,
            "proposal",
            id=pid,
            title=f"Proposal {pid}",
            description="",
            metric_version_id=metric,
            asset_kind="scalar",
            lo=lo,
            hi=hi,
            opens_at=T0,
            closes_at=CLOSES[pid],
            subsidy_micros=F,
            sponsor_account_id=S,
            collateral_micros=collateral,
            status=status,
            created_at=T0,
        )
    markets = ((M1, 0, "Do it", False, [3_000_000, 0], 11_733_333, 2),)
    markets += ((M2, 1, "Status quo", True, [0, 3_000_000], 11_600_001, 1),)
    for mid, index, name, sq, q, maker, count in markets:
        insert(
            conn,
            "market",
            id=mid,
            proposal_id=P1,
            branch_index=index,
            branch_name=name,
            is_status_quo=sq,
            outcomes=["LONG", "SHORT"],
            q_micros=q,
            b_micros=14_426_950,
            subsidy_micros=F,
            maker_cash_micros=maker,
            status="open",
            opens_at=T0,
            closes_at=CLOSES[P1],
            trade_count=count,
            created_at=T0,
        )
    for account, market, cash in (
        (A, M1, 23_266_667),  # 30 − 5 − 2.345678 + 0.612345
        (A, M2, 25 * UNIT),
        (B, M1, 20 * UNIT),
        (B, M2, 18_399_999),  # 20 − 1.600001
    ):
        insert(
            conn, "branch_cash", account_id=account, market_id=market, proposal_id=P1,
            cash_micros=cash,
        )  # fmt: skip
    insert(conn, "position", account_id=A, market_id=M1, outcome=0, shares_micros=3_000_000)
    insert(conn, "position", account_id=B, market_id=M2, outcome=1, shares_micros=3_000_000)
    for i, (market, account, outcome, shares, cash) in enumerate(TRADE_ROWS):
        insert(
            conn,
            "trade",
            market_id=market,
            account_id=account,
            outcome=outcome,
            shares_micros=shares,
            cash_micros=cash,
            prices_after=[0.5, 0.5],
            created_at=T0 + timedelta(minutes=i + 1),
        )
    for kind, (op, market, holder, account, pid, amount) in _ledger():
        insert(
            conn,
            "ledger_entry",
            operation=op.ljust(32, "0"),
            kind=kind,
            market_id=market,
            holder=holder,
            account_id=account,
            proposal_id=pid,
            amount_micros=amount,
            created_at=T0,
        )
    insert(
        conn, "council_member", id=1, name="Member", constituency="All", population=1,
        contribution=0, seats=1, account_id=C, created_at=T0,
    )  # fmt: skip
    motions = (
        (10, "adopt_metric_version", {"version_id": VERSION_ID, "effective_from": "2025-01-01"}),
        (11, "adopt_metric_version", {"version_id": "f" * 64, "effective_from": "2025-01-01"}),
        (12, "certify_measurement", {"measurement_id": MEASUREMENT}),
        (13, "certify_measurement", {"measurement_id": 999}),
        (14, "change_rules", {"quorum": "1/2"}),
    )
    for mid, kind, payload in motions:
        insert(
            conn, "motion", id=mid, kind=kind, title=f"Motion {mid}", payload=payload,
            filed_by_member_id=1, filed_at=T0, deadline=T0 + timedelta(days=7),
        )  # fmt: skip


# --- the upgrade ----------------------------------------------------------------------------


def test_upgrade_from_the_two_heads_keeps_and_backfills_the_data(empty_url: str) -> None:
    build_heads_database(empty_url)
    upgrade(empty_url, "0005_decide_settle")
    assert versions(empty_url) == {"0005_decide_settle"}
    # the checks read through today's models, so bring the schema to the head first (the
    # later revisions add indexes, a CHECK and the audit columns; no data changes)
    upgrade(empty_url)
    database = Database(empty_url)
    try:
        _check_backfills(database)
        _check_new_constraints(database)
    finally:
        database.dispose()
    command.downgrade(alembic_config(empty_url), "0005_decide_settle")
    assert versions(empty_url) == {"0005_decide_settle"}

    # the environment's own engine is left to the garbage collector when a migration
    # fails, so run the refused downgrade on a connection this test closes
    database = Database(empty_url)
    try:
        with database.engine.connect() as conn:
            config = alembic_config(empty_url)
            config.attributes["connection"] = conn
            with pytest.raises(RuntimeError, match="1 proposals decided or unwound"):
                command.downgrade(config, UNMERGE)
            conn.rollback()
        assert versions(empty_url) == {"0005_decide_settle"}
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE proposal SET status = 'closed' WHERE id = 2"))
    finally:
        database.dispose()

    downgrade(empty_url, UNMERGE)
    assert versions(empty_url) == {"0003_council", "0004_metrics"}
    database = Database(empty_url)
    try:
        with database.engine.connect() as conn:
            metric_ids = conn.execute(
                text("SELECT id, metric_version_id FROM proposal ORDER BY id")
            ).all()
            # the ids NULLed on the way up come back as the empty opaque id
            assert [tuple(r) for r in metric_ids] == [(P1, VERSION_ID), (P2, ""), (P3, "")]
            assert conn.execute(text("SELECT COUNT(*) FROM trade")).scalar() == 3
            assert conn.execute(text("SELECT COUNT(*) FROM ledger_entry")).scalar() == 36
            tables = set(inspect(conn).get_table_names())
            assert not tables & {"stake", "decision", "settlement", "payout"}
            if conn.dialect.name == "postgresql":
                types = conn.execute(
                    text(
                        "SELECT table_name, data_type FROM information_schema.columns "
                        "WHERE column_name = 'id' AND table_name IN "
                        "('trade', 'ledger_entry', 'idempotency_record') ORDER BY table_name"
                    )
                ).all()
                assert {r[1] for r in types} == {"integer"}
    finally:
        database.dispose()

    upgrade(empty_url)
    check(empty_url)


def _check_backfills(database: Database) -> None:
    with database.read() as s:
        # 2. foreign key: ids naming no stored version are NULL now
        proposals = {p.id: p for p in s.scalars(select(Proposal).order_by(Proposal.id))}
        assert [proposals[p].metric_version_id for p in (P1, P2, P3)] == [VERSION_ID, None, None]
        assert [proposals[p].status for p in (P1, P2, P3)] == ["open", "open", "closed"]

        # 4. default decision terms, one fresh seed per proposal
        expected = {
            P1: (86_400, 3_600, 1.0, "2026-01-03T06:30:00Z"),
            P2: (18_000, 3_600, 0.2, "2026-01-01T05:59:59Z"),
            P3: (3_600, 3_600, 0.01, "2026-01-01T00:30:00Z"),
        }
        for pid, (window, interval, cap, decides) in expected.items():
            p = proposals[pid]
            assert p.decision_rule == {
                "schema": "decision-rule/1",
                "window_seconds": window,
                "interval_seconds": interval,
                "cap": cap,
                "threshold": 0.0,
                "epsilon": 0.0,
                "exploration_mode": "none",
            }
            assert p.decides_at == CLOSES[pid]
            assert p.seed_hex is not None
            assert len(p.seed_hex) == 64
            assert p.seed_commitment == hashlib.sha256(bytes.fromhex(p.seed_hex)).hexdigest()
            document = (
                f'{{"decides_at":"{decides}","decision":{{"cap":{cap!r},"epsilon":0.0,'
                f'"exploration_mode":"none","interval_seconds":{interval},'
                f'"schema":"decision-rule/1","threshold":0.0,"window_seconds":{window}}},'
                f'"seed_commitment":"{p.seed_commitment}","settles_on":null}}'
            )
            assert p.decision_rule_hash == hashlib.sha256(document.encode()).hexdigest()
            assert (p.settle_entity, p.settle_period, p.settle_cutoff) == (None, None, None)
        assert len({p.seed_hex for p in proposals.values()}) == 3

        # 6. the averaging state is not started (Core columns: the schema at 0005, before
        # later revisions added columns to the model)
        columns = Market.__table__.c
        rows = s.execute(select(columns.status, columns.twap_observation, columns.twap_last_live))
        for status, observation, last_live in rows:
            assert status == "open"
            assert observation is None
            assert last_live is None

        # 3. motions: the payload's target where it is stored
        motions = {m.id: (m.metric_version_id, m.measurement_id) for m in s.scalars(select(Motion))}
        assert motions == {
            10: (VERSION_ID, None),
            11: (None, None),  # names a version that was never stored
            12: (None, MEASUREMENT),
            13: (None, None),  # names no measurement
            14: (None, None),
        }

        # 7. stakes from the ledger: splits − merges per account and proposal
        stakes = {(r.account_id, r.proposal_id): r.deposit_micros for r in s.scalars(select(Stake))}
        assert stakes == {(A, P1): 25_000_000, (B, P1): 20_000_000}  # A: 30 − 5, B: 20

        # 7. spent from the trades: charges − proceeds per account and market
        spent = {
            (r.account_id, r.market_id): (r.cash_micros, r.spent_micros)
            for r in s.scalars(select(BranchCash))
        }
        assert spent == {
            (A, M1): (23_266_667, 1_733_333),  # 2.345678 − 0.612345
            (A, M2): (25_000_000, 0),
            (B, M1): (20_000_000, 0),
            (B, M2): (18_399_999, 1_600_001),
        }

        report = check_conservation(s)
        assert report.ok, report.problems
        assert report.totals["stakes"] == 45_000_000
        assert report.totals["collateral"] == 55_000_000


def _check_new_constraints(database: Database) -> None:
    with database.engine.connect() as conn:
        # 1. ids are BIGINT on PostgreSQL, sequences included
        if conn.dialect.name == "postgresql":
            for table in ("trade", "ledger_entry", "idempotency_record"):
                kind = conn.execute(
                    text(
                        "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = :t AND column_name = 'id'"
                    ),
                    {"t": table},
                ).scalar()
                seq = conn.execute(
                    text(
                        "SELECT s.data_type FROM information_schema.sequences s "
                        "WHERE s.sequence_name = :t || '_id_seq'"
                    ),
                    {"t": table},
                ).scalar()
                assert (table, kind, seq) == (table, "bigint", "bigint")
            # the sequence carries on after the rows the heads stored
            next_id = conn.execute(text("SELECT nextval('trade_id_seq')")).scalar()
            assert next_id == 4
            conn.rollback()
    with database.engine.begin() as conn:
        # 5. the new statuses are accepted, unknown ones refused
        conn.execute(text("UPDATE proposal SET status = 'decided' WHERE id = 2"))
        conn.execute(text("UPDATE market SET status = 'void' WHERE id = 1"))
        conn.execute(text("UPDATE market SET status = 'open' WHERE id = 1"))
    for statement in (
        "UPDATE proposal SET status = 'void' WHERE id = 1",
        "UPDATE market SET status = 'decided' WHERE id = 1",
        "UPDATE market SET twap_observation = 1.0 WHERE id = 1",  # partly set
        "UPDATE proposal SET metric_version_id = 'gdp-v1' WHERE id = 2",  # the new FK
        "UPDATE motion SET kind = 'bogus' WHERE id = 14",
        "UPDATE motion SET measurement_id = 999 WHERE id = 13",
    ):
        with pytest.raises(IntegrityError), database.engine.begin() as conn:
            conn.execute(text(statement))
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE motion SET kind = 'void_proposal' WHERE id = 14"))
        conn.execute(text("UPDATE motion SET kind = 'change_rules' WHERE id = 14"))


def test_down_to_base_and_up_again(empty_url: str) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "base")
    database = Database(empty_url)
    try:
        assert inspect(database.engine).get_table_names() == ["alembic_version"]
    finally:
        database.dispose()
    upgrade(empty_url)
    check(empty_url)


# --- the schema matches the models where `alembic check` does not look ------------------

TOUCHED = (
    "proposal",
    "market",
    "motion",
    "branch_cash",
    "position",
    "trade",
    "ledger_entry",
    "idempotency_record",
    "stake",
    "decision",
    "settlement",
    "payout",
)


def _squash(sql: str) -> str:
    return " ".join(sql.split())


def test_check_constraints_match_the_models(db: Database) -> None:
    """Alembic's autogenerate ignores CHECK constraints; compare them here (names on both
    backends, the expressions on SQLite, which keeps their text verbatim)."""
    inspector = inspect(db.engine)
    for table_name in TOUCHED:
        table = Base.metadata.tables[table_name]
        model: dict[str, str] = {}
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint):
                name = str(constraint.name)
                if not name.startswith("ck_"):
                    name = f"ck_{table_name}_{name}"
                model[name] = _squash(str(constraint.sqltext))
        stored = {
            str(c["name"]): _squash(str(c["sqltext"]))
            for c in inspector.get_check_constraints(table_name)
        }
        assert set(stored) == set(model), table_name
        if db.is_sqlite:
            assert stored == model, table_name


def test_settlement_indexes_exist(db: Database) -> None:
    inspector = inspect(db.engine)
    indexed = {
        (table, tuple(ix["column_names"]))
        for table in ("ledger_entry", "position", "branch_cash", "stake", "payout")
        for ix in inspector.get_indexes(table)
    }
    for expected in (
        ("ledger_entry", ("market_id",)),
        ("ledger_entry", ("proposal_id",)),
        ("ledger_entry", ("account_id",)),
        ("position", ("market_id",)),
        ("branch_cash", ("market_id",)),
        ("branch_cash", ("proposal_id",)),
        ("stake", ("proposal_id",)),
        ("payout", ("account_id",)),
    ):
        assert expected in indexed


# --- the services keep the new columns current ----------------------------------------------


def _stake(db: Database, account: int, proposal: int) -> int:
    with db.read() as s:
        return repository.stake_of(s, account, proposal)


def _spent(db: Database, account: int, market: int) -> tuple[int, int]:
    with db.read() as s:
        row = s.scalars(
            select(BranchCash)
            .where(BranchCash.account_id == account, BranchCash.market_id == market)
            .execution_options(populate_existing=True)
        ).one()
        return row.cash_micros, row.spent_micros


def test_splits_merges_and_trades_keep_stake_and_spent(db: Database) -> None:
    world = build_world(db, traders=2, split=0)
    alice, bob = world.traders
    m0, m1 = world.market_ids
    pid = world.proposal_id
    with db.write() as s:
        funding.split(s, alice, pid, 30 * UNIT)
        funding.split(s, bob, pid, 20 * UNIT)
        funding.split(s, alice, pid, 5 * UNIT)
        funding.merge(s, alice, pid, 7 * UNIT)
    assert (_stake(db, alice, pid), _stake(db, bob, pid)) == (28 * UNIT, 20 * UNIT)

    with db.write() as s:
        buy = execute(s, alice, m0, Order(outcome=0, side=Side.BUY, shares_micros=5 * UNIT))
        sell = execute(s, alice, m0, Order(outcome=0, side=Side.SELL, shares_micros=2 * UNIT))
        other = execute(s, bob, m1, Order(outcome=1, side=Side.BUY, spend_micros=3 * UNIT))
    assert buy.cash_micros > 0
    assert sell.cash_micros > 0
    assert _spent(db, alice, m0) == (
        28 * UNIT - buy.cash_micros + sell.cash_micros,
        buy.cash_micros - sell.cash_micros,
    )
    assert _spent(db, alice, m1) == (28 * UNIT, 0)
    assert _spent(db, bob, m1) == (20 * UNIT - other.cash_micros, other.cash_micros)
    assert _spent(db, bob, m0) == (20 * UNIT, 0)
    with db.read() as s:
        report = check_conservation(s)
        assert report.ok, report.problems
        assert check_conservation(s, pid).ok


def test_a_stake_goes_negative_when_trading_gains_are_merged_out(db: Database) -> None:
    """Alice buys LONG in both branches, Bob then buys far more LONG, Alice sells at the
    higher price: she holds more conditional cash than she split in, in every branch, and
    can merge it all out. Her stake (splits − merges) is negative, as the ledger says."""
    world = build_world(db, traders=2, trader_cash=500 * UNIT, split=0)
    alice, bob = world.traders
    pid = world.proposal_id
    with db.write() as s:
        funding.split(s, alice, pid, 10 * UNIT)
        funding.split(s, bob, pid, 400 * UNIT)
        for m in world.market_ids:
            execute(s, alice, m, Order(outcome=0, side=Side.BUY, shares_micros=5 * UNIT))
            execute(s, bob, m, Order(outcome=0, side=Side.BUY, shares_micros=150 * UNIT))
            execute(s, alice, m, Order(outcome=0, side=Side.SELL, shares_micros=5 * UNIT))
        held = min(
            b.cash_micros for b in funding.balances(s, alice, pid).branches
        )  # gained in every branch
        assert held > 10 * UNIT
        funding.merge(s, alice, pid, held)
    assert _stake(db, alice, pid) == 10 * UNIT - held < 0
    with db.read() as s:
        report = check_conservation(s)
        assert report.ok, report.problems


def test_conservation_catches_a_stale_stake_or_spent(db: Database) -> None:
    world = build_world(db, traders=1, split=10 * UNIT)
    (alice,) = world.traders
    m0 = world.market_ids[0]
    with db.write() as s:
        execute(s, alice, m0, Order(outcome=0, side=Side.BUY, shares_micros=UNIT))
    with db.write() as s:
        s.execute(sa.update(Stake).values(deposit_micros=Stake.deposit_micros + 1))
        s.execute(
            sa.update(BranchCash)
            .where(BranchCash.market_id == m0)
            .values(spent_micros=BranchCash.spent_micros - 1)
        )
    with db.read() as s:
        problems = check_conservation(s).problems
    assert any("has a stake of 10.000001" in p for p in problems), problems
    assert any(f"in market {m0} but its trades there come to" in p for p in problems), problems


def test_merges_stop_once_a_proposal_is_unwound(db: Database) -> None:
    from market.errors import MarketClosed

    world = build_world(db, traders=1, split=10 * UNIT)
    with db.write() as s:
        s.execute(
            sa.update(Proposal)
            .where(Proposal.id == world.proposal_id)
            .values(status=ProposalStatus.UNWOUND.value)
        )
    with (
        pytest.raises(MarketClosed, match="is unwound: its conditional cash can no longer"),
        db.write() as s,
    ):
        funding.merge(s, world.traders[0], world.proposal_id, UNIT)


def test_a_trade_is_stamped_after_its_market_lock(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from market import trading

    world = build_world(db, traders=1, split=10 * UNIT)
    locked_at: list[datetime] = []
    original = repository.lock_market_for_trade

    def lock(session: Any, market_id: int) -> Any:
        row = original(session, market_id)
        locked_at.append(datetime.now(UTC))
        return row

    monkeypatch.setattr(trading.repo, "lock_market_for_trade", lock)
    with db.write() as s:
        result = execute(
            s, world.traders[0], world.market_ids[0], Order(0, Side.BUY, shares_micros=UNIT)
        )
    assert locked_at
    assert result.created_at >= locked_at[0]


# --- new proposals, decisions, settlements ---------------------------------------------------


def test_a_new_proposal_gets_the_default_terms(db: Database) -> None:
    world = build_world(db, traders=1)
    with db.read() as s:
        p = s.get(Proposal, world.proposal_id)
        assert p is not None
        rule = DecisionRule.from_dict(p.decision_rule or {})
        assert rule == default_rule(p.opens_at, p.closes_at, p.lo, p.hi)
        # `spec` trades from an hour ago for a day and an hour: the window is capped at 24 h
        assert (rule.window_seconds, rule.interval_seconds, rule.cap) == (86_400, 3_600, 1.0)
        assert p.decides_at == p.closes_at
        assert p.seed_hex is not None
        assert p.seed_commitment == commitment(bytes.fromhex(p.seed_hex))
        assert p.decision_rule_hash == rule_hash(rule, p.closes_at, p.seed_commitment, None)


def test_rule_hash_covers_the_whole_document() -> None:
    rule = DecisionRule(window_seconds=7_200, interval_seconds=3_600, cap=0.5)
    at = datetime(2027, 3, 1, 12, tzinfo=UTC)
    c = "ab" * 32
    settles = SettlesOn("Testland", "2027", date(2028, 1, 1))
    doc = (
        '{"decides_at":"2027-03-01T12:00:00Z","decision":{"cap":0.5,"epsilon":0.0,'
        '"exploration_mode":"none","interval_seconds":3600,"schema":"decision-rule/1",'
        '"threshold":0.0,"window_seconds":7200},"seed_commitment":"' + c + '","settles_on":'
        '{"cutoff":"2028-01-01","entity":"Testland","period":"2027"}}'
    )
    assert rule_hash(rule, at, c, settles) == hashlib.sha256(doc.encode()).hexdigest()
    assert rule_hash(rule, at, c, None) != rule_hash(rule, at, c, settles)
    assert rule_hash(rule, at + timedelta(microseconds=1), c, None) != rule_hash(rule, at, c, None)
    assert canonical_json({"é": 1}) == '{"é":1}'


def test_decisions_settlements_and_payouts_are_stored_once(db: Database) -> None:
    world = build_world(db, traders=2)
    pid = world.proposal_id
    with db.write() as s:
        s.add(
            Decision(
                proposal_id=pid,
                rule_hash="0" * 64,
                averaged=[55.5, 50.0],
                best_index=0,
                margin=5.5,
                greedy_index=0,
                distribution=[1.0, 0.0],
                seed_hex="00" * 32,
                draw_u=0.25,
                executed_index=0,
                explored=False,
                settles=True,
                decided_by_account_id=world.sponsor,
            )
        )
        s.add(
            Settlement(
                proposal_id=pid, kind="unwound", reason="unmeasurable", paid_micros=0,
                sponsor_paid_micros=0,
            )
        )  # fmt: skip
        s.add_all(
            Payout(proposal_id=pid, account_id=t, deposit_micros=50 * UNIT, paid_micros=50 * UNIT)
            for t in world.traders
        )
    with db.read() as s:
        decision = s.scalars(select(Decision)).one()
        assert (decision.averaged, decision.explored, decision.settles) == (
            [55.5, 50.0],
            False,
            True,
        )
        assert s.scalars(select(Settlement.kind)).one() == "unwound"
        assert len(s.scalars(select(Payout)).all()) == 2
    with pytest.raises(IntegrityError), db.write() as s:  # one decision per proposal
        s.add(
            Decision(
                proposal_id=pid, rule_hash="0" * 64, averaged=[], best_index=0, margin=0.0,
                greedy_index=0, distribution=[], seed_hex="", executed_index=0, explored=False,
                settles=True,
            )
        )  # fmt: skip
    with db.write() as s:
        s.execute(sa.delete(Settlement))
    settled = Settlement(proposal_id=pid, kind="settled", paid_micros=0, sponsor_paid_micros=0)
    with pytest.raises(IntegrityError), db.write() as s:  # settled needs its measurement
        s.add(settled)


def test_ids_pass_two_to_the_31_on_postgresql(db: Database) -> None:
    if db.is_sqlite:  # SQLite's INTEGER PRIMARY KEY is the 64-bit rowid already
        return
    world = build_world(db, traders=1, split=10 * UNIT)
    with db.write() as s:
        for table in ("trade", "ledger_entry", "idempotency_record"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 3000000000)"))
    with db.write() as s:
        result = execute(
            s, world.traders[0], world.market_ids[0], Order(0, Side.BUY, shares_micros=UNIT)
        )
        from market.idempotency import record

        record(s, world.traders[0], "k", "0" * 64, 201, "{}")
    assert result.trade_id == 3_000_000_001
    with db.read() as s:
        top = s.execute(text("SELECT MAX(id) FROM ledger_entry")).scalar()
        assert top == 3_000_000_002  # a trade posts two legs
        assert s.execute(text("SELECT MAX(id) FROM idempotency_record")).scalar() == 3_000_000_001
