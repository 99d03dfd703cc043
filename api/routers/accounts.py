"""Accounts and API keys. Admins create them; anyone authenticated can ask who they are."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminCaller, CurrentCaller, ReadSession, WriteSession
from api.problems import problem_responses
from api.schemas.accounts import AccountCreate, AccountRead, ApiKeyIssued
from db.identity import create_account, get_account, issue_api_key

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_account",
    responses=problem_responses(401, 403, 409, 422),
)
def create(body: AccountCreate, session: WriteSession, _admin: AdminCaller) -> AccountRead:
    """Create an account with a role (admin only)."""
    return AccountRead.model_validate(create_account(session, body.name, body.role))


@router.post(
    "/{account_id}/keys",
    status_code=status.HTTP_201_CREATED,
    operation_id="issue_api_key",
    responses=problem_responses(401, 403, 404),
)
def issue_key(account_id: int, session: WriteSession, _admin: AdminCaller) -> ApiKeyIssued:
    """Issue a new API key for an account (admin only). The key is shown once."""
    account = get_account(session, account_id)
    return ApiKeyIssued(account_id=account.id, api_key=issue_api_key(session, account))


@router.get("/me", operation_id="who_am_i", responses=problem_responses(401))
def me(caller: CurrentCaller, session: ReadSession) -> AccountRead:
    """The account behind the API key."""
    return AccountRead.model_validate(get_account(session, caller.account_id))


@router.get("/{account_id}", operation_id="get_account", responses=problem_responses(401, 403, 404))
def read(account_id: int, session: ReadSession, _admin: AdminCaller) -> AccountRead:
    """One account (admin only)."""
    return AccountRead.model_validate(get_account(session, account_id))
