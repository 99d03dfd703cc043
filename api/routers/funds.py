"""Moving cash: the admin's credit and debit (a faucet for demos), a trader's split and merge.

Each route moves money, so each needs an ``Idempotency-Key`` (see `api.idempotency`) and
runs in its own write transaction (`api.transactions`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import AdminCaller, DatabaseDep, TraderCaller
from api.idempotency import IdempotencyKey, idempotent
from api.params import AccountId, ProposalId
from api.problems import problem_responses
from api.schemas.funds import AmountIn, BalancesRead, CashRead
from market import funding

router = APIRouter(tags=["funds"])


@router.post(
    "/accounts/{account_id:int}/credit",
    operation_id="credit_cash",
    response_model=CashRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def credit(
    account_id: AccountId,
    body: AmountIn,
    database: DatabaseDep,
    admin: AdminCaller,
    idem: IdempotencyKey,
) -> Response:
    """Give an account cash from outside the engine (admin only); returns its new cash."""
    return await idempotent(
        database,
        admin.account_id,
        idem,
        body,
        status.HTTP_200_OK,
        lambda session: CashRead(
            account_id=account_id, cash=funding.credit(session, account_id, body.amount)
        ),
    )


@router.post(
    "/accounts/{account_id:int}/debit",
    operation_id="debit_cash",
    response_model=CashRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def debit(
    account_id: AccountId,
    body: AmountIn,
    database: DatabaseDep,
    admin: AdminCaller,
    idem: IdempotencyKey,
) -> Response:
    """Take cash out of an account (admin only; 409 if it holds less); returns its new cash."""
    return await idempotent(
        database,
        admin.account_id,
        idem,
        body,
        status.HTTP_200_OK,
        lambda session: CashRead(
            account_id=account_id, cash=funding.debit(session, account_id, body.amount)
        ),
    )


@router.post(
    "/proposals/{proposal_id:int}/split",
    operation_id="split_cash",
    response_model=BalancesRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def split(
    proposal_id: ProposalId,
    body: AmountIn,
    database: DatabaseDep,
    trader: TraderCaller,
    idem: IdempotencyKey,
) -> Response:
    """Turn ``amount`` of cash into ``amount`` of conditional cash in EVERY branch.

    Returns the caller's cash and conditional cash in this proposal. 409 when the proposal
    is closed or settled, or the caller holds less cash than ``amount``.
    """
    return await idempotent(
        database,
        trader.account_id,
        idem,
        body,
        status.HTTP_200_OK,
        lambda session: BalancesRead.of(
            funding.split(session, trader.account_id, proposal_id, body.amount)
        ),
    )


@router.post(
    "/proposals/{proposal_id:int}/merge",
    operation_id="merge_cash",
    response_model=BalancesRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def merge(
    proposal_id: ProposalId,
    body: AmountIn,
    database: DatabaseDep,
    trader: TraderCaller,
    idem: IdempotencyKey,
) -> Response:
    """Turn ``amount`` of conditional cash from EVERY branch back into ``amount`` of cash.

    Allowed until settlement. 409 when some branch holds less than ``amount`` or the
    proposal is settled.
    """
    return await idempotent(
        database,
        trader.account_id,
        idem,
        body,
        status.HTTP_200_OK,
        lambda session: BalancesRead.of(
            funding.merge(session, trader.account_id, proposal_id, body.amount)
        ),
    )
