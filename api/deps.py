"""Request-scoped dependencies: settings, one transaction per request, the caller and its role.

Usage in a router::

    @router.post("/things")
    def create(body: ThingCreate, session: WriteSession, caller: AdminAccount) -> ThingRead: ...

The session dependencies use ``scope="function"`` so the transaction commits *before* the
response is sent: a client never sees 2xx for work that was not committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import Caller, CallerCache
from api.problems import AuthenticationRequired, PermissionDenied
from db.identity import Role, account_for_key_hash, hash_key
from db.session import Database
from db.settings import Settings
from welfare import members


async def get_database(request: Request) -> Database:
    """The process's `Database`, created by `api.app.create_app`.

    ``async`` although it does no I/O: FastAPI runs a plain ``def`` dependency on a worker
    thread, a hand-off that cost more than the attribute read itself on every request."""
    database: Database = request.app.state.database
    return database


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _write_session(database: DatabaseDep) -> Iterator[Session]:
    with database.write() as session:
        yield session


def _read_session(database: DatabaseDep) -> Iterator[Session]:
    with database.read() as session:
        yield session


WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
"""A write transaction, committed when the route returns, rolled back if it raises."""

ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
"""A read-only transaction."""


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fut_…`")


def _lookup(database: Database, key_hash: str) -> Caller | None:
    with database.read() as session:
        account = account_for_key_hash(session, key_hash)
        if account is None:
            return None
        return Caller(account_id=account.id, name=account.name, role=Role(account.role))


async def current_caller(
    request: Request,
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The account owning the request's API key (401 if missing, unknown or revoked).

    A key this worker met within ``auth_cache_seconds`` is answered from memory on the
    event loop (`api.auth`); otherwise the database is asked on a worker thread. A key this
    worker revoked is refused from its next request on (`api.auth.CallerCache.forget`).
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationRequired("send an API key as 'Authorization: Bearer <key>'")
    key_hash = hash_key(credentials.credentials)
    callers: CallerCache = request.app.state.callers
    caller = callers.get(key_hash)
    if caller is None:
        epoch = callers.epoch
        caller = await anyio.to_thread.run_sync(_lookup, database, key_hash)
        if caller is None:
            raise AuthenticationRequired(
                "the API key is unknown or revoked; send a live key (an admin can issue one)"
            )
        callers.put(key_hash, caller, epoch)
    request.state.account_id = caller.account_id  # for the access log line (api.middleware)
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_role(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting only callers whose role is in ``roles`` (403 otherwise)."""
    allowed = frozenset(roles)
    names = " or ".join(r.value for r in roles)

    async def _check(caller: CurrentCaller) -> Caller:  # no I/O: stays on the event loop
        if caller.role not in allowed:
            raise PermissionDenied(
                f"this needs the {names} role; account {caller.name!r} is {caller.role.value}"
            )
        return caller

    return _check


AdminCaller = Annotated[Caller, Depends(require_role(Role.ADMIN))]
CouncilCaller = Annotated[Caller, Depends(require_role(Role.COUNCIL))]
TraderCaller = Annotated[Caller, Depends(require_role(Role.TRADER))]


def seated_or_admin(database: DatabaseDep, caller: CurrentCaller) -> Caller:
    """Admit an admin, or a council account that holds a seat (403 for other roles, 409
    for a council account without a seat, as on the council routes)."""
    if caller.role is Role.ADMIN:
        return caller
    if caller.role is not Role.COUNCIL:
        raise PermissionDenied(
            f"this needs the council or admin role; account {caller.name!r} is {caller.role.value}"
        )
    with database.read() as session:
        members.member_for_account(session, caller.account_id)
    return caller


SeatedOrAdmin = Annotated[Caller, Depends(seated_or_admin)]
"""A seated council member or an admin."""
