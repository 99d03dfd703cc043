"""Motions: file, vote, delegate, decide, and apply the effect of a passed motion.

Lifecycle: a member files a motion with a deadline; members cast one ballot each (yes, no,
abstain) strictly before the deadline; at or after the deadline anyone on the council (or an
admin) asks for the decision, which is recorded exactly once as a `MotionResult`. A passed
motion's effect is applied in the same transaction:

- ``change_rules`` ``{"quorum": "0.6", "threshold": "2/3"}`` (either or both) appends new
  council rules;
- ``adopt_metric_version`` ``{"version_id": …, "effective_from": "YYYY-MM-DD"}`` calls
  `welfare.metric_service.adopt_version`;
- ``certify_measurement`` ``{"measurement_id": …}`` calls
  `welfare.measurement_service.certify_measurement`;
- ``void_proposal`` ``{"proposal_id": …}`` declares a proposal unmeasurable. The effect
  only records the declaration (this passed motion is it): welfare never imports or
  references the market, whose settlement (`market.settling`) reads passed
  ``void_proposal`` motions and unwinds the proposal they name.

Filing an ``adopt_metric_version`` or ``certify_measurement`` motion also sets the motion's
``metric_version_id`` or ``measurement_id`` foreign key from the payload (checked to exist).

If the effect is refused by its own service (e.g. the measurement was certified meanwhile),
the refusal is rolled back to a savepoint and the result records ``effect_status = failed``
with the reason: the vote still stands and the council sees why nothing changed.

What is counted (`welfare.tally` states the arithmetic):

- weights are the members' seats at decision time, under the rules in force at decision
  time;
- ballots are those cast before the deadline (no other can exist);
- delegations are those in force at the deadline (the newest row per member created at or
  before it), so re-delegating after the deadline changes nothing.

Audit: each step appends its event to the governance stream (`db.audit`) at its end, in
the same transaction: ``motion.filed``, ``ballot.cast``, ``delegation.set`` and
``motion.decided`` (the tally as counted, with its per-member breakdown, and the effect's
status). A passed motion's effect appends its own event first (``rules.set``,
``metric.adopted`` or ``measurement.certified``, naming the motion), so in the stream an
effect's event comes immediately before its motion's ``motion.decided``.
`welfare.audit_replay` recounts every decided motion from these events alone.

Concurrency: casting a ballot locks the motion row for share and deciding locks it for
update (PostgreSQL), so a ballot either commits before the decision reads the ballots or
sees the result and is refused; SQLite serialises writers anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, assert_never

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from db import audit
from db.audit_chain import iso_instant
from db.errors import FutarchyError
from db.paging import DEFAULT_PAGE
from db.types import utcnow
from welfare.council import (
    Ballot,
    CouncilMember,
    Delegation,
    EffectStatus,
    Motion,
    MotionKind,
    MotionResult,
    MotionStatus,
    Outcome,
)
from welfare.errors import (
    AlreadyDecided,
    AlreadyVoted,
    InvalidWelfareInput,
    MotionNotDue,
    UnknownMotion,
    VotingClosed,
)
from welfare.members import current_rules, get_member, list_members, set_rules
from welfare.tally import Choice, check_quorum, check_threshold, parse_share, share_text, tally

MAX_TITLE = 200
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

MAX_PROPOSAL_ID = 2**31 - 1
"""Largest proposal id a ``void_proposal`` motion may name (an INTEGER primary key)."""


# --- payloads -----------------------------------------------------------------------------


def _only_keys(payload: dict[str, Any], allowed: set[str], kind: MotionKind) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidWelfareInput(
            f"a {kind.value} motion takes only {', '.join(sorted(allowed))}; "
            f"unknown: {', '.join(unknown)}"
        )


def validate_payload(session: Session, kind: MotionKind, payload: Any) -> dict[str, Any]:
    """The payload in canonical form, after checking that its target exists.

    A ``void_proposal`` payload is checked for form only (a proposal id from 1 to
    `MAX_PROPOSAL_ID`): welfare does not read the market's tables, and a declaration naming
    no proposal simply voids nothing.

    Raises:
        InvalidWelfareInput: a malformed payload.
        UnknownMetricVersion, UnknownMeasurement: the target does not exist (404).
    """
    if not isinstance(payload, dict):
        raise InvalidWelfareInput("a motion's payload must be a JSON object")
    if kind is MotionKind.CHANGE_RULES:
        _only_keys(payload, {"quorum", "threshold"}, kind)
        if not payload:
            raise InvalidWelfareInput("a change_rules motion must change quorum or threshold")
        canonical: dict[str, Any] = {}
        if "quorum" in payload:
            quorum = check_quorum(parse_share(_text(payload["quorum"], "quorum"), "quorum"))
            canonical["quorum"] = share_text(quorum)
        if "threshold" in payload:
            raw = _text(payload["threshold"], "threshold")
            canonical["threshold"] = share_text(check_threshold(parse_share(raw, "threshold")))
        return canonical
    if kind is MotionKind.ADOPT_METRIC_VERSION:
        _only_keys(payload, {"version_id", "effective_from"}, kind)
        version_id = payload.get("version_id")
        if not isinstance(version_id, str) or not version_id:
            raise InvalidWelfareInput("an adopt_metric_version motion needs a version_id string")
        effective_from = _iso_date(payload.get("effective_from"))
        from welfare.metric_service import get_version

        get_version(session, version_id)
        return {"version_id": version_id, "effective_from": effective_from.isoformat()}
    if kind is MotionKind.CERTIFY_MEASUREMENT:
        _only_keys(payload, {"measurement_id"}, kind)
        measurement_id = payload.get("measurement_id")
        if isinstance(measurement_id, bool) or not isinstance(measurement_id, int):
            raise InvalidWelfareInput(
                "a certify_measurement motion needs an integer measurement_id"
            )
        from welfare.measurement_service import get_measurement

        get_measurement(session, measurement_id)
        return {"measurement_id": measurement_id}
    if kind is MotionKind.VOID_PROPOSAL:
        _only_keys(payload, {"proposal_id"}, kind)
        proposal_id = payload.get("proposal_id")
        if isinstance(proposal_id, bool) or not isinstance(proposal_id, int):
            raise InvalidWelfareInput(
                f"a void_proposal motion needs an integer proposal_id, not {proposal_id!r}"
            )
        if not 1 <= proposal_id <= MAX_PROPOSAL_ID:
            raise InvalidWelfareInput(
                f"a void_proposal motion's proposal_id must be from 1 to {MAX_PROPOSAL_ID}, "
                f"not {proposal_id}"
            )
        return {"proposal_id": proposal_id}
    assert_never(kind)


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidWelfareInput(f"the {what} must be a string like '0.5', not {value!r}")
    return str(value)


def _iso_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise InvalidWelfareInput(f"effective_from must be a date YYYY-MM-DD, not {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidWelfareInput(f"effective_from {value!r} is not a calendar date") from None


# --- repository ---------------------------------------------------------------------------


def get_motion(session: Session, motion_id: int, *, lock: str | None = None) -> Motion:
    """The motion with this id (optionally locked ``"share"`` or ``"update"``)."""
    stmt = select(Motion).where(Motion.id == motion_id)
    if lock == "share":
        stmt = stmt.with_for_update(read=True)
    elif lock == "update":
        stmt = stmt.with_for_update()
    motion = session.scalar(stmt)
    if motion is None:
        raise UnknownMotion(f"no motion with id {motion_id}")
    return motion


def result_of(session: Session, motion_id: int) -> MotionResult | None:
    """The recorded decision on a motion, if any."""
    return session.scalar(select(MotionResult).where(MotionResult.motion_id == motion_id))


def status_of(motion: Motion, result: MotionResult | None, now: datetime) -> MotionStatus:
    """Derived status: passed/rejected once decided, else open before the deadline."""
    if result is not None:
        return MotionStatus(result.outcome)
    return MotionStatus.OPEN if now < motion.deadline else MotionStatus.AWAITING_DECISION


def list_motions(
    session: Session, *, after_id: int = 0, limit: int = DEFAULT_PAGE
) -> list[tuple[Motion, MotionResult | None]]:
    """Motions with ``id > after_id``, by id, at most ``limit``, with their results (if
    decided) (`db.paging`)."""
    stmt = (
        select(Motion, MotionResult)
        .outerjoin(MotionResult, MotionResult.motion_id == Motion.id)
        .where(Motion.id > after_id)
        .order_by(Motion.id)
        .limit(limit)
    )
    return [(m, r) for m, r in session.execute(stmt)]


def ballots_of(session: Session, motion_id: int) -> list[Ballot]:
    """The motion's ballots, in the order cast (at most one per member, so bounded by
    `welfare.seats.MAX_SEATED_MEMBERS`)."""
    return list(
        session.scalars(select(Ballot).where(Ballot.motion_id == motion_id).order_by(Ballot.id))
    )


def ballots_page(
    session: Session, motion_id: int, *, after_id: int = 0, limit: int = DEFAULT_PAGE
) -> list[Ballot]:
    """The motion's ballots with ``id > after_id``, in the order cast, at most ``limit``
    (`db.paging`)."""
    stmt = (
        select(Ballot)
        .where(Ballot.motion_id == motion_id, Ballot.id > after_id)
        .order_by(Ballot.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def delegations_in_force(session: Session, at: datetime | None = None) -> dict[int, int]:
    """member id → delegate id, from the newest delegation row per member (created at or
    before ``at`` if given); revocations drop out."""
    newest = select(Delegation.member_id, func.max(Delegation.id).label("last_id")).group_by(
        Delegation.member_id
    )
    if at is not None:
        newest = newest.where(Delegation.created_at <= at)
    latest = newest.subquery()
    stmt = select(Delegation.member_id, Delegation.delegate_id).join(
        latest, Delegation.id == latest.c.last_id
    )
    return {m: d for m, d in session.execute(stmt) if d is not None}


def delegations_in_force_page(
    session: Session, *, after_id: int = 0, limit: int = DEFAULT_PAGE
) -> list[tuple[int, int]]:
    """A page of the delegations in force now: ``(member id, delegate id)`` for members with
    ``id > after_id`` whose newest delegation row names a delegate (a revocation drops the
    member out), by member id, at most ``limit`` (`db.paging`, keyed by the delegator).

    Each row is checked against its member's newest row by one indexed look-up, so a page
    reads the delegation rows of at most ``limit`` delegators plus the revoked and replaced
    rows it skips, never the whole history of every member.
    """
    newer = aliased(Delegation)
    newest = (
        select(func.max(newer.id)).where(newer.member_id == Delegation.member_id).scalar_subquery()
    )
    stmt = (
        select(Delegation.member_id, Delegation.delegate_id)
        .where(
            Delegation.member_id > after_id,
            Delegation.id == newest,
            Delegation.delegate_id.is_not(None),
        )
        .order_by(Delegation.member_id)
        .limit(limit)
    )
    return [(m, d) for m, d in session.execute(stmt) if d is not None]


# --- services -----------------------------------------------------------------------------


def file_motion(
    session: Session,
    member: CouncilMember,
    *,
    kind: MotionKind | str,
    title: str,
    payload: Any,
    deadline: datetime,
    now: datetime | None = None,
) -> Motion:
    """File a motion on behalf of ``member``.

    An ``adopt_metric_version`` motion references its version and a
    ``certify_measurement`` motion its measurement by foreign key as well as in the payload.

    Raises:
        InvalidWelfareInput: unknown kind, empty title, a deadline not in the future or
            without a time zone, or a malformed payload.
        UnknownMetricVersion, UnknownMeasurement: the payload's target does not exist.
    """
    now = now or utcnow()
    try:
        checked = MotionKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in MotionKind)
        raise InvalidWelfareInput(f"the motion kind must be one of {known}, not {kind!r}") from None
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidWelfareInput(f"a motion needs a title of 1 to {MAX_TITLE} characters")
    if deadline.tzinfo is None:
        raise InvalidWelfareInput("the deadline needs a time zone")
    if deadline <= now:
        raise InvalidWelfareInput(
            f"the deadline {deadline.isoformat()} is not in the future (now {now.isoformat()})"
        )
    canonical = validate_payload(session, checked, payload)
    motion = Motion(
        kind=checked.value,
        title=title,
        payload=canonical,
        filed_by_member_id=member.id,
        filed_at=now,
        deadline=deadline,
        metric_version_id=(
            canonical["version_id"] if checked is MotionKind.ADOPT_METRIC_VERSION else None
        ),
        measurement_id=(
            canonical["measurement_id"] if checked is MotionKind.CERTIFY_MEASUREMENT else None
        ),
    )
    session.add(motion)
    session.flush()
    audit.record(
        session,
        "motion.filed",
        {
            "motion_id": motion.id,
            "kind": motion.kind,
            "title": motion.title,
            "payload": canonical,
            "filed_by_member_id": member.id,
            "filed_at": iso_instant(motion.filed_at),
            "deadline": iso_instant(motion.deadline),
        },
    )
    return motion


def cast_ballot(
    session: Session,
    member: CouncilMember,
    motion_id: int,
    choice: Choice | str,
    *,
    now: datetime | None = None,
) -> Ballot:
    """Record ``member``'s one ballot on the motion.

    Raises:
        UnknownMotion: no such motion.
        InvalidWelfareInput: the choice is not yes, no or abstain.
        VotingClosed: the motion is decided or its deadline has passed.
        AlreadyVoted: the member voted on it already.
    """
    now = now or utcnow()
    try:
        checked = Choice(choice)
    except ValueError:
        raise InvalidWelfareInput(f"a ballot is yes, no or abstain, not {choice!r}") from None
    motion = get_motion(session, motion_id, lock="share")
    if result_of(session, motion_id) is not None:
        raise VotingClosed(f"motion {motion_id} has been decided; it takes no more ballots")
    if now >= motion.deadline:
        raise VotingClosed(f"voting on motion {motion_id} closed at {motion.deadline.isoformat()}")
    already = select(Ballot.id).where(Ballot.motion_id == motion_id, Ballot.member_id == member.id)
    if session.scalar(already) is not None:
        raise AlreadyVoted(
            f"{member.name} has voted on motion {motion_id} already; a ballot cannot be changed"
        )
    ballot = Ballot(motion_id=motion_id, member_id=member.id, choice=checked.value, cast_at=now)
    try:
        with session.begin_nested():
            session.add(ballot)
    except IntegrityError:
        raise AlreadyVoted(
            f"{member.name} has voted on motion {motion_id} already; a ballot cannot be changed"
        ) from None
    audit.record(
        session,
        "ballot.cast",
        {
            "ballot_id": ballot.id,
            "motion_id": motion_id,
            "member_id": member.id,
            "choice": ballot.choice,
            "cast_at": iso_instant(now),
        },
    )
    return ballot


def delegate(
    session: Session,
    member: CouncilMember,
    delegate_id: int | None,
    *,
    now: datetime | None = None,
) -> Delegation:
    """Record ``member``'s standing delegation to ``delegate_id`` (None revokes it).

    Delegation is transitive and a direct ballot always overrides it; a cycle is allowed to
    be recorded but its weight is lost in every tally until someone breaks it.

    Raises:
        UnknownMember: no such delegate.
        InvalidWelfareInput: delegating to oneself.
    """
    if delegate_id is not None:
        if delegate_id == member.id:
            raise InvalidWelfareInput("a member cannot delegate to itself")
        get_member(session, delegate_id)
    row = Delegation(member_id=member.id, delegate_id=delegate_id, created_at=now or utcnow())
    session.add(row)
    session.flush()
    audit.record(
        session,
        "delegation.set",
        {
            "delegation_id": row.id,
            "member_id": member.id,
            "delegate_id": delegate_id,
            "created_at": iso_instant(row.created_at),
        },
    )
    return row


@dataclass(frozen=True, slots=True)
class Decision:
    """A decided motion and its recorded result."""

    motion: Motion
    result: MotionResult


def decide(
    session: Session, motion_id: int, *, account_id: int, now: datetime | None = None
) -> Decision:
    """Count the motion, record the result once, and apply the effect if it passed.

    Raises:
        UnknownMotion: no such motion.
        MotionNotDue: the deadline has not passed.
        AlreadyDecided: a result exists.
    """
    now = now or utcnow()
    motion = get_motion(session, motion_id, lock="update")
    if result_of(session, motion_id) is not None:
        raise AlreadyDecided(f"motion {motion_id} has been decided already")
    if now < motion.deadline:
        raise MotionNotDue(
            f"motion {motion_id} is open until {motion.deadline.isoformat()}; "
            "it can be decided only after its deadline"
        )
    rules = current_rules(session)
    members = list_members(session)
    weights = {m.id: m.seats for m in members}
    ballots = {b.member_id: Choice(b.choice) for b in ballots_of(session, motion_id)}
    delegations = delegations_in_force(session, motion.deadline)
    counted = tally(weights, ballots, delegations, quorum=rules.quorum, threshold=rules.threshold)
    breakdown = [
        {
            "member_id": m.id,
            "seats": m.seats,
            "carried_by": counted.carried_by.get(m.id),
            "choice": (
                ballots[counted.carried_by[m.id]].value if m.id in counted.carried_by else None
            ),
            "delegated_to": delegations.get(m.id),
            "in_cycle": m.id in counted.cyclic,
        }
        for m in members
    ]
    effect_status, effect_detail = EffectStatus.NONE, ""
    if counted.passed:
        effect_status, effect_detail = _apply_effect(session, motion)
    result = MotionResult(
        motion_id=motion.id,
        outcome=(Outcome.PASSED if counted.passed else Outcome.REJECTED).value,
        yes_weight=counted.yes,
        no_weight=counted.no,
        abstain_weight=counted.abstain,
        lost_weight=counted.lost,
        total_weight=counted.total_weight,
        quorum=share_text(counted.quorum),
        threshold=share_text(counted.threshold),
        quorum_met=counted.quorum_met,
        breakdown=breakdown,
        effect_status=effect_status.value,
        effect_detail=effect_detail,
        decided_by_account_id=account_id,
        decided_at=now,
    )
    try:
        with session.begin_nested():
            session.add(result)
    except IntegrityError:
        raise AlreadyDecided(f"motion {motion_id} has been decided already") from None
    audit.record(
        session,
        "motion.decided",
        {
            "motion_id": motion.id,
            "outcome": result.outcome,
            "yes_weight": result.yes_weight,
            "no_weight": result.no_weight,
            "abstain_weight": result.abstain_weight,
            "lost_weight": result.lost_weight,
            "total_weight": result.total_weight,
            "quorum": result.quorum,
            "threshold": result.threshold,
            "quorum_met": result.quorum_met,
            "breakdown": breakdown,
            "effect_status": result.effect_status,
            "effect_detail": result.effect_detail,
            "decided_by_account_id": account_id,
            "decided_at": iso_instant(now),
        },
    )
    return Decision(motion, result)


def _apply_effect(session: Session, motion: Motion) -> tuple[EffectStatus, str]:
    """Apply a passed motion's effect inside a savepoint; a domain refusal is recorded."""
    kind = MotionKind(motion.kind)
    payload = motion.payload
    try:
        with session.begin_nested():
            if kind is MotionKind.CHANGE_RULES:
                rules = set_rules(
                    session,
                    quorum=payload.get("quorum"),
                    threshold=payload.get("threshold"),
                    motion_id=motion.id,
                )
                detail = (
                    f"rules now: quorum {share_text(rules.quorum)}, "
                    f"threshold {share_text(rules.threshold)}"
                )
            elif kind is MotionKind.ADOPT_METRIC_VERSION:
                from welfare.metric_service import adopt_version

                effective_from = date.fromisoformat(payload["effective_from"])
                adopt_version(session, payload["version_id"], effective_from, motion.id)
                detail = (
                    f"metric version {payload['version_id']} adopted from "
                    f"{effective_from.isoformat()}"
                )
            elif kind is MotionKind.CERTIFY_MEASUREMENT:
                from welfare.measurement_service import certify_measurement

                certify_measurement(session, payload["measurement_id"], motion.id)
                detail = f"measurement {payload['measurement_id']} certified"
            else:
                # the passed motion is the declaration; the market reads it when it settles
                proposal_id = payload["proposal_id"]
                detail = (
                    f"proposal {proposal_id} declared unmeasurable: settling it "
                    f"(POST /proposals/{proposal_id}/settle) unwinds it, giving every trader "
                    "back what they put in"
                )
    except FutarchyError as exc:
        return EffectStatus.FAILED, f"the effect was refused: {exc}"
    return EffectStatus.APPLIED, detail
