"""Council: members and seats, rules (append-only), motions, ballots, delegations, results.

Revision ID: 0003_council
Revises: 0002_trading
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0003_council"
down_revision: str | Sequence[str] | None = "0002_trading"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "council_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("constituency", sa.String(length=200), nullable=False),
        sa.Column("population", sa.BigInteger(), nullable=False),
        sa.Column("contribution", sa.BigInteger(), nullable=False),
        sa.Column("explicit_weight", sa.Integer(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "contribution >= 0", name=op.f("ck_council_member_contribution_not_negative")
        ),
        sa.CheckConstraint(
            "explicit_weight IS NULL OR explicit_weight >= 1",
            name=op.f("ck_council_member_explicit_weight_positive"),
        ),
        sa.CheckConstraint(
            "population >= 0", name=op.f("ck_council_member_population_not_negative")
        ),
        sa.CheckConstraint("seats >= 0", name=op.f("ck_council_member_seats_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_council_member_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_member")),
        sa.UniqueConstraint("account_id", name=op.f("uq_council_member_account_id")),
        sa.UniqueConstraint("name", name=op.f("uq_council_member_name")),
    )
    op.create_table(
        "council_delegation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "member_id <> delegate_id", name=op.f("ck_council_delegation_not_to_self")
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["council_member.id"],
            name=op.f("fk_council_delegation_delegate_id_council_member"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["council_member.id"],
            name=op.f("fk_council_delegation_member_id_council_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_delegation")),
    )
    op.create_index(
        op.f("ix_council_delegation_member_id"), "council_delegation", ["member_id"], unique=False
    )

    op.create_table(
        "motion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("filed_by_member_id", sa.Integer(), nullable=False),
        sa.Column("filed_at", UTCDateTime(), nullable=False),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('adopt_metric_version', 'change_rules', 'certify_measurement')",
            name=op.f("ck_motion_kind_known"),
        ),
        sa.CheckConstraint("filed_at < deadline", name=op.f("ck_motion_deadline_after_filing")),
        sa.ForeignKeyConstraint(
            ["filed_by_member_id"],
            ["council_member.id"],
            name=op.f("fk_motion_filed_by_member_id_council_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_motion")),
    )
    op.create_table(
        "ballot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("motion_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=8), nullable=False),
        sa.Column("cast_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "choice IN ('yes', 'no', 'abstain')", name=op.f("ck_ballot_choice_known")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["council_member.id"], name=op.f("fk_ballot_member_id_council_member")
        ),
        sa.ForeignKeyConstraint(
            ["motion_id"], ["motion.id"], name=op.f("fk_ballot_motion_id_motion")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot")),
        sa.UniqueConstraint("motion_id", "member_id", name="uq_ballot_motion_member"),
    )
    op.create_index(op.f("ix_ballot_member_id"), "ballot", ["member_id"], unique=False)

    op.create_table(
        "council_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assembly_size", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("quorum", sa.String(length=40), nullable=False),
        sa.Column("threshold", sa.String(length=40), nullable=False),
        sa.Column("set_by_account_id", sa.Integer(), nullable=True),
        sa.Column("set_by_motion_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "method IN ('equal', 'penrose', 'two_factor', 'explicit')",
            name=op.f("ck_council_rules_method_known"),
        ),
        sa.CheckConstraint(
            "assembly_size >= 1", name=op.f("ck_council_rules_assembly_size_positive")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_account_id"],
            ["account.id"],
            name=op.f("fk_council_rules_set_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["set_by_motion_id"],
            ["motion.id"],
            name=op.f("fk_council_rules_set_by_motion_id_motion"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_rules")),
    )
    op.create_table(
        "motion_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("motion_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("yes_weight", sa.Integer(), nullable=False),
        sa.Column("no_weight", sa.Integer(), nullable=False),
        sa.Column("abstain_weight", sa.Integer(), nullable=False),
        sa.Column("lost_weight", sa.Integer(), nullable=False),
        sa.Column("total_weight", sa.Integer(), nullable=False),
        sa.Column("quorum", sa.String(length=40), nullable=False),
        sa.Column("threshold", sa.String(length=40), nullable=False),
        sa.Column("quorum_met", sa.Boolean(), nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("effect_status", sa.String(length=16), nullable=False),
        sa.Column("effect_detail", sa.Text(), nullable=False),
        sa.Column("decided_by_account_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "effect_status IN ('applied', 'failed', 'none')",
            name=op.f("ck_motion_result_effect_status_known"),
        ),
        sa.CheckConstraint(
            "outcome IN ('passed', 'rejected')", name=op.f("ck_motion_result_outcome_known")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_account_id"],
            ["account.id"],
            name=op.f("fk_motion_result_decided_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["motion_id"], ["motion.id"], name=op.f("fk_motion_result_motion_id_motion")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_motion_result")),
        sa.UniqueConstraint("motion_id", name=op.f("uq_motion_result_motion_id")),
    )


def downgrade() -> None:
    op.drop_table("motion_result")
    op.drop_table("council_rules")
    op.drop_index(op.f("ix_ballot_member_id"), table_name="ballot")

    op.drop_table("ballot")
    op.drop_table("motion")
    op.drop_index(op.f("ix_council_delegation_member_id"), table_name="council_delegation")

    op.drop_table("council_delegation")
    op.drop_table("council_member")
