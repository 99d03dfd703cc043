"""The council page: members, seats, weight share and voting power, the quota, motions.

- ``GET /web/council``: the rules in force and the quota; every member with its seats,
  weight share, Banzhaf and Shapley–Shubik power (`welfare.members.council_power`) and its
  delegation in force; the open motions with their tally so far; the latest decided ones;
- ``POST /web/council/motions/{id}/ballot``: a seated member signed in casts its one
  ballot (``welfare.motions.cast_ballot``, as ``POST /council/motions/{id}/ballots``);
- ``POST /web/council/delegation``: a seated member delegates its vote, or revokes
  (``welfare.motions.delegate``, as ``POST /council/delegations``).

The tally so far is `welfare.tally.tally` over the ballots cast and the delegations in force
now, under the rules in force: what the decision would count if the deadline were now.
Both forms carry the CSRF token; a refusal is shown next to the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Caller
from api.deps import DatabaseDep
from api.params import MAX_ID
from api.problems import status_for
from api.transactions import run_write
from api.web import session as web_session
from api.web.forms import FormRefused, read_form
from api.web.render import error_page, page
from api.web.routing import PageRoute
from db.errors import FutarchyError
from db.identity import Role
from db.session import Database
from db.types import utcnow
from welfare import members as council
from welfare import motions as service
from welfare.council import CouncilMember, Motion, MotionResult
from welfare.errors import InvalidWelfareInput
from welfare.members import CouncilPower
from welfare.tally import Choice, Tally, share_text, tally

router = APIRouter(route_class=PageRoute, include_in_schema=False)

MotionId = Annotated[int, Path(ge=1, le=MAX_ID)]

OPEN_LIMIT = 50
"""Motions without a result the page lists, newest first."""

DECIDED_LIMIT = 10
"""Decided motions the page lists, newest first."""


@dataclass(frozen=True)
class OpenMotion:
    """A motion without a result and its tally so far."""

    motion: Motion
    open: bool
    tally: Tally[int]
    my_choice: str | None


def _motions(session: Session, decided: bool, limit: int) -> list[tuple[Motion, Any]]:
    stmt = (
        select(Motion, MotionResult)
        .outerjoin(MotionResult, MotionResult.motion_id == Motion.id)
        .where(MotionResult.id.is_not(None) if decided else MotionResult.id.is_(None))
        .order_by(Motion.id.desc())
        .limit(limit)
    )
    return [(m, r) for m, r in session.execute(stmt)]


def _context(session: Session, caller: Caller | None, now: datetime) -> dict[str, Any]:
    rules = council.current_rules(session)
    members = council.list_members(session)
    weights = {m.id: m.seats for m in members}
    delegations = service.delegations_in_force(session)
    power: CouncilPower | None
    try:
        power = council.council_power(session)
    except InvalidWelfareInput:
        power = None
    mine: CouncilMember | None = None
    if caller is not None and caller.role is Role.COUNCIL:
        mine = next((m for m in members if m.account_id == caller.account_id), None)
    open_motions = []
    for motion, _ in _motions(session, decided=False, limit=OPEN_LIMIT):
        ballots = {b.member_id: Choice(b.choice) for b in service.ballots_of(session, motion.id)}
        counted = tally(
            weights, ballots, delegations, quorum=rules.quorum, threshold=rules.threshold
        )
        my_choice = None if mine is None else ballots.get(mine.id)
        open_motions.append(
            OpenMotion(
                motion=motion,
                open=now < motion.deadline,
                tally=counted,
                my_choice=None if my_choice is None else my_choice.value,
            )
        )
    total = sum(weights.values())
    return {
        "rules": rules,
        "quorum_text": share_text(rules.quorum),
        "threshold_text": share_text(rules.threshold),
        "total_seats": total,
        "power": power,
        "power_rows": {} if power is None else {r.member_id: r for r in power.rows},
        "members": members,
        "names": {m.id: m.name for m in members},
        "delegations": delegations,
        "open_motions": open_motions,
        "decided": _motions(session, decided=True, limit=DECIDED_LIMIT),
        "mine": mine,
    }


async def _page(
    request: Request,
    database: Database,
    *,
    web: web_session.WebSession | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = utcnow()

    def work(session: Session) -> tuple[Any, dict[str, Any]]:
        visitor = web if web is not None else web_session.read_session(request, session)
        return visitor, _context(session, None if visitor is None else visitor.caller, now)

    visitor, context = await anyio.to_thread.run_sync(_read, database, work)
    context["errors"] = errors or {}
    return page(
        request, "council.j2", context, web=visitor, status_code=status_code, title="Council"
    )


def _read(database: Database, work: Callable[[Session], Any]) -> Any:
    with database.read() as session:
        return work(session)


@router.get("/web/council")
async def council_page(request: Request, database: DatabaseDep) -> HTMLResponse:
    """Members, seats, power, the quota and the motions."""
    return await _page(request, database)


async def _member_form(
    request: Request, database: Database
) -> tuple[dict[str, str], web_session.WebSession, Caller] | HTMLResponse:
    """A seated member's form: the fields, the session and the caller; or an error page."""
    try:
        fields = await read_form(request)
    except FormRefused as exc:
        return error_page(exc.status, "Cannot read that form", exc.detail)
    web = await anyio.to_thread.run_sync(
        _read, database, lambda s: web_session.read_session(request, s)
    )
    if web is None or web.caller is None:
        return error_page(
            401, "Sign in first", "your session has ended; sign in again and resend the form"
        )
    if not web_session.check_csrf(request, web, fields.get("csrf", "")):
        return error_page(
            403,
            "This form has expired",
            "the form's security token does not match your session; reload the page and "
            "send it again",
        )
    if web.caller.role is not Role.COUNCIL:
        return error_page(
            403,
            "Not allowed",
            f"voting needs a council account; {web.caller.name} is {web.caller.role.value}",
        )
    return fields, web, web.caller


async def _act(
    request: Request,
    database: Database,
    web: web_session.WebSession,
    field: str,
    work: Callable[[Session], str],
) -> Response:
    """Run a council write; redirect with its message, or show the refusal at ``field``."""
    try:
        message = await run_write(database, work)
    except FutarchyError as exc:
        status, _ = status_for(exc)
        return await _page(request, database, web=web, errors={field: str(exc)}, status_code=status)
    response = RedirectResponse("/web/council", status_code=303)
    web_session.set_flash(request, response, message)
    return response


@router.post("/web/council/motions/{motion_id}/ballot")
async def vote(request: Request, motion_id: MotionId, database: DatabaseDep) -> Response:
    """Cast the signed-in member's ballot: yes, no or abstain."""
    got = await _member_form(request, database)
    if isinstance(got, HTMLResponse):
        return got
    fields, web, caller = got
    choice = fields.get("choice", "")
    field = f"choice-{motion_id}"
    if choice not in {c.value for c in Choice}:
        errors = {field: "choose yes, no or abstain"}
        return await _page(request, database, web=web, errors=errors, status_code=422)

    def work(session: Session) -> str:
        member = council.member_for_account(session, caller.account_id)
        service.cast_ballot(session, member, motion_id, choice)
        return f"{member.name} voted {choice} on motion {motion_id}."

    return await _act(request, database, web, field, work)


@router.post("/web/council/delegation")
async def delegate(request: Request, database: DatabaseDep) -> Response:
    """Delegate the signed-in member's vote to another member, or revoke (empty)."""
    got = await _member_form(request, database)
    if isinstance(got, HTMLResponse):
        return got
    fields, web, caller = got
    raw = fields.get("delegate_id", "").strip()
    if raw and (not raw.isdigit() or len(raw) > 10 or not 1 <= int(raw) <= MAX_ID):
        errors = {"delegate_id": "choose a member from the list, or nobody to revoke"}
        return await _page(request, database, web=web, errors=errors, status_code=422)
    delegate_id = int(raw) if raw else None

    def work(session: Session) -> str:
        member = council.member_for_account(session, caller.account_id)
        service.delegate(session, member, delegate_id)
        if delegate_id is None:
            return f"{member.name} votes for itself again (delegation revoked)."
        chosen = council.get_member(session, delegate_id)
        return f"{member.name} now delegates its vote to {chosen.name}."

    return await _act(request, database, web, "delegate_id", work)
