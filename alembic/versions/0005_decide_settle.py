"""Decide and settle: merge the council and metrics heads, and the schema to decide and settle.

BIGINT ids; the foreign keys the diverged heads left out; settlement indexes; decision terms
on proposals; new statuses; the averaging state on markets; decisions, settlements, payouts
and stakes.

Revision ID: 0005_decide_settle
Revises: 0003_council, 0004_metrics
Create Date: 2026-12-03

Steps (upgrade), each keeping the data already stored:

1. **BIGINT ids** of the tables that grow with use (``trade``, ``ledger_entry``,
   ``idempotency_record``; no foreign key references them). PostgreSQL: the column and its
   sequence (``ALTER SEQUENCE … AS BIGINT``); the type change rewrites each table under an
   exclusive lock, so a large ledger wants a maintenance window. SQLite keeps ``INTEGER
   PRIMARY KEY``, which already is the 64-bit rowid (`db.types.BigId`).
2. **proposal.metric_version_id → metric_version.version_id.** Older databases hold the id
   as opaque text that the metric side never checked. Decision: the column becomes
   nullable, ids that name no stored metric version are set to NULL, and it narrows to
   ``VARCHAR(64)`` (a version id is a SHA-256 hex; any longer id named nothing). A proposal
   with a NULL metric version can still be decided and unwound (the council may declare
   it unmeasurable), but it can never be settled: nothing says what would settle it.
3. **motion.metric_version_id, motion.measurement_id** (nullable foreign keys), backfilled
   from the payload of ``adopt_metric_version`` (``version_id``) and
   ``certify_measurement`` (``measurement_id``) motions where they name a stored row; the
   kind CHECK gains ``void_proposal`` (payload ``{"proposal_id": int}``, no foreign key:
   welfare never references the market's tables).
4. **Indexes for settlement** (it must never scan the whole ledger): ``ledger_entry`` by
   ``market_id`` and by ``proposal_id`` (by ``account_id`` it had), ``position`` and
   ``branch_cash`` by ``market_id``. On PostgreSQL these are built inside the migration's
   transaction (no ``CONCURRENTLY``), locking each table against writes while they build.
5. **Decision terms on proposal** (`market.proposal_rule`): ``decision_rule`` (JSON),
   ``decision_rule_hash``, ``decides_at``, ``seed_commitment``, ``seed_hex`` (secret until
   the decision), ``settle_entity``, ``settle_period``, ``settle_cutoff``, all nullable.
   Every existing proposal gets `market.proposal_rule.default_terms`: decides at its
   ``closes_at``; window ``min(24 h, trading length rounded down to whole hours)``, at
   least 1 h; interval 1 h (or the window if shorter); cap ``(hi − lo) / 100``; threshold
   0; no exploration; a fresh 32-byte secret seed per proposal (``secrets.token_bytes``)
   with its commitment; and the rule hash of that document. ``settle_*`` stay NULL: such a
   proposal cannot settle until they are set.
6. **Statuses**: proposal ``open, closed, decided, settled, unwound``; market ``open,
   closed, settled, void, unwound``.
7. **The averaging state on market** (``twap_*``, five nullable doubles mirroring
   `market.decision.TwapState`, all NULL or none): NULL for existing markets (the service
   initialises it lazily).
8. **New tables** ``stake`` (backfilled from the ledger: ``Σ`` SPLIT − MERGE cash per
   account and proposal), ``decision``, ``settlement``, ``payout``; and
   ``branch_cash.spent_micros`` (backfilled: ``Σ trade.cash_micros`` per account and
   market).

SQLite cannot alter constraints in place, so ``proposal``, ``market`` and ``motion`` are
rebuilt (`op.batch_alter_table`: copy, drop, rename). Other tables reference them, and with
foreign keys enforced SQLite's DROP TABLE would fail, while ``PRAGMA foreign_keys`` cannot
change inside a transaction. So on SQLite the migration commits the revisions before it
(they are complete and stamped), turns enforcement off for its connection, does its work in
a new transaction, and checks every foreign key (``PRAGMA foreign_key_check``) before that
transaction commits with this revision's stamp. Enforcement stays off on that one
connection, which Alembic's environment closes afterwards; the application's connections
turn it on when they connect.

Downgrade reverses every step. It refuses, changing nothing, while rows exist that the
older schema cannot hold (proposals decided or unwound, markets void or unwound,
``void_proposal`` motions); proposals whose metric version was NULL get the empty string
back (an opaque id naming nothing, which is what NULL meant). Decisions, settlements,
payouts, stakes and the decision terms are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime
from market.proposal_rule import default_terms

revision: str = "0005_decide_settle"
down_revision: str | Sequence[str] | None = ("0003_council", "0004_metrics")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID_TABLES = ("trade", "ledger_entry", "idempotency_record")

PROPOSAL_STATUSES_OLD = "status IN ('open', 'closed', 'settled')"
PROPOSAL_STATUSES = "status IN ('open', 'closed', 'decided', 'settled', 'unwound')"
MARKET_STATUSES_OLD = "status IN ('open', 'closed', 'settled')"
MARKET_STATUSES = "status IN ('open', 'closed', 'settled', 'void', 'unwound')"
MOTION_KINDS_OLD = "kind IN ('adopt_metric_version', 'change_rules', 'certify_measurement')"
MOTION_KINDS = (
    "kind IN ('adopt_metric_version', 'change_rules', 'certify_measurement', 'void_proposal')"
)

TWAP_COLUMNS = (
    "twap_observation",
    "twap_observed_at",
    "twap_cum_weighted",
    "twap_window_start",
    "twap_last_live",
)
TWAP_ALL_OR_NONE = (
    "("
    + " AND ".join(f"{c} IS NULL" for c in TWAP_COLUMNS)
    + ") OR ("
    + " AND ".join(f"{c} IS NOT NULL" for c in TWAP_COLUMNS)
    + ")"
)

SETTLEMENT_INDEXES = (
    ("ix_ledger_entry_market_id", "ledger_entry", "market_id"),
    ("ix_ledger_entry_proposal_id", "ledger_entry", "proposal_id"),
    ("ix_position_market_id", "position", "market_id"),
    ("ix_branch_cash_market_id", "branch_cash", "market_id"),
)

# the tables as this revision reads and writes them (never the ORM models, which move on)
proposal_t = sa.table(
    "proposal",
    sa.column("id", sa.Integer()),
    sa.column("lo", sa.Double()),
    sa.column("hi", sa.Double()),
    sa.column("opens_at", UTCDateTime()),
    sa.column("closes_at", UTCDateTime()),
    sa.column("decision_rule", sa.JSON()),
    sa.column("decision_rule_hash", sa.String(64)),
    sa.column("decides_at", UTCDateTime()),
    sa.column("seed_commitment", sa.String(64)),
    sa.column("seed_hex", sa.Text()),
)
motion_t = sa.table(
    "motion",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String(32)),
    sa.column("payload", sa.JSON()),
    sa.column("metric_version_id", sa.String(64)),
    sa.column("measurement_id", sa.Integer()),
)
metric_version_t = sa.table("metric_version", sa.column("version_id", sa.String(64)))
measurement_t = sa.table("measurement", sa.column("id", sa.Integer()))


# --- SQLite: rebuilding referenced tables ----------------------------------------------------


def _sqlite_foreign_keys_off(bind: sa.Connection) -> None:
    """End the open transaction, stop enforcing foreign keys on this connection, begin anew
    (``PRAGMA foreign_keys`` is a no-op inside a transaction)."""
    raw: Any = bind.connection.dbapi_connection
    if raw.in_transaction:
        bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN")


def _sqlite_check_foreign_keys(bind: sa.Connection) -> None:
    """Refuse (rolling everything back) if any foreign key is broken."""
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the migration (table, rowid, parent): {broken}")


# --- upgrade ---------------------------------------------------------------------------------


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys_off(bind)
    else:
        _big_ids_up(bind)
    _proposal_up()
    _backfill_proposal_terms(bind)
    _market_up()
    _motion_up()
    _backfill_motion_targets(bind)
    for name, table, column in SETTLEMENT_INDEXES:
        op.create_index(name, table, [column], unique=False)
    _branch_cash_up()
    _new_tables_up()
    _backfill_stakes()
    if sqlite:
        _sqlite_check_foreign_keys(bind)


def _serial_sequence(bind: sa.Connection, table: str) -> str:
    name = bind.execute(sa.text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
    assert isinstance(name, str), f"{table}.id has no sequence"
    return name


def _big_ids_up(bind: sa.Connection) -> None:
    for table in BIG_ID_TABLES:
        op.alter_column(
            table, "id", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False
        )
        op.execute(f"ALTER SEQUENCE {_serial_sequence(bind, table)} AS BIGINT")


def _proposal_up() -> None:
    with op.batch_alter_table("proposal") as batch:
        batch.alter_column("metric_version_id", existing_type=sa.String(length=100), nullable=True)
    # ids that name no stored version: NULL (see the module docstring)
    op.execute(
        "UPDATE proposal SET metric_version_id = NULL WHERE metric_version_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM metric_version "
        "WHERE metric_version.version_id = proposal.metric_version_id)"
    )
    with op.batch_alter_table("proposal") as batch:
        batch.alter_column(
            "metric_version_id",
            existing_type=sa.String(length=100),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
        batch.create_foreign_key(
            op.f("fk_proposal_metric_version_id_metric_version"),
            "metric_version",
            ["metric_version_id"],
            ["version_id"],
        )
        batch.add_column(sa.Column("decision_rule", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("decision_rule_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("decides_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("seed_commitment", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("seed_hex", sa.Text(), nullable=True))
        batch.add_column(sa.Column("settle_entity", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("settle_period", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("settle_cutoff", sa.Date(), nullable=True))
        batch.drop_constraint(op.f("ck_proposal_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_proposal_status_known"), PROPOSAL_STATUSES)


def _backfill_proposal_terms(bind: sa.Connection) -> None:
    """`default_terms` for every proposal, each with its own fresh secret seed."""
    rows = bind.execute(
        sa.select(
            proposal_t.c.id,
            proposal_t.c.opens_at,
            proposal_t.c.closes_at,
            proposal_t.c.lo,
            proposal_t.c.hi,
        ).order_by(proposal_t.c.id)
    ).all()
    for row in rows:
        terms = default_terms(row.opens_at, row.closes_at, row.lo, row.hi)
        bind.execute(
            sa.update(proposal_t)
            .where(proposal_t.c.id == row.id)
            .values(
                decision_rule=terms.rule.to_dict(),
                decision_rule_hash=terms.rule_hash,
                decides_at=terms.decides_at,
                seed_commitment=terms.seed_commitment,
                seed_hex=terms.seed_hex,
            )
        )


def _market_up() -> None:
    with op.batch_alter_table("market") as batch:
        for column in TWAP_COLUMNS:
            batch.add_column(sa.Column(column, sa.Double(), nullable=True))
        batch.drop_constraint(op.f("ck_market_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_market_status_known"), MARKET_STATUSES)
        batch.create_check_constraint(op.f("ck_market_twap_all_or_none"), TWAP_ALL_OR_NONE)


def _motion_up() -> None:
    with op.batch_alter_table("motion") as batch:
        batch.add_column(sa.Column("metric_version_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("measurement_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_motion_metric_version_id_metric_version"),
            "metric_version",
            ["metric_version_id"],
            ["version_id"],
        )
        batch.create_foreign_key(
            op.f("fk_motion_measurement_id_measurement"),
            "measurement",
            ["measurement_id"],
            ["id"],
        )
        batch.drop_constraint(op.f("ck_motion_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_motion_kind_known"), MOTION_KINDS)


def _backfill_motion_targets(bind: sa.Connection) -> None:
    """The payload's target as a foreign key, where it names a stored row (motions are few:
    one statement per motion of these two kinds)."""
    rows = bind.execute(
        sa.select(motion_t.c.id, motion_t.c.kind, motion_t.c.payload).where(
            motion_t.c.kind.in_(("adopt_metric_version", "certify_measurement"))
        )
    ).all()
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        if row.kind == "adopt_metric_version":
            version_id = payload.get("version_id")
            if (
                isinstance(version_id, str)
                and bind.execute(
                    sa.select(metric_version_t.c.version_id).where(
                        metric_version_t.c.version_id == version_id
                    )
                ).first()
            ):
                bind.execute(
                    sa.update(motion_t)
                    .where(motion_t.c.id == row.id)
                    .values(metric_version_id=version_id)
                )
        else:
            measurement_id = payload.get("measurement_id")
            if (
                isinstance(measurement_id, int)
                and not isinstance(measurement_id, bool)
                and -(2**31) <= measurement_id < 2**31
                and bind.execute(
                    sa.select(measurement_t.c.id).where(measurement_t.c.id == measurement_id)
                ).first()
            ):
                bind.execute(
                    sa.update(motion_t)
                    .where(motion_t.c.id == row.id)
                    .values(measurement_id=measurement_id)
                )


def _branch_cash_up() -> None:
    op.add_column(
        "branch_cash",
        sa.Column("spent_micros", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(
        "UPDATE branch_cash SET spent_micros = (SELECT SUM(trade.cash_micros) FROM trade "
        "WHERE trade.account_id = branch_cash.account_id "
        "AND trade.market_id = branch_cash.market_id) "
        "WHERE EXISTS (SELECT 1 FROM trade WHERE trade.account_id = branch_cash.account_id "
        "AND trade.market_id = branch_cash.market_id)"
    )


def _new_tables_up() -> None:
    op.create_table(
        "stake",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("deposit_micros", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_stake_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_stake_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("account_id", "proposal_id", name=op.f("pk_stake")),
    )
    op.create_index(op.f("ix_stake_proposal_id"), "stake", ["proposal_id"], unique=False)

    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("rule_hash", sa.String(length=64), nullable=False),
        sa.Column("averaged", sa.JSON(), nullable=False),
        sa.Column("best_index", sa.Integer(), nullable=False),
        sa.Column("margin", sa.Double(), nullable=False),
        sa.Column("greedy_index", sa.Integer(), nullable=False),
        sa.Column("distribution", sa.JSON(), nullable=False),
        sa.Column("seed_hex", sa.Text(), nullable=False),
        sa.Column("draw_u", sa.Double(), nullable=True),
        sa.Column("executed_index", sa.Integer(), nullable=False),
        sa.Column("explored", sa.Boolean(), nullable=False),
        sa.Column("settles", sa.Boolean(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by_account_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("best_index >= 0", name=op.f("ck_decision_best_index_not_negative")),
        sa.CheckConstraint("greedy_index >= 0", name=op.f("ck_decision_greedy_index_not_negative")),
        sa.CheckConstraint(
            "executed_index >= 0", name=op.f("ck_decision_executed_index_not_negative")
        ),
        sa.CheckConstraint(
            "draw_u IS NULL OR (draw_u >= 0 AND draw_u <= 1)",
            name=op.f("ck_decision_draw_u_in_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_account_id"],
            ["account.id"],
            name=op.f("fk_decision_decided_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_decision_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_decision_proposal_id")),
    )

    op.create_table(
        "settlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("welfare_value", sa.Double(), nullable=True),
        sa.Column("executed_index", sa.Integer(), nullable=True),
        sa.Column("paid_micros", sa.BigInteger(), nullable=False),
        sa.Column("sponsor_paid_micros", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('settled', 'unwound')", name=op.f("ck_settlement_kind_known")),
        sa.CheckConstraint(
            "kind <> 'settled' OR (measurement_id IS NOT NULL AND welfare_value IS NOT NULL "
            "AND executed_index IS NOT NULL)",
            name=op.f("ck_settlement_settled_has_measurement"),
        ),
        sa.CheckConstraint("paid_micros >= 0", name=op.f("ck_settlement_paid_not_negative")),
        sa.CheckConstraint(
            "sponsor_paid_micros >= 0", name=op.f("ck_settlement_sponsor_paid_not_negative")
        ),
        sa.CheckConstraint(
            "executed_index IS NULL OR executed_index >= 0",
            name=op.f("ck_settlement_executed_index_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurement.id"],
            name=op.f("fk_settlement_measurement_id_measurement"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_settlement_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_settlement_proposal_id")),
    )

    op.create_table(
        "payout",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("deposit_micros", sa.BigInteger(), nullable=False),
        sa.Column("paid_micros", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("paid_micros >= 0", name=op.f("ck_payout_paid_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_payout_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_payout_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "account_id", name=op.f("pk_payout")),
    )
    op.create_index(op.f("ix_payout_account_id"), "payout", ["account_id"], unique=False)


def _backfill_stakes() -> None:
    """A stake is the account's cash into the proposal by SPLIT minus its cash out by MERGE:
    the negated sum of its unconditional-cash legs of those operations."""
    op.execute(
        "INSERT INTO stake (account_id, proposal_id, deposit_micros) "
        "SELECT account_id, proposal_id, -SUM(amount_micros) FROM ledger_entry "
        "WHERE kind IN ('split', 'merge') AND holder = 'account' AND market_id IS NULL "
        "AND proposal_id IS NOT NULL "
        "GROUP BY account_id, proposal_id"
    )


# --- downgrade -------------------------------------------------------------------------------


def _refuse_unless_representable(bind: sa.Connection) -> None:
    """The older schema has no room for these rows: refuse before changing anything."""
    checks = (
        ("proposals decided or unwound", "proposal", "status IN ('decided', 'unwound')"),
        ("markets void or unwound", "market", "status IN ('void', 'unwound')"),
        ("void_proposal motions", "motion", "kind = 'void_proposal'"),
    )
    found = []
    for what, table, condition in checks:
        count = bind.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {condition}")).scalar()
        if count:
            found.append(f"{count} {what}")
    if found:
        raise RuntimeError(
            "cannot downgrade below 0005_decide_settle: the database holds "
            + ", ".join(found)
            + ", which the older schema cannot represent"
        )


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    _refuse_unless_representable(bind)
    if sqlite:
        _sqlite_foreign_keys_off(bind)

    op.drop_index(op.f("ix_payout_account_id"), table_name="payout")
    op.drop_table("payout")
    op.drop_table("settlement")
    op.drop_table("decision")
    op.drop_index(op.f("ix_stake_proposal_id"), table_name="stake")
    op.drop_table("stake")

    with op.batch_alter_table("branch_cash") as batch:
        batch.drop_column("spent_micros")
    for name, table, _column in reversed(SETTLEMENT_INDEXES):
        op.drop_index(name, table_name=table)

    with op.batch_alter_table("motion") as batch:
        batch.drop_constraint(op.f("ck_motion_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_motion_kind_known"), MOTION_KINDS_OLD)
        batch.drop_constraint(op.f("fk_motion_measurement_id_measurement"), type_="foreignkey")
        batch.drop_constraint(
            op.f("fk_motion_metric_version_id_metric_version"), type_="foreignkey"
        )
        batch.drop_column("measurement_id")
        batch.drop_column("metric_version_id")

    with op.batch_alter_table("market") as batch:
        batch.drop_constraint(op.f("ck_market_twap_all_or_none"), type_="check")
        batch.drop_constraint(op.f("ck_market_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_market_status_known"), MARKET_STATUSES_OLD)
        for column in reversed(TWAP_COLUMNS):
            batch.drop_column(column)

    with op.batch_alter_table("proposal") as batch:
        batch.drop_constraint(op.f("ck_proposal_status_known"), type_="check")
        batch.create_check_constraint(op.f("ck_proposal_status_known"), PROPOSAL_STATUSES_OLD)
        for column in (
            "settle_cutoff",
            "settle_period",
            "settle_entity",
            "seed_hex",
            "seed_commitment",
            "decides_at",
            "decision_rule_hash",
            "decision_rule",
        ):
            batch.drop_column(column)
        batch.drop_constraint(
            op.f("fk_proposal_metric_version_id_metric_version"), type_="foreignkey"
        )
    op.execute("UPDATE proposal SET metric_version_id = '' WHERE metric_version_id IS NULL")
    with op.batch_alter_table("proposal") as batch:
        batch.alter_column(
            "metric_version_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=100),
            nullable=False,
        )

    if sqlite:
        _sqlite_check_foreign_keys(bind)
    else:
        for table in BIG_ID_TABLES:
            op.alter_column(
                table,
                "id",
                type_=sa.Integer(),
                existing_type=sa.BigInteger(),
                existing_nullable=False,
            )
            op.execute(f"ALTER SEQUENCE {_serial_sequence(bind, table)} AS INTEGER")
