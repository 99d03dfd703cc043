"""The audit log: events, the governance head, and each market's stream head.

``audit_event`` holds every event's canonical text and hash, keyed ``(stream, seq)``;
``audit_head`` the governance stream's head (one row, inserted here); each market row
its own stream's head (``audit_seq``, ``audit_hash``), advanced by the trade's UPDATE.

The log starts here: a database that already holds proposals and trades has no events
for them (the verifier reports such a market's state as not derived from its stream).

Revision ID: 0008_audit_log
Revises: 0007_ledger_settle_kinds
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_audit_log"
down_revision: str | Sequence[str] | None = "0007_ledger_settle_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stream", "seq", name=op.f("pk_audit_event")),
    )
    heads = op.create_table(
        "audit_head",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(heads, [{"stream": "governance", "seq": 0, "hash": GENESIS}])
    # plain ADD COLUMN with a constant default: SQLite adds it in place (a batch rebuild
    # would drop and recreate ``market``, which the foreign keys to it refuse)
    op.add_column(
        "market",
        sa.Column("audit_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "market",
        sa.Column(
            "audit_hash",
            sa.String(length=64),
            server_default=sa.text(f"'{GENESIS}'"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("market", "audit_hash")
    op.drop_column("market", "audit_seq")
    op.drop_table("audit_head")
    op.drop_table("audit_event")
