"""Schemas for moving cash: credits and debits, splits and merges, and balances."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.money import Amount, PositiveAmount
from api.schemas.base import RequestModel
from market.funding import Balances


class AmountIn(RequestModel):
    """An amount of cash to credit, debit, split or merge."""

    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount = Field(description="Cash, a decimal string > 0 (at most 6 decimals).")


class CashRead(BaseModel):
    """An account's unconditional cash after a credit or debit."""

    account_id: int
    cash: Amount = Field(description="Unconditional cash, decimal string.")


class BranchBalanceRead(BaseModel):
    """Conditional cash in one branch (cash that counts only if this branch is executed)."""

    market_id: int
    proposal_id: int
    branch_index: int
    branch_name: str
    cash: Amount


class BalancesRead(BaseModel):
    """An account's unconditional cash and its conditional cash per branch."""

    account_id: int
    cash: Amount
    branches: list[BranchBalanceRead]

    @classmethod
    def of(cls, balances: Balances) -> BalancesRead:
        """The API form of `market.funding.Balances`."""
        return cls(
            account_id=balances.account_id,
            cash=balances.cash_micros,
            branches=[
                BranchBalanceRead(
                    market_id=b.market_id,
                    proposal_id=b.proposal_id,
                    branch_index=b.branch_index,
                    branch_name=b.branch_name,
                    cash=b.cash_micros,
                )
                for b in balances.branches
            ],
        )
