"""Metrics: indicators, observations (append-only), metric versions, measurements.

Revision ID: 0004_metrics
Revises: 0002_trading
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0004_metrics"
down_revision: str | Sequence[str] | None = "0002_trading"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator")),
        sa.UniqueConstraint("key", name=op.f("uq_indicator_key")),
    )
    op.create_table(
        "metric_version",
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("adopted_by_motion_id", sa.Integer(), nullable=True),
        sa.Column("adopted_at", UTCDateTime(), nullable=True),
        sa.Column("created_by_account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(status = 'draft' AND effective_from IS NULL AND adopted_at IS NULL) OR (status = 'adopted' AND effective_from IS NOT NULL AND adopted_at IS NOT NULL)",
            name=op.f("ck_metric_version_adoption_complete"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'adopted')", name=op.f("ck_metric_version_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_account_id"],
            ["account.id"],
            name=op.f("fk_metric_version_created_by_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_metric_version")),
    )
    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("std_error", sa.Double(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "std_error IS NULL OR std_error >= 0",
            name=op.f("ck_observation_std_error_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicator.id"], name=op.f("fk_observation_indicator_id_indicator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
    )
    op.create_index("ix_observation_series", "observation", ["indicator_id", "entity", "period"])

    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("monte_carlo", sa.Integer(), nullable=False),
        sa.Column("uncertainty", sa.JSON(), nullable=True),
        sa.Column("computed_by_account_id", sa.Integer(), nullable=True),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("certified_by_motion_id", sa.Integer(), nullable=True),
        sa.Column("certified_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "monte_carlo >= 0", name=op.f("ck_measurement_monte_carlo_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["computed_by_account_id"],
            ["account.id"],
            name=op.f("fk_measurement_computed_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["metric_version.version_id"],
            name=op.f("fk_measurement_version_id_metric_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement")),
    )
    op.create_index(op.f("ix_measurement_version_id"), "measurement", ["version_id"])
    # at most one certified measurement per (version, entity, period)
    op.create_index(
        "uq_measurement_certified_period",
        "measurement",
        ["version_id", "entity", "period"],
        unique=True,
        sqlite_where=sa.text("certified_at IS NOT NULL"),
        postgresql_where=sa.text("certified_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_measurement_certified_period", table_name="measurement")
    op.drop_index(op.f("ix_measurement_version_id"), table_name="measurement")

    op.drop_table("measurement")
    op.drop_index("ix_observation_series", table_name="observation")

    op.drop_table("observation")
    op.drop_table("metric_version")
    op.drop_table("indicator")
