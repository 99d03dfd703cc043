"""The council: members and seats, rules, the power table, motions, ballots, delegations.

Who may do what: an admin creates and changes members and sets the rules directly; a council
account holding a seat files motions, votes and delegates; a seated council member or an
admin asks for the decision once the deadline has passed; anyone authenticated reads.
Write routes run their transaction on one worker thread (`api.transactions.run_write`).

Every list is paged by `db.paging` (``after_id``, ``limit``; ``next_after_id`` in the
answer): members and motions by id, a motion's ballots by ballot id, the delegations in
force by the delegating member's id.
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
from api.params import MAX_ID, AfterId, PageSize
from api.problems import problem_responses
from api.schemas.council import (
    BallotCreate,
    BallotPage,
    BallotRead,
    DelegationCreate,
    DelegationInForce,
    DelegationPage,
    DelegationRead,
    MemberCreate,
    MemberPage,
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
from db.paging import DEFAULT_PAGE, next_after_id
from db.types import utcnow
from welfare import members as council
from welfare import motions as service
from welfare.tally import parse_share

router = APIRouter(prefix="/council", tags=["council"])

MemberId = Annotated[int, Path(ge=1, le=MAX_ID, description="A council member id.")]
MotionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A motion id.")]
CouncilCaller = Annotated[Caller, Depends(require_role(Role.COUNCIL))]
DeciderCaller = Annotated[Caller, Depends(require_role(Role.COUNCIL, Role.ADMIN))]


def _motion_read(session: Session, motion_id: int, now: datetime) -> MotionRead:
    motion = service.get_motion(session, motion_id)
    return MotionRead.of(motion, service.result_of(session, motion_id), now)


# --- members ------------------------------------------------------------------------------


@router.get("/members", operation_id="list_council_members", responses=problem_responses(401, 422))
def list_members(
    session: ReadSession,
    _caller: CurrentCaller,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> MemberPage:
    """Members with their constituency factors and current seats, by id, a page at a time
    (422 for a bad ``after_id`` or ``limit``)."""
    members = council.members_page(session, after_id=after_id, limit=limit)
    return MemberPage(
        members=[MemberRead.of(m) for m in members],
        next_after_id=next_after_id([m.id for m in members], limit),
    )


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

    The name is NFKC-normalised (``Ｆｒａｎｃｅ`` is stored as ``France``). 404 if the
    account does not exist; 409 if the name (once normalised) is taken or the account
    already holds a seat; 422 for a name with invisible or direction-changing characters, a
    non-council account, or a council that could no longer be seated (more members than
    seats, more than 200 members, explicit weights beyond 4 000 seats in all).
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
    """Change a member's name, constituency, factors, explicit weight or account (admin
    only); re-apportion.

    Fields left out keep their value; ``explicit_weight`` or ``account_id`` sent as null are
    cleared. 404 for an unknown member or account; 409 if the new name is another member's
    or the account holds another seat; 422 as for creating a member.
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
            name=body.name,
            constituency=body.constituency,
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
    member's seats are recomputed; 422 for an assembly beyond 4 000 seats or one too small to
    seat every member (the message names the smallest that would), or a bad share.
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
    populations. The exact table is computed once per seat vector and quota and then served
    from memory. 422 for a threshold outside [0, 1) or a council with no seated member.
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
    limit: PageSize = DEFAULT_PAGE,
) -> MotionPage:
    """Motions by id with their status and results, a page at a time (422 for a bad
    ``after_id`` or ``limit``)."""
    rows = service.list_motions(session, after_id=after_id, limit=limit)
    now = utcnow()
    return MotionPage(
        motions=[MotionRead.of(m, r, now) for m, r in rows],
        next_after_id=next_after_id([m.id for m, _ in rows], limit),
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
    motion_id: MotionId,
    session: ReadSession,
    _caller: CurrentCaller,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> BallotPage:
    """The ballots cast on a motion, in the order cast, a page at a time (by ballot id).

    404 for an unknown motion; 422 for a bad id, ``after_id`` or ``limit``.
    """
    service.get_motion(session, motion_id)
    ballots = service.ballots_page(session, motion_id, after_id=after_id, limit=limit)
    return BallotPage(
        ballots=[BallotRead.of(b) for b in ballots],
        next_after_id=next_after_id([b.id for b in ballots], limit),
    )


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


@router.get("/delegations", operation_id="list_delegations", responses=problem_responses(401, 422))
def list_delegations(
    session: ReadSession,
    _caller: CurrentCaller,
    after_id: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_ID,
            description="Return only delegations of members with a larger id (paging).",
        ),
    ] = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> DelegationPage:
    """The delegations in force now, by the delegating member's id, a page at a time (the
    cursor is a member id; 422 for a bad ``after_id`` or ``limit``)."""
    rows = service.delegations_in_force_page(session, after_id=after_id, limit=limit)
    return DelegationPage(
        delegations=[DelegationInForce(member_id=m, delegate_id=d) for m, d in rows],
        next_after_id=next_after_id([m for m, _ in rows], limit),
    )
