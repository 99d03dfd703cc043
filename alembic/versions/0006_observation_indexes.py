"""Observations: an index to page an indicator's observations by id, and the series index
extended by release date and id, so each vintage choice is one index seek.

Revision ID: 0006_observation_indexes
Revises: 0005_decide_settle
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_observation_indexes"
down_revision: str | Sequence[str] | None = "0005_decide_settle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_observation_page", "observation", ["indicator_id", "id"])
    op.create_index(
        "ix_observation_vintage",
        "observation",
        ["indicator_id", "entity", "period", "release_date", "id"],
    )
    op.drop_index("ix_observation_series", table_name="observation")


def downgrade() -> None:
    op.create_index("ix_observation_series", "observation", ["indicator_id", "entity", "period"])
    op.drop_index("ix_observation_vintage", table_name="observation")
    op.drop_index("ix_observation_page", table_name="observation")
