"""Ledger: the operation kinds of the end of a proposal, ``settle`` and ``unwind``.

A settlement pays traders and the sponsor out of the proposal's collateral and voids the
branches' conditional cash; an unwind returns deposits. Both post balanced ledger
operations like every other movement of money, so the kind CHECK admits them. SQLite
rebuilds ``ledger_entry`` to change a CHECK (no other table references it).

Revision ID: 0007_ledger_settle_kinds
Revises: 0006_observation_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_ledger_settle_kinds"
down_revision: str | Sequence[str] | None = "0006_observation_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('credit', 'debit', 'split', 'merge', 'subsidy', 'trade')"
NEW = "kind IN ('credit', 'debit', 'split', 'merge', 'subsidy', 'trade', 'settle', 'unwind')"


def upgrade() -> None:
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_constraint(op.f("ck_ledger_entry_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_ledger_entry_kind_known"), NEW)


def downgrade() -> None:
    bind = op.get_bind()
    used = bind.exec_driver_sql(
        "SELECT count(*) FROM ledger_entry WHERE kind IN ('settle', 'unwind')"
    ).scalar()
    if used:
        raise RuntimeError(f"cannot downgrade: {used} ledger entries record settlements or unwinds")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_constraint(op.f("ck_ledger_entry_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_ledger_entry_kind_known"), OLD)
