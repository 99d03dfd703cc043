"""Schemas for decisions: what the markets decided and why, and a crank's averages."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.proposals import DecisionRuleRead, Mode
from market.deciding import BranchAverage, CrankResult
from market.decision import DecisionRule
from market.models import AssetKind, Market, Proposal
from market.settlement_models import Decision


def averaged_price(proposal: Proposal, welfare: float) -> float:
    """The price an averaged expected welfare stands for.

    Scalar: the LONG probability ``(A − lo) / (hi − lo)``; binned: the bins' mean, which is
    the averaged expected welfare itself (welfare units).
    """
    if proposal.asset_kind == AssetKind.BINNED:
        return welfare
    return (welfare - proposal.lo) / (proposal.hi - proposal.lo)


class BranchDecisionRead(BaseModel):
    """One branch in the decision."""

    market_id: int
    branch_index: int
    branch_name: str
    is_status_quo: bool
    averaged_price: float = Field(
        description=(
            "Scalar: the LONG price (probability) the averaged welfare stands for, "
            "(A − lo)/(hi − lo); binned: the averaged mean of the bins (welfare units)."
        )
    )
    averaged_welfare: float = Field(
        description="A: the capped time-weighted average of the expected welfare (welfare units)."
    )
    probability: float = Field(description="d: the probability this branch is executed.")
    executed: bool


class DecisionRead(BaseModel):
    """A proposal's decision, with everything needed to recompute it.

    Recompute: ``u`` from the seed (``SHA-256(seed ‖ proposal id as 8 bytes big-endian)``,
    first 8 bytes / 2^64), ``greedy`` from the averages, the margin and ``threshold``, ``d``
    from ``greedy`` and ``epsilon``, the executed branch from ``u`` and ``d``
    (`market.decision`); and ``SHA-256(seed)`` equals ``seed_commitment``.
    """

    proposal_id: int
    rule: DecisionRuleRead
    rule_hash: str = Field(description="The proposal's decision_rule_hash the decision applied.")
    decides_at: datetime
    decided_at: datetime
    decided_by_account_id: int | None = Field(description="null: the server's timer or CLI.")
    branches: list[BranchDecisionRead] = Field(description="By branch index; status quo last.")
    status_quo_index: int
    best_alternative_index: int = Field(description="The alternative with the highest average.")
    margin: float = Field(
        description="Welfare units: the best alternative's average minus the status quo's."
    )
    threshold: float = Field(description="δ: the margin must exceed it to adopt.")
    greedy_index: int = Field(
        description="The best alternative if margin > δ, else the status quo."
    )
    distribution: list[float] = Field(description="d = (1 − ε)·onehot(greedy) + ε/(K + 1).")
    seed: str = Field(description="The revealed seed, hex.")
    seed_commitment: str = Field(description="SHA-256 of the seed, published at creation.")
    u: float | None = Field(description="The public uniform number of the seed and proposal.")
    executed_index: int
    executed_branch: str
    explored: bool = Field(description="Chance, not the markets, picked the executed branch.")
    settles: bool = Field(
        description="The markets settle in the executed branch (false: every bet is unwound)."
    )
    exploration_mode: Mode

    @classmethod
    def of(cls, decision: Decision, proposal: Proposal, markets: list[Market]) -> DecisionRead:
        """The API form of a recorded decision (markets by branch index)."""
        assert proposal.decision_rule is not None, "a decided proposal has its rule"
        assert proposal.decides_at is not None, "a decided proposal has its decision time"
        rule = DecisionRule.from_dict(proposal.decision_rule)
        by_index = {m.branch_index: m for m in markets}
        branches = [
            BranchDecisionRead(
                market_id=by_index[j].id,
                branch_index=j,
                branch_name=by_index[j].branch_name,
                is_status_quo=by_index[j].is_status_quo,
                averaged_price=averaged_price(proposal, float(a)),
                averaged_welfare=float(a),
                probability=float(decision.distribution[j]),
                executed=j == decision.executed_index,
            )
            for j, a in enumerate(decision.averaged)
        ]
        status_quo = next((b.branch_index for b in branches if b.is_status_quo), len(branches) - 1)
        return cls(
            proposal_id=proposal.id,
            rule=DecisionRuleRead.of(rule),
            rule_hash=decision.rule_hash,
            decides_at=proposal.decides_at,
            decided_at=decision.decided_at,
            decided_by_account_id=decision.decided_by_account_id,
            branches=branches,
            status_quo_index=status_quo,
            best_alternative_index=decision.best_index,
            margin=decision.margin,
            threshold=rule.threshold,
            greedy_index=decision.greedy_index,
            distribution=[float(x) for x in decision.distribution],
            seed=decision.seed_hex,
            seed_commitment=proposal.seed_commitment or "",
            u=decision.draw_u,
            executed_index=decision.executed_index,
            executed_branch=by_index[decision.executed_index].branch_name,
            explored=decision.explored,
            settles=decision.settles,
            exploration_mode=rule.exploration_mode,
        )


class BranchAverageRead(BaseModel):
    """One branch's averaging state."""

    market_id: int
    branch_index: int
    branch_name: str
    is_status_quo: bool
    live_welfare: float = Field(description="The expected welfare the prices imply now.")
    observation: float = Field(description="The last recorded (capped) observation.")
    observed_at: datetime = Field(description="The instant the state accounts for.")
    average: float = Field(
        description=(
            "The capped time-weighted average over the window if nothing trades until "
            "decides_at (welfare units); once decided, the decision's average."
        )
    )

    @classmethod
    def of(cls, branch: BranchAverage) -> BranchAverageRead:
        """The API form of `market.deciding.BranchAverage`."""
        return cls(
            market_id=branch.market_id,
            branch_index=branch.branch_index,
            branch_name=branch.branch_name,
            is_status_quo=branch.is_status_quo,
            live_welfare=branch.live,
            observation=branch.observation,
            observed_at=branch.observed_at,
            average=branch.average,
        )


class CrankRead(BaseModel):
    """What a crank did: each branch's average as of ``at``."""

    proposal_id: int
    decides_at: datetime
    at: datetime = Field(description="The instant the states were advanced to (or read at).")
    advanced: bool = Field(description="False once decided: the averages are frozen then.")
    branches: list[BranchAverageRead]

    @classmethod
    def of(cls, result: CrankResult) -> CrankRead:
        """The API form of `market.deciding.CrankResult`."""
        return cls(
            proposal_id=result.proposal_id,
            decides_at=result.decides_at,
            at=result.at,
            advanced=result.advanced,
            branches=[BranchAverageRead.of(b) for b in result.branches],
        )
