"""Trading: cash, proposals and their branch markets, branch cash, positions, trades,
the append-only ledger and idempotency records.

Revision ID: 0002_trading
Revises: 0001_identity
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0002_trading"
down_revision: str | Sequence[str] | None = "0001_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "cash_balance",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("cash_micros", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("cash_micros >= 0", name=op.f("ck_cash_balance_cash_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_cash_balance_account_id_account")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_cash_balance")),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_idempotency_record_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("account_id", "key", name="uq_idempotency_record_account_key"),
    )
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metric_version_id", sa.String(length=100), nullable=False),
        sa.Column("asset_kind", sa.String(length=16), nullable=False),
        sa.Column("lo", sa.Double(), nullable=False),
        sa.Column("hi", sa.Double(), nullable=False),
        sa.Column("bin_edges", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("opens_at", UTCDateTime(), nullable=False),
        sa.Column("closes_at", UTCDateTime(), nullable=False),
        sa.Column("subsidy_micros", sa.BigInteger(), nullable=False),
        sa.Column("sponsor_account_id", sa.Integer(), nullable=False),
        sa.Column("collateral_micros", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "asset_kind IN ('scalar', 'binned')", name=op.f("ck_proposal_asset_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'settled')", name=op.f("ck_proposal_status_known")
        ),
        sa.CheckConstraint(
            "collateral_micros >= 0", name=op.f("ck_proposal_collateral_not_negative")
        ),
        sa.CheckConstraint("lo < hi", name=op.f("ck_proposal_bounds_ordered")),
        sa.CheckConstraint("opens_at < closes_at", name=op.f("ck_proposal_window_ordered")),
        sa.CheckConstraint("subsidy_micros > 0", name=op.f("ck_proposal_subsidy_positive")),
        sa.ForeignKeyConstraint(
            ["sponsor_account_id"],
            ["account.id"],
            name=op.f("fk_proposal_sponsor_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
    )
    op.create_table(
        "market",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("branch_index", sa.Integer(), nullable=False),
        sa.Column("branch_name", sa.String(length=200), nullable=False),
        sa.Column("is_status_quo", sa.Boolean(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("q_micros", sa.JSON(), nullable=False),
        sa.Column("b_micros", sa.BigInteger(), nullable=False),
        sa.Column("subsidy_micros", sa.BigInteger(), nullable=False),
        sa.Column("maker_cash_micros", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opens_at", UTCDateTime(), nullable=False),
        sa.Column("closes_at", UTCDateTime(), nullable=False),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'settled')", name=op.f("ck_market_status_known")
        ),
        sa.CheckConstraint("b_micros > 0", name=op.f("ck_market_b_positive")),
        sa.CheckConstraint("branch_index >= 0", name=op.f("ck_market_branch_index_not_negative")),
        sa.CheckConstraint(
            "maker_cash_micros >= 0", name=op.f("ck_market_maker_cash_not_negative")
        ),
        sa.CheckConstraint("subsidy_micros > 0", name=op.f("ck_market_subsidy_positive")),
        sa.CheckConstraint("trade_count >= 0", name=op.f("ck_market_trade_count_not_negative")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_market_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market")),
        sa.UniqueConstraint("proposal_id", "branch_index", name="uq_market_proposal_branch"),
    )
    op.create_table(
        "branch_cash",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("cash_micros", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("cash_micros >= 0", name=op.f("ck_branch_cash_cash_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_branch_cash_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["market_id"], ["market.id"], name=op.f("fk_branch_cash_market_id_market")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_branch_cash_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("account_id", "market_id", name=op.f("pk_branch_cash")),
    )
    with op.batch_alter_table("branch_cash", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_branch_cash_proposal_id"), ["proposal_id"], unique=False
        )

    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=True),
        sa.Column("holder", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(holder = 'account' AND account_id IS NOT NULL) OR (holder <> 'account' AND account_id IS NULL)",
            name=op.f("ck_ledger_entry_account_holder_has_account"),
        ),
        sa.CheckConstraint(
            "holder <> 'collateral' OR proposal_id IS NOT NULL",
            name=op.f("ck_ledger_entry_collateral_has_proposal"),
        ),
        sa.CheckConstraint(
            "holder <> 'maker' OR market_id IS NOT NULL",
            name=op.f("ck_ledger_entry_maker_has_market"),
        ),
        sa.CheckConstraint(
            "holder IN ('account', 'maker', 'collateral', 'outside')",
            name=op.f("ck_ledger_entry_holder_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('credit', 'debit', 'split', 'merge', 'subsidy', 'trade')",
            name=op.f("ck_ledger_entry_kind_known"),
        ),
        sa.CheckConstraint("amount_micros <> 0", name=op.f("ck_ledger_entry_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ledger_entry_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["market_id"], ["market.id"], name=op.f("fk_ledger_entry_market_id_market")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_ledger_entry_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entry_operation"), ["operation"], unique=False)

    op.create_table(
        "position",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Integer(), nullable=False),
        sa.Column("shares_micros", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("shares_micros >= 0", name=op.f("ck_position_shares_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_position_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["market_id"], ["market.id"], name=op.f("fk_position_market_id_market")
        ),
        sa.PrimaryKeyConstraint("account_id", "market_id", "outcome", name=op.f("pk_position")),
    )
    op.create_table(
        "trade",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Integer(), nullable=False),
        sa.Column("shares_micros", sa.BigInteger(), nullable=False),
        sa.Column("cash_micros", sa.BigInteger(), nullable=False),
        sa.Column("prices_after", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("outcome >= 0", name=op.f("ck_trade_outcome_not_negative")),
        sa.CheckConstraint("shares_micros <> 0", name=op.f("ck_trade_shares_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_trade_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["market_id"], ["market.id"], name=op.f("fk_trade_market_id_market")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade")),
    )
    with op.batch_alter_table("trade", schema=None) as batch_op:
        batch_op.create_index("ix_trade_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_trade_market_id_id", ["market_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("trade", schema=None) as batch_op:
        batch_op.drop_index("ix_trade_market_id_id")
        batch_op.drop_index("ix_trade_account_id_id")

    op.drop_table("trade")
    op.drop_table("position")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_operation"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry_account_id"))

    op.drop_table("ledger_entry")
    with op.batch_alter_table("branch_cash", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_branch_cash_proposal_id"))

    op.drop_table("branch_cash")
    op.drop_table("market")
    op.drop_table("proposal")
    op.drop_table("idempotency_record")
    op.drop_table("cash_balance")
