"""Schemas for the council: members and seats, rules, power table, motions, ballots,
delegations.

Exact shares (quorum, threshold, power indices) travel as strings: a finite decimal where
one exists (``"0.5"``), else a ratio (``"2/3"``); power indices also come as floats for
charts.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.schemas.base import RequestModel
from welfare.council import (
    Ballot,
    CouncilMember,
    Delegation,
    Motion,
    MotionKind,
    MotionResult,
    MotionStatus,
)
from welfare.members import MAX_CONSTITUENCY, MAX_NAME, CouncilPower, Rules
from welfare.motions import status_of
from welfare.seats import MAX_TOTAL_SEATS, SeatMethod
from welfare.tally import Choice, share_text

MAX_FACTOR = 10**15
"""Largest population or contribution accepted (BIGINT holds more; no country has more)."""

ShareText = str


def exact(share: Fraction) -> str:
    """An exact share as text (see the module docstring)."""
    return share_text(share)


# --- members ------------------------------------------------------------------------------


_NAME_RULE = (
    "NFKC-normalised (fullwidth Ｆｒａｎｃｅ is stored as France) and refused if it holds "
    "invisible or direction-changing characters; unique among members."
)


class MemberCreate(RequestModel):
    """A new council member (admin only). Seats are recomputed for everyone."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=MAX_NAME, description=_NAME_RULE, examples=["France"]
    )
    constituency: str = Field(
        default="",
        max_length=MAX_CONSTITUENCY,
        description="Normalised like the name; empty: the name.",
        examples=["France"],
    )
    population: int = Field(ge=0, le=MAX_FACTOR, description="N, persons.", examples=[45_000_000])
    contribution: int = Field(
        default=0, ge=0, le=MAX_FACTOR, description="C, whole currency units (two-factor)."
    )
    explicit_weight: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TOTAL_SEATS,
        description=(
            f"Seats under the explicit method (the weights of all members sum to at most "
            f"{MAX_TOTAL_SEATS})."
        ),
    )
    account_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The council account acting for it."
    )


class MemberUpdate(RequestModel):
    """Changes to a member (admin only); send null to clear explicit_weight or account_id."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=MAX_NAME, description=_NAME_RULE
    )
    constituency: str | None = Field(default=None, min_length=1, max_length=MAX_CONSTITUENCY)
    population: int | None = Field(default=None, ge=0, le=MAX_FACTOR)
    contribution: int | None = Field(default=None, ge=0, le=MAX_FACTOR)
    explicit_weight: int | None = Field(default=None, ge=1, le=MAX_TOTAL_SEATS)
    account_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class MemberRead(BaseModel):
    """A member and its current seats."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    constituency: str
    population: int
    contribution: int
    explicit_weight: int | None
    seats: int
    account_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, member: CouncilMember) -> MemberRead:
        """From the ORM row."""
        return cls.model_validate(member)


class MemberPage(BaseModel):
    """A page of members by id (`db.paging`)."""

    members: list[MemberRead]
    next_after_id: int | None = Field(
        description="Send as after_id for the next page; null on the last page."
    )


# --- rules and power ----------------------------------------------------------------------


class RulesUpdate(RequestModel):
    """New rules (admin only); omitted fields keep their value. Seats are recomputed."""

    model_config = ConfigDict(extra="forbid")

    assembly_size: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TOTAL_SEATS,
        description=f"Seats to apportion (penrose, two_factor), at most {MAX_TOTAL_SEATS}.",
        examples=[800],
    )
    method: SeatMethod | None = Field(default=None, examples=["penrose"])
    quorum: str | None = Field(
        default=None,
        max_length=40,
        description="Share of all seats that must take part, in [0, 1].",
        examples=["0.5"],
    )
    threshold: str | None = Field(
        default=None,
        max_length=40,
        description="Yes share of yes-or-no seats to exceed (strictly), in [0.5, 1).",
        examples=["2/3"],
    )


class RulesRead(BaseModel):
    """The rules in force."""

    assembly_size: int
    method: SeatMethod
    quorum: ShareText
    threshold: ShareText
    version_id: int | None = Field(description="The rules record in force; null: defaults.")
    set_by_motion_id: int | None
    set_at: datetime | None

    @classmethod
    def of(cls, rules: Rules) -> RulesRead:
        """From the service's view."""
        return cls(
            assembly_size=rules.assembly_size,
            method=rules.method,
            quorum=exact(rules.quorum),
            threshold=exact(rules.threshold),
            version_id=rules.version_id,
            set_by_motion_id=rules.set_by_motion_id,
            set_at=rules.set_at,
        )


class PowerRowRead(BaseModel):
    """One member's seats beside its voting power."""

    member_id: int
    name: str
    seats: int
    weight_share: ShareText
    banzhaf: ShareText = Field(description="Normalised Banzhaf index, exact.")
    shapley_shubik: ShareText = Field(description="Shapley–Shubik index, exact.")
    weight_share_float: float
    banzhaf_float: float
    shapley_shubik_float: float
    swings: str = Field(description="Banzhaf swing count (an integer, as text: it can be huge).")


class PowerRead(BaseModel):
    """The council's power table at one threshold."""

    threshold: ShareText
    quota: int = Field(description="Seats a yes side needs with everyone voting: ⌊t·W⌋ + 1.")
    total_seats: int
    jagiellonian_threshold: float | None = Field(
        description="½(1 + √ΣN / Σ√N): the threshold that makes power track √population."
    )
    rows: list[PowerRowRead]

    @classmethod
    def of(cls, power: CouncilPower) -> PowerRead:
        """From the service's table."""
        return cls(
            threshold=exact(power.threshold),
            quota=power.quota,
            total_seats=power.total_seats,
            jagiellonian_threshold=power.jagiellonian_threshold,
            rows=[
                PowerRowRead(
                    member_id=r.member_id,
                    name=r.name,
                    seats=r.seats,
                    weight_share=exact(r.weight_share),
                    banzhaf=exact(r.banzhaf),
                    shapley_shubik=exact(r.shapley_shubik),
                    weight_share_float=float(r.weight_share),
                    banzhaf_float=float(r.banzhaf),
                    shapley_shubik_float=float(r.shapley_shubik),
                    swings=str(r.swings),
                )
                for r in power.rows
            ],
        )


# --- motions ------------------------------------------------------------------------------


class MotionCreate(RequestModel):
    """A new motion, filed by the calling council member."""

    model_config = ConfigDict(extra="forbid")

    kind: MotionKind = Field(examples=["change_rules"])
    title: str = Field(min_length=1, max_length=200, examples=["Require a two-thirds majority"])
    payload: dict[str, Any] = Field(
        description=(
            'change_rules: {"quorum"?: "0.5", "threshold"?: "2/3"}; '
            'adopt_metric_version: {"version_id": "<sha256>", "effective_from": "YYYY-MM-DD"}; '
            'certify_measurement: {"measurement_id": 1}'
        ),
        examples=[{"threshold": "2/3"}],
    )
    deadline: AwareDatetime = Field(description="Voting closes at this instant (with a zone).")


class ResultRead(BaseModel):
    """A recorded decision (written once, never changed)."""

    model_config = ConfigDict(from_attributes=True)

    outcome: str
    yes_weight: int
    no_weight: int
    abstain_weight: int
    lost_weight: int = Field(description="Seats carried by no ballot (absent, dangling, cycles).")
    total_weight: int
    quorum: ShareText
    threshold: ShareText
    quorum_met: bool
    effect_status: str
    effect_detail: str
    decided_by_account_id: int
    decided_at: datetime
    breakdown: list[dict[str, Any]]


class MotionRead(BaseModel):
    """A motion with its derived status and, once decided, its result."""

    id: int
    kind: MotionKind
    title: str
    payload: dict[str, Any]
    filed_by_member_id: int
    filed_at: datetime
    deadline: datetime
    status: MotionStatus
    result: ResultRead | None

    @classmethod
    def of(cls, motion: Motion, result: MotionResult | None, now: datetime) -> MotionRead:
        """From the ORM rows; ``now`` decides open vs awaiting decision."""
        return cls(
            id=motion.id,
            kind=MotionKind(motion.kind),
            title=motion.title,
            payload=motion.payload,
            filed_by_member_id=motion.filed_by_member_id,
            filed_at=motion.filed_at,
            deadline=motion.deadline,
            status=status_of(motion, result, now),
            result=None if result is None else ResultRead.model_validate(result),
        )


class MotionPage(BaseModel):
    """A page of motions by id (`db.paging`)."""

    motions: list[MotionRead]
    next_after_id: int | None = Field(
        description="Send as after_id for the next page; null on the last page."
    )


class BallotCreate(RequestModel):
    """The calling member's one ballot on a motion."""

    model_config = ConfigDict(extra="forbid")

    choice: Choice = Field(examples=["yes"])


class BallotRead(BaseModel):
    """A cast ballot."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    motion_id: int
    member_id: int
    choice: Choice
    cast_at: datetime

    @classmethod
    def of(cls, ballot: Ballot) -> BallotRead:
        """From the ORM row."""
        return cls.model_validate(ballot)


class BallotPage(BaseModel):
    """A page of a motion's ballots, in the order cast (by ballot id, `db.paging`)."""

    ballots: list[BallotRead]
    next_after_id: int | None = Field(
        description="Send as after_id for the next page; null on the last page."
    )


class DelegationCreate(RequestModel):
    """The calling member's standing delegation; null revokes it."""

    model_config = ConfigDict(extra="forbid")

    delegate_id: int | None = Field(ge=1, le=2**31 - 1, examples=[2])


class DelegationRead(BaseModel):
    """A recorded delegation (or revocation, with a null delegate)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    delegate_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, delegation: Delegation) -> DelegationRead:
        """From the ORM row."""
        return cls.model_validate(delegation)


class DelegationInForce(BaseModel):
    """A delegation in force now."""

    member_id: int
    delegate_id: int


class DelegationPage(BaseModel):
    """A page of the delegations in force now, by delegating member id (`db.paging`: the
    cursor is a member id)."""

    delegations: list[DelegationInForce]
    next_after_id: int | None = Field(
        description="Send as after_id for the next page; null on the last page."
    )
