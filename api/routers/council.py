"""The council: members and seats, rules, the power table, motions, ballots, delegations.

Who may do what: an admin creates and changes members and sets the rules directly; a council
account holding a seat files motions, votes and delegates; a seated council member or an
admin asks for the decision once the deadline has passed; anyone authenticated reads.
Write routes run their transaction on one worker thread (`api.transactions.run_write`).
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy.orm import Session

from api.auth import Caller
from api.deps import (
    AdminCaller,
    CurrentCaller,
    DatabaseDep,
    ReadSession,
    require_role,
)
from api.params import MAX_ID, AfterId
from api.problems import problem_responses
from api.schemas.council import (
    BallotCreate,
    BallotRead,
    DelegationCreate,
    DelegationInForce,
    DelegationRead,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    MotionCreate,
    MotionPage,
    MotionRead,
    PowerRead,
    RulesRead,
    RulesUpdate,
)
from api.transactions import run_write
from db.identity import Role
from db.types import utcnow
from welfare import members as council
from welfare import motions as service
from welfare.tally import parse_share

router = APIRouter(prefix="/council", tags=["council"])

MemberId = Annotated[int, Path(ge=1, le=MAX_ID, description="A council member id.")]
MotionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A motion id.")]
MotionPageSize = Annotated[int, Query(ge=1, le=200, description="Most motions to return.")]
CouncilCaller = Annotated[Caller, Depends(require_role(Role.COUNCIL))]
DeciderCaller = Annotated[Caller, Depends(require_role(Role.COUNCIL, Role.ADMIN))]


def _motion_read(session: Session, motion_id: int, now: datetime) -> MotionRead:
    motion = service.get_motion(session, motion_id)
    return MotionRead.of(motion, service.result_of(session, motion_id), now)


# --- members ------------------------------------------------------------------------------


@router.get("/members", operation_id="list_council_members", responses=problem_responses(401))
def list_members(session: ReadSession, _caller: CurrentCaller) -> list[MemberRead]:
    """Every member with its constituency factors and current seats, by id."""
    return [MemberRead.of(m) for m in council.list_members(session)]


@router.post(
    "/members",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_council_member",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_member(
    body: MemberCreate, database: DatabaseDep, _admin: AdminCaller
) -> MemberRead:
    """Add a member (admin only) and re-apportion every seat under the rules in force.

    404 if the account does not exist; 409 if the name is taken or the account already holds
    a seat; 422 if the account is not a council account or the council could no longer be
    seated (e.g. more members than seats).
    """

    def work(session: Session) -> MemberRead:
        member = council.create_member(
            session,
            name=body.name,
            constituency=body.constituency,
            population=body.population,
            contribution=body.contribution,
            explicit_weight=body.explicit_weight,
            account_id=body.account_id,
        )
        return MemberRead.of(member)

    return await run_write(database, work)


@router.get(
    "/members/{member_id}",
    operation_id="get_council_member",
    responses=problem_responses(401, 404, 422),
)
def read_member(member_id: MemberId, session: ReadSession, _caller: CurrentCaller) -> MemberRead:
    """One member."""
    return MemberRead.of(council.get_member(session, member_id))


@router.patch(
    "/members/{member_id}",
    operation_id="update_council_member",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_member(
    member_id: MemberId, body: MemberUpdate, database: DatabaseDep, _admin: AdminCaller
) -> MemberRead:
    """Change a member's factors, explicit weight or account (admin only); re-apportion.

    Fields left out keep their value; ``explicit_weight`` or ``account_id`` sent as null are
    cleared.
    """
    sent = body.model_fields_set
    changes: dict[str, int | None] = {}
    if "explicit_weight" in sent:
        changes["explicit_weight"] = body.explicit_weight
    if "account_id" in sent:
        changes["account_id"] = body.account_id

    def work(session: Session) -> MemberRead:
        member = council.update_member(
            session,
            member_id,
            population=body.population,
            contribution=body.contribution,
            **changes,
        )
        return MemberRead.of(member)

    return await run_write(database, work)


# --- rules and power ----------------------------------------------------------------------


@router.get("/rules", operation_id="get_council_rules", responses=problem_responses(401))
def read_rules(session: ReadSession, _caller: CurrentCaller) -> RulesRead:
    """The rules in force: assembly size, seat method, quorum and threshold."""
    return RulesRead.of(council.current_rules(session))


@router.patch(
    "/rules", operation_id="set_council_rules", responses=problem_responses(401, 403, 422)
)
async def set_rules(body: RulesUpdate, database: DatabaseDep, admin: AdminCaller) -> RulesRead:
    """Set new rules (admin only; the council changes quorum and threshold by motion too).

    Omitted fields keep their value. The change is recorded as a new rules version and every
    member's seats are recomputed; 422 if the council cannot be seated under the new rules.
    """

    def work(session: Session) -> RulesRead:
        rules = council.set_rules(
            session,
            assembly_size=body.assembly_size,
            method=body.method,
            quorum=body.quorum,
            threshold=body.threshold,
            account_id=admin.account_id,
        )
        return RulesRead.of(rules)

    return await run_write(database, work)


@router.get("/power", operation_id="get_council_power", responses=problem_responses(401, 422))
def read_power(
    session: ReadSession,
    _caller: CurrentCaller,
    threshold: Annotated[
        str | None,
        Query(
            max_length=40,
            description="A threshold share in [0, 1) to explore (default: the rules').",
            examples=["0.6"],
        ),
    ] = None,
) -> PowerRead:
    """Each member's seats and seat share beside its Banzhaf and Shapley–Shubik power.

    The game: with everyone voting yes or no, the yes side wins iff its seats exceed
    ``threshold × total seats``. Also gives the Jagiellonian threshold for the members'
    populations.
    """
    share: Fraction | None = None if threshold is None else parse_share(threshold, "threshold")
    return PowerRead.of(council.council_power(session, share))


# --- motions ------------------------------------------------------------------------------


@router.post(
    "/motions",
    status_code=status.HTTP_201_CREATED,
    operation_id="file_motion",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def file_motion(
    body: MotionCreate, database: DatabaseDep, caller: CouncilCaller
) -> MotionRead:
    """File a motion as the calling council member.

    409 if the account holds no seat; 404 if the payload names an unknown metric version or
    measurement; 422 for a malformed payload or a deadline not in the future.
    """

    def work(session: Session) -> MotionRead:
        now = utcnow()
        member = council.member_for_account(session, caller.account_id)
        motion = service.file_motion(
            session,
            member,
            kind=body.kind,
            title=body.title,
            payload=body.payload,
            deadline=body.deadline,
            now=now,
        )
        return MotionRead.of(motion, None, now)

    return await run_write(database, work)


@router.get("/motions", operation_id="list_motions", responses=problem_responses(401, 422))
def list_motions(
    session: ReadSession,
    _caller: CurrentCaller,
    after_id: AfterId = 0,
    limit: MotionPageSize = 50,
) -> MotionPage:
    """Motions by id with their status and results."""
    rows = service.list_motions(session, after_id=after_id, limit=limit)
    now = utcnow()
    return MotionPage(
        motions=[MotionRead.of(m, r, now) for m, r in rows],
        next_after_id=rows[-1][0].id if len(rows) == limit else None,
    )


@router.get(
    "/motions/{motion_id}", operation_id="get_motion", responses=problem_responses(401, 404, 422)
)
def read_motion(motion_id: MotionId, session: ReadSession, _caller: CurrentCaller) -> MotionRead:
    """One motion with its status and, once decided, its result and full breakdown."""
    return _motion_read(session, motion_id, utcnow())


@router.get(
    "/motions/{motion_id}/ballots",
    operation_id="list_ballots",
    responses=problem_responses(401, 404, 422),
)
def list_ballots(
    motion_id: MotionId, session: ReadSession, _caller: CurrentCaller
) -> list[BallotRead]:
    """The ballots cast on a motion, in the order cast."""
    service.get_motion(session, motion_id)
    return [BallotRead.of(b) for b in service.ballots_of(session, motion_id)]


@router.post(
    "/motions/{motion_id}/ballots",
    status_code=status.HTTP_201_CREATED,
    operation_id="cast_ballot",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def cast_ballot(
    motion_id: MotionId, body: BallotCreate, database: DatabaseDep, caller: CouncilCaller
) -> BallotRead:
    """Cast the calling member's one ballot: yes, no or abstain.

    409 if the account holds no seat, the member voted already (a ballot is never changed),
    or voting has closed.
    """

    def work(session: Session) -> BallotRead:
        member = council.member_for_account(session, caller.account_id)
        return BallotRead.of(service.cast_ballot(session, member, motion_id, body.choice))

    return await run_write(database, work)


@router.post(
    "/motions/{motion_id}/decide",
    operation_id="decide_motion",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def decide(motion_id: MotionId, database: DatabaseDep, caller: DeciderCaller) -> MotionRead:
    """Count a motion whose deadline has passed, record the result, apply a passed effect.

    A seated council member or an admin may ask. 409 before the deadline or if already
    decided. If the effect itself is refused (say, the measurement was certified meanwhile)
    the result says ``effect_status: failed`` with the reason.
    """

    def work(session: Session) -> MotionRead:
        if caller.role is Role.COUNCIL:
            council.member_for_account(session, caller.account_id)
        now = utcnow()
        decision = service.decide(session, motion_id, account_id=caller.account_id, now=now)
        return MotionRead.of(decision.motion, decision.result, now)

    return await run_write(database, work)


# --- delegations --------------------------------------------------------------------------


@router.post(
    "/delegations",
    status_code=status.HTTP_201_CREATED,
    operation_id="delegate",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def delegate(
    body: DelegationCreate, database: DatabaseDep, caller: CouncilCaller
) -> DelegationRead:
    """Delegate the calling member's vote to another member (null revokes).

    Delegation is transitive; a direct ballot always overrides it; weight caught in a
    delegation cycle is not counted. The delegation in force at a motion's deadline counts.
    """

    def work(session: Session) -> DelegationRead:
        member = council.member_for_account(session, caller.account_id)
        return DelegationRead.of(service.delegate(session, member, body.delegate_id))

    return await run_write(database, work)


@router.get("/delegations", operation_id="list_delegations", responses=problem_responses(401))
def list_delegations(session: ReadSession, _caller: CurrentCaller) -> list[DelegationInForce]:
    """The delegations in force now, by member."""
    return [
        DelegationInForce(member_id=m, delegate_id=d)
        for m, d in sorted(service.delegations_in_force(session).items())
    ]
