"""Schemas for settlements: how a proposal ended, and what it paid each account.

Amounts are decimal strings (`api.money.Amount`); a profit or a maker's result may be
negative.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.money import Amount
from market.settling import AccountSettlement, BranchResult, SettlementReport
from welfare.records import Measurement


class MeasurementUsed(BaseModel):
    """The certified measurement a settlement paid out against."""

    id: int
    version_id: str = Field(description="The metric version measured (its SHA-256).")
    entity: str
    period: str
    cutoff: date = Field(description="Computed with the data released on or before this day.")
    welfare_value: float = Field(description="W, in the metric's welfare units.")
    certified_by_motion_id: int | None

    @classmethod
    def of(cls, m: Measurement) -> MeasurementUsed:
        """From the stored measurement."""
        return cls(
            id=m.id,
            version_id=m.version_id,
            entity=m.entity,
            period=m.period,
            cutoff=m.cutoff,
            welfare_value=m.value,
            certified_by_motion_id=m.certified_by_motion_id,
        )


class BranchSettlementRead(BaseModel):
    """What one branch held when the proposal ended and what became of it."""

    market_id: int
    branch_index: int
    branch_name: str
    status: str = Field(description="settled (the executed branch), void or unwound.")
    traders_cash: Amount = Field(
        description="The traders' conditional cash: redeemed 1:1 if settled, else void."
    )
    maker_cash: Amount = Field(description="The market maker's conditional cash.")
    shares_paid: Amount = Field(description="What the traders' shares paid (executed only).")
    maker_result: Amount | None = Field(
        description=(
            "Executed branch: the maker's realised result, maker cash − shares paid − F "
            "(never below −maker_loss_bound); null where bets were called off."
        )
    )
    maker_loss_bound: Amount = Field(description="b ln n: the most the maker can lose.")

    @classmethod
    def of(cls, b: BranchResult) -> BranchSettlementRead:
        """From the service's figures."""
        return cls(
            market_id=b.market_id,
            branch_index=b.branch_index,
            branch_name=b.branch_name,
            status=b.status,
            traders_cash=b.traders_cash_micros,
            maker_cash=b.maker_cash_micros,
            shares_paid=b.shares_paid_micros,
            maker_result=b.maker_result_micros,
            maker_loss_bound=b.maker_loss_bound_micros,
        )


class SponsorReturn(BaseModel):
    """What the sponsor put in (the subsidy F) and got back (the collateral left over)."""

    account_id: int
    subsidy: Amount
    paid: Amount
    profit: Amount = Field(description="paid − subsidy.")


class SettlementRead(BaseModel):
    """How a proposal ended, recorded once: settled against a certified measurement, or
    unwound (everyone got back what they put in)."""

    proposal_id: int
    kind: str = Field(description="settled or unwound.", examples=["settled"])
    reason: str = Field(description="Why it was unwound, or how it was scaled (ipw).")
    settled_at: datetime
    measurement: MeasurementUsed | None = Field(description="Settled only.")
    executed_branch_index: int | None = Field(description="Settled only.")
    executed_branch_name: str | None
    ipw_probability: float | None = Field(
        description="d of the executed branch when net profits were scaled by 1/d (ipw)."
    )
    declared_void_by_motion_id: int | None = Field(
        description="The council motion that declared the proposal unmeasurable, if any."
    )
    collateral: Amount = Field(description="Everything paid out: traders plus sponsor.")
    deposits: Amount = Field(description="Σ traders' deposits (splits − merges).")
    traders_paid_total: Amount
    traders: int = Field(description="Traders with a payout (possibly 0).")
    traders_paid: int = Field(description="Traders paid more than 0.")
    sponsor: SponsorReturn
    branches: list[BranchSettlementRead]

    @classmethod
    def of(cls, report: SettlementReport) -> SettlementRead:
        """From the service's report."""
        row, proposal = report.settlement, report.proposal
        executed = next((b for b in report.branches if b.branch_index == row.executed_index), None)
        return cls(
            proposal_id=row.proposal_id,
            kind=row.kind,
            reason=row.reason,
            settled_at=row.settled_at,
            measurement=None
            if report.measurement is None
            else MeasurementUsed.of(report.measurement),
            executed_branch_index=row.executed_index,
            executed_branch_name=None if executed is None else executed.branch_name,
            ipw_probability=report.ipw_probability,
            declared_void_by_motion_id=report.void_motion_id,
            collateral=row.paid_micros + row.sponsor_paid_micros,
            deposits=report.deposits_micros,
            traders_paid_total=row.paid_micros,
            traders=report.traders,
            traders_paid=report.traders_paid,
            sponsor=SponsorReturn(
                account_id=proposal.sponsor_account_id,
                subsidy=proposal.subsidy_micros,
                paid=row.sponsor_paid_micros,
                profit=row.sponsor_paid_micros - proposal.subsidy_micros,
            ),
            branches=[BranchSettlementRead.of(b) for b in report.branches],
        )


class MySettlementRead(BaseModel):
    """What one ended proposal paid the caller."""

    proposal_id: int
    title: str
    kind: str = Field(description="settled or unwound.")
    settled_at: datetime
    traded: bool = Field(description="The caller had a stake in the proposal.")
    deposit: Amount = Field(description="The caller's splits − merges into the proposal.")
    paid: Amount = Field(description="What the settlement paid the caller as a trader.")
    profit: Amount = Field(description="paid − deposit.")
    sponsor: SponsorReturn | None = Field(description="Set when the caller sponsored it.")

    @classmethod
    def of(cls, item: AccountSettlement, account_id: int) -> MySettlementRead:
        """From the service's row."""
        sponsor = None
        if item.sponsor_subsidy_micros is not None and item.sponsor_paid_micros is not None:
            sponsor = SponsorReturn(
                account_id=account_id,
                subsidy=item.sponsor_subsidy_micros,
                paid=item.sponsor_paid_micros,
                profit=item.sponsor_paid_micros - item.sponsor_subsidy_micros,
            )
        return cls(
            proposal_id=item.proposal_id,
            title=item.title,
            kind=item.kind,
            settled_at=item.settled_at,
            traded=item.traded,
            deposit=item.deposit_micros,
            paid=item.paid_micros,
            profit=item.profit_micros,
            sponsor=sponsor,
        )


class MySettlementPage(BaseModel):
    """A page of the caller's ended proposals by proposal id (`db.paging`)."""

    settlements: list[MySettlementRead]
    next_after_id: int | None
