"""ORM models of the council: members and their seats, rules, motions, ballots, delegations,
results.

Layout, and why:

- `CouncilMember`: one row per seat-holder, with the factors of its constituency
  (population ``N`` in persons, contribution ``C`` in whole currency units), an optional
  explicit weight, and its current ``seats`` (its voting weight), recomputed by
  `welfare.members.reapportion` whenever members or rules change. ``account_id`` links the
  council account that acts for the member (unique: one seat per account; null while no
  account has been linked, e.g. demo constituencies).
- `CouncilRules`: append-only history; the newest row is in force (assembly size, seat
  method, quorum and threshold as exact decimal or ratio strings). A row records whether an
  admin or a passed motion wrote it.
- `Motion`: what was filed (kind, payload, deadline). Immutable: its status is derived
  (open / awaiting decision / passed / rejected) from the clock and its `MotionResult`.
- `Ballot`: one per member per motion (unique), never updated or deleted; a second ballot is
  refused.
- `Delegation`: append-only standing delegations; the newest row per member is in force,
  a row with ``delegate_id`` null revokes.
- `MotionResult`: the decision, recorded exactly once (unique per motion) with the full
  tally and the effect's outcome.

Append-only is enforced in the ORM: flushing an update or a delete of any of these records
(except `CouncilMember`) raises `welfare.errors.AppendOnlyViolation`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from db.base import Base
from db.types import UTCDateTime, utcnow
from welfare.errors import AppendOnlyViolation


class MotionKind(enum.StrEnum):
    """What a motion does if it passes."""

    ADOPT_METRIC_VERSION = "adopt_metric_version"
    CHANGE_RULES = "change_rules"
    CERTIFY_MEASUREMENT = "certify_measurement"
    VOID_PROPOSAL = "void_proposal"


class MotionStatus(enum.StrEnum):
    """A motion's state, derived from the clock and its result."""

    OPEN = "open"
    AWAITING_DECISION = "awaiting_decision"
    PASSED = "passed"
    REJECTED = "rejected"


class Outcome(enum.StrEnum):
    """A recorded decision."""

    PASSED = "passed"
    REJECTED = "rejected"


class EffectStatus(enum.StrEnum):
    """What happened to a motion's effect: applied, failed (with a reason), or none
    (rejected motions have no effect)."""

    APPLIED = "applied"
    FAILED = "failed"
    NONE = "none"


class CouncilMember(Base):
    """A seat-holder: a constituency, its factors and its seats (voting weight)."""

    __tablename__ = "council_member"
    __table_args__ = (
        CheckConstraint("population >= 0", name="population_not_negative"),
        CheckConstraint("contribution >= 0", name="contribution_not_negative"),
        CheckConstraint("seats >= 0", name="seats_not_negative"),
        CheckConstraint(
            "explicit_weight IS NULL OR explicit_weight >= 1", name="explicit_weight_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    constituency: Mapped[str] = mapped_column(String(200))
    population: Mapped[int] = mapped_column(BigInteger)
    contribution: Mapped[int] = mapped_column(BigInteger, default=0)
    explicit_weight: Mapped[int | None] = mapped_column(Integer, default=None)
    seats: Mapped[int] = mapped_column(Integer, default=0)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id"), unique=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CouncilRules(Base):
    """One version of the council's rules; the newest row is in force."""

    __tablename__ = "council_rules"
    __table_args__ = (
        CheckConstraint("assembly_size >= 1", name="assembly_size_positive"),
        CheckConstraint(
            "method IN ('equal', 'penrose', 'two_factor', 'explicit')", name="method_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_size: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    quorum: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[str] = mapped_column(String(40))
    set_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None)
    set_by_motion_id: Mapped[int | None] = mapped_column(ForeignKey("motion.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Motion(Base):
    """A filed motion. Never changed after filing.

    Attributes:
        kind: what it does if it passes (`MotionKind`); ``void_proposal`` declares a
            proposal unmeasurable (payload ``{"proposal_id": int}``; no foreign key, since
            welfare never references the market's tables).
        metric_version_id: the version an ``adopt_metric_version`` motion adopts (the
            payload's ``version_id``), as a foreign key; null for other kinds.
        measurement_id: the measurement a ``certify_measurement`` motion certifies (the
            payload's ``measurement_id``), as a foreign key; null for other kinds.
    """

    __tablename__ = "motion"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('adopt_metric_version', 'change_rules', 'certify_measurement', "
            "'void_proposal')",
            name="kind_known",
        ),
        CheckConstraint("filed_at < deadline", name="deadline_after_filing"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    filed_by_member_id: Mapped[int] = mapped_column(ForeignKey("council_member.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    metric_version_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("metric_version.version_id"), default=None
    )
    measurement_id: Mapped[int | None] = mapped_column(ForeignKey("measurement.id"), default=None)


class Ballot(Base):
    """One member's vote on one motion. Append-only."""

    __tablename__ = "ballot"
    __table_args__ = (
        UniqueConstraint("motion_id", "member_id", name="uq_ballot_motion_member"),
        CheckConstraint("choice IN ('yes', 'no', 'abstain')", name="choice_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motion.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("council_member.id"), index=True)
    choice: Mapped[str] = mapped_column(String(8))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delegation(Base):
    """A standing delegation (or, with ``delegate_id`` null, its revocation). Append-only."""

    __tablename__ = "council_delegation"
    __table_args__ = (CheckConstraint("member_id <> delegate_id", name="not_to_self"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("council_member.id"), index=True)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("council_member.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MotionResult(Base):
    """The decision on a motion, recorded once.

    Attributes:
        yes_weight, no_weight, abstain_weight, lost_weight, total_weight: seats.
        quorum, threshold: the shares applied (exact strings).
        breakdown: per member ``{"member_id", "seats", "carried_by", "choice"}`` (carried_by
            and choice null when the weight was lost) — enough to recount by hand.
        effect_status, effect_detail: `EffectStatus` and a sentence.
    """

    __tablename__ = "motion_result"
    __table_args__ = (
        CheckConstraint("outcome IN ('passed', 'rejected')", name="outcome_known"),
        CheckConstraint(
            "effect_status IN ('applied', 'failed', 'none')", name="effect_status_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motion.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))
    yes_weight: Mapped[int] = mapped_column(Integer)
    no_weight: Mapped[int] = mapped_column(Integer)
    abstain_weight: Mapped[int] = mapped_column(Integer)
    lost_weight: Mapped[int] = mapped_column(Integer)
    total_weight: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[str] = mapped_column(String(40))
    quorum_met: Mapped[bool] = mapped_column(Boolean)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    effect_status: Mapped[str] = mapped_column(String(16))
    effect_detail: Mapped[str] = mapped_column(Text, default="")
    decided_by_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


APPEND_ONLY: tuple[type[Base], ...] = (CouncilRules, Motion, Ballot, Delegation, MotionResult)
"""Records that are written once and never updated or deleted."""


def _refuse(verb: str) -> Any:
    def _listener(_mapper: Mapper[Any], _connection: Connection, target: Base) -> None:
        raise AppendOnlyViolation(
            f"{type(target).__name__} records are append-only and cannot be {verb}"
        )

    return _listener


for _model in APPEND_ONLY:
    event.listen(_model, "before_update", _refuse("updated"))
    event.listen(_model, "before_delete", _refuse("deleted"))
