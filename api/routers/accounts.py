"""Accounts and API keys.

Admins create accounts and issue keys. Keys are listed and revoked by their id:

- ``GET /accounts/{account_id}/keys`` and ``DELETE /accounts/{account_id}/keys/{key_id}``:
  an admin for any account; anyone else only for their own account (403 for another's);
- ``GET /me/keys`` and ``DELETE /me/keys/{key_id}``: the caller's own (beside
  ``/me/balances``; ``/accounts/me/keys`` would also match ``/accounts/{account_id}/keys``).

A key of another account, or no key with that id, is 404. Revoking is ``DELETE`` and is
idempotent: 200 with the same body every time (the first revocation's time). Revoking the
caller's or an account's *last* live key is allowed, so a leaked key can always be revoked
by its holder, and the response says so (``locked_out: true``): that account then cannot
authenticate until an admin issues it a new key. The worker that revoked a key refuses it
from its next request; every other worker within ``AUTH_CACHE_SECONDS`` (`api.auth`).

Anyone authenticated can ask who they are (``GET /accounts/me``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from sqlalchemy.orm import Session

from api.auth import Caller, CallerCache
from api.deps import AdminCaller, CurrentCaller, DatabaseDep, ReadSession
from api.params import MAX_ID, AccountId, AfterId, PageSize
from api.problems import PermissionDenied, problem_responses
from api.schemas.accounts import (
    AccountCreate,
    AccountRead,
    ApiKeyIssued,
    ApiKeyPage,
    ApiKeyRead,
    ApiKeyRevoked,
)
from api.transactions import run_write
from db.identity import (
    Role,
    create_account,
    get_account,
    issue_key,
    list_api_keys,
    revoke_api_key,
)
from db.paging import DEFAULT_PAGE, next_after_id

router = APIRouter(tags=["accounts"])
"""Paths are written out whole: the caller's own keys live at ``/me/keys``, beside
``/me/balances`` (`api.routers.positions`), not at ``/accounts/me/keys``, where the path
would also match ``/accounts/{account_id}/keys`` and its POST."""

KeyId = Annotated[int, Path(ge=1, le=MAX_ID, description="An API key id.")]


def _own_or_admin(caller: Caller, account_id: int) -> None:
    """Admit an admin for any account, anyone else for their own (`PermissionDenied`)."""
    if caller.role is not Role.ADMIN and caller.account_id != account_id:
        raise PermissionDenied(
            f"account {caller.name!r} may list and revoke only its own keys "
            f"(GET /me/keys); account {account_id}'s keys need the admin role"
        )


def _key_page(session: Session, account_id: int, after_id: int, limit: int) -> ApiKeyPage:
    keys = list_api_keys(session, account_id, after_id=after_id, limit=limit)
    return ApiKeyPage(
        keys=[ApiKeyRead.of(k) for k in keys],
        next_after_id=next_after_id([k.id for k in keys], limit),
    )


async def _revoke(
    request: Request, database: DatabaseDep, account_id: int, key_id: int
) -> ApiKeyRevoked:
    """Revoke in one committed transaction, then forget the key in this worker's cache."""

    def work(session: Session) -> tuple[ApiKeyRevoked, str]:
        revocation = revoke_api_key(session, account_id, key_id)
        return ApiKeyRevoked.of(revocation), revocation.key.key_hash

    revoked, key_hash = await run_write(database, work)
    callers: CallerCache = request.app.state.callers
    callers.forget(key_hash)  # after the commit: a lookup now sees the revocation
    return revoked


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_account",
    responses=problem_responses(401, 403, 409, 422),
)
async def create(body: AccountCreate, database: DatabaseDep, _admin: AdminCaller) -> AccountRead:
    """Create an account with a role (admin only).

    The name is stored NFKC-normalised; 422 for a name with invisible or direction-changing
    characters, 409 if an account has the same normalised name.
    """

    def work(session: Session) -> AccountRead:
        return AccountRead.model_validate(create_account(session, body.name, body.role))

    return await run_write(database, work)


@router.get("/accounts/me", operation_id="who_am_i", responses=problem_responses(401))
def me(caller: CurrentCaller, session: ReadSession) -> AccountRead:
    """The account behind the API key."""
    return AccountRead.model_validate(get_account(session, caller.account_id))


@router.get("/me/keys", operation_id="list_my_api_keys", responses=problem_responses(401, 422))
def list_my_keys(
    caller: CurrentCaller,
    session: ReadSession,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> ApiKeyPage:
    """The caller's own keys by id, revoked ones included (never the key or its hash)."""
    return _key_page(session, caller.account_id, after_id, limit)


@router.delete(
    "/me/keys/{key_id}",
    operation_id="revoke_my_api_key",
    responses=problem_responses(401, 404, 422),
)
async def revoke_my_key(
    key_id: KeyId, request: Request, database: DatabaseDep, caller: CurrentCaller
) -> ApiKeyRevoked:
    """Revoke one of the caller's own keys (idempotent; 404 if it is not the caller's).

    Revoking the key this request is sent with is allowed: it is refused (401) from the next
    request on. Revoking the last live key is allowed too and says ``locked_out: true``.
    """
    return await _revoke(request, database, caller.account_id, key_id)


@router.post(
    "/accounts/{account_id}/keys",
    status_code=status.HTTP_201_CREATED,
    operation_id="issue_api_key",
    responses=problem_responses(401, 403, 404, 422),
)
async def issue(account_id: AccountId, database: DatabaseDep, _admin: AdminCaller) -> ApiKeyIssued:
    """Issue a new API key for an account (admin only). The key is shown once."""

    def work(session: Session) -> ApiKeyIssued:
        issued = issue_key(session, get_account(session, account_id))
        return ApiKeyIssued(
            account_id=issued.account_id,
            key_id=issued.id,
            prefix=issued.prefix,
            api_key=issued.plaintext,
        )

    return await run_write(database, work)


@router.get(
    "/accounts/{account_id}/keys",
    operation_id="list_api_keys",
    responses=problem_responses(401, 403, 404, 422),
)
def list_keys(
    account_id: AccountId,
    caller: CurrentCaller,
    session: ReadSession,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> ApiKeyPage:
    """An account's keys by id, revoked ones included (never the key or its hash).

    An admin may list any account's keys; anyone else only their own (403).
    """
    _own_or_admin(caller, account_id)
    return _key_page(session, account_id, after_id, limit)


@router.delete(
    "/accounts/{account_id}/keys/{key_id}",
    operation_id="revoke_api_key",
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_key(
    account_id: AccountId,
    key_id: KeyId,
    request: Request,
    database: DatabaseDep,
    caller: CurrentCaller,
) -> ApiKeyRevoked:
    """Revoke one of an account's keys: 200 and the same body however often it is asked.

    An admin may revoke any account's keys, anyone else only their own (403). 404 if the
    account holds no key with this id. Revoking its last live key is allowed and says
    ``locked_out: true``.
    """
    _own_or_admin(caller, account_id)
    return await _revoke(request, database, account_id, key_id)


@router.get(
    "/accounts/{account_id}",
    operation_id="get_account",
    responses=problem_responses(401, 403, 404, 422),
)
def read(account_id: AccountId, session: ReadSession, _admin: AdminCaller) -> AccountRead:
    """One account (admin only)."""
    return AccountRead.model_validate(get_account(session, account_id))
