"""Settlements: any caller settles a due proposal (exactly once); anyone reads how it ended;
each caller reads what its ended proposals paid it.

- ``POST /proposals/{id}/settle``: settles or unwinds as the proposal's state says
  (`market.settling.settle`), idempotent by state: a repeat returns the first settlement,
  so it takes no Idempotency-Key;
- ``GET /proposals/{id}/settlement``: the settlement with its measurement and per-branch
  figures (404 before);
- ``GET /me/settlements``: the caller's ended proposals, paged by proposal id.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from api.deps import CurrentCaller, DatabaseDep, ReadSession
from api.params import AfterId, PageSize, ProposalId
from api.problems import problem_responses
from api.schemas.settlements import MySettlementPage, MySettlementRead, SettlementRead
from api.transactions import run_write
from db.paging import DEFAULT_PAGE, next_after_id
from market import settling

router = APIRouter(tags=["settlements"])


@router.post(
    "/proposals/{proposal_id:int}/settle",
    operation_id="settle_proposal",
    responses=problem_responses(401, 404, 409, 422),
)
async def settle(
    proposal_id: ProposalId, database: DatabaseDep, _caller: CurrentCaller
) -> SettlementRead:
    """Settle or unwind a proposal, exactly once (any authenticated caller).

    - declared unmeasurable by a passed ``void_proposal`` council motion (open, closed or
      decided): trading closes and it is **unwound**: every trader gets back what it put
      in, the sponsor the rest;
    - decided, and its certified measurement exists: the executed branch **settles**: its
      conditional cash redeems 1:1 and its shares pay by the measured welfare ``W``
      (rounded down; under ``ipw`` net profits are scaled by ``1/d``); every other branch is
      void; the sponsor gets what is left;
    - decided by a ``randomised_only`` draw that did not explore: **unwound**.

    Calling it again returns the first settlement unchanged. 409 before it can, saying why:
    not decided yet, or no certified measurement of the version, entity and period yet
    (compute one with POST /measurements and certify it by council motion). 404 for an
    unknown proposal.
    """

    def work(session: Session) -> SettlementRead:
        settling.settle(session, proposal_id)
        return SettlementRead.of(settling.settlement_report(session, proposal_id))

    return await run_write(database, work)


@router.get(
    "/proposals/{proposal_id:int}/settlement",
    operation_id="get_settlement",
    responses=problem_responses(401, 404, 422),
)
def read(proposal_id: ProposalId, session: ReadSession, _caller: CurrentCaller) -> SettlementRead:
    """How a proposal ended: settled or unwound, the measurement used (id, W, period), the
    executed branch, each branch's totals, the sponsor's return and the number of traders
    paid. 404 for an unknown proposal and before it has ended."""
    return SettlementRead.of(settling.settlement_report(session, proposal_id))


@router.get("/me/settlements", operation_id="my_settlements", responses=problem_responses(401, 422))
def mine(
    session: ReadSession,
    caller: CurrentCaller,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> MySettlementPage:
    """What each of the caller's settled or unwound proposals paid it (as a trader: its
    deposit, what it was paid and the profit; as the sponsor: the subsidy and its return),
    by proposal id (``after_id`` and ``next_after_id`` are proposal ids)."""
    items = settling.settlements_of_account(
        session, caller.account_id, after_id=after_id, limit=limit
    )
    return MySettlementPage(
        settlements=[MySettlementRead.of(i, caller.account_id) for i in items],
        next_after_id=next_after_id([i.proposal_id for i in items], limit),
    )
