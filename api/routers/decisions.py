"""Deciding: any authenticated caller may decide a due proposal or crank its averages.

`due_timer` is the optional server timer that decides due proposals by itself
(``decide_due_every_seconds``; 0, the default, turns it off).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter
from sqlalchemy.orm import Session

from api.deps import CurrentCaller, DatabaseDep, ReadSession
from api.params import ProposalId
from api.problems import problem_responses
from api.schemas.decisions import CrankRead, DecisionRead
from api.transactions import run_write
from db.session import Database
from market import deciding
from market import repository as repo
from market.models import Market
from market.settlement_models import Decision

router = APIRouter(prefix="/proposals", tags=["decisions"])


def _read(session: Session, decision: Decision) -> DecisionRead:
    proposal = repo.get_proposal(session, decision.proposal_id)
    markets: list[Market] = list(repo.markets_of(session, [decision.proposal_id]))
    return DecisionRead.of(decision, proposal, markets)


@router.post(
    "/{proposal_id:int}/decide",
    operation_id="decide_proposal",
    responses=problem_responses(401, 404, 409, 422),
)
async def decide(
    proposal_id: ProposalId, database: DatabaseDep, caller: CurrentCaller
) -> DecisionRead:
    """Decide a proposal whose decision time has come (any authenticated caller).

    Locks the proposal and its markets, closes trading (a trade that was waiting gets 409),
    averages each branch's expected welfare over the window, applies the rule and records
    the decision. Idempotent: 200 with THE decision whether this call made it or an earlier
    one did; two callers at once get the same one. 409 before ``decides_at`` (saying how
    long is left), for a proposal unwound without a decision, or if the stored terms do not
    match their published hash; 404 for an unknown proposal.
    """

    def work(session: Session) -> DecisionRead:
        return _read(session, deciding.decide(session, proposal_id, caller.account_id))

    return await run_write(database, work)


@router.get(
    "/{proposal_id:int}/decision",
    operation_id="get_decision",
    responses=problem_responses(401, 404, 422),
)
def read(proposal_id: ProposalId, session: ReadSession, _caller: CurrentCaller) -> DecisionRead:
    """The decision: the rule and its hash, each branch's averaged price and expected
    welfare, the margin over the status quo, the greedy choice, ``d``, the revealed seed and
    its commitment, ``u``, the executed branch and whether the markets settle.

    404 for an unknown proposal, or before the decision (saying when it decides).
    """
    return _read(session, deciding.get_decision(session, proposal_id))


@router.post(
    "/{proposal_id:int}/crank",
    operation_id="crank_proposal",
    responses=problem_responses(401, 404, 409, 422),
)
async def crank(
    proposal_id: ProposalId, database: DatabaseDep, _caller: CurrentCaller
) -> CrankRead:
    """Advance the averages of a proposal's quiet markets to now (any authenticated caller).

    Each branch's capped time-weighted average moves on with its current price, as a trade
    would move it; no average that is already determined changes. Returns each branch's
    average as it will stand at ``decides_at`` if nothing trades until then (once decided:
    the decision's averages, unchanged). 404 for an unknown proposal; 409 if its stored
    decision terms are missing.
    """

    def work(session: Session) -> CrankRead:
        return CrankRead.of(deciding.crank(session, proposal_id=proposal_id))

    return await run_write(database, work)


@contextmanager
def due_timer(database: Database, every_seconds: float) -> Iterator[threading.Thread | None]:
    """Decide due proposals every ``every_seconds`` on a background thread while the block
    runs (`market.deciding.decide_due_every`); ``every_seconds ≤ 0``: no timer (yields None).

    For the app's lifespan::

        with due_timer(database, settings.decide_due_every_seconds):
            yield
    """
    if every_seconds <= 0:
        yield None
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=deciding.decide_due_every,
        args=(database, every_seconds, stop),
        name="decide-due-timer",
        daemon=True,
    )
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)
