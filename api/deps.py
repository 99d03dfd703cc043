"""Request-scoped dependencies: settings, one transaction per request, the caller and its role.

Usage in a router::

    @router.post("/things")
    def create(body: ThingCreate, session: WriteSession, caller: AdminAccount) -> ThingRead: ...

The session dependencies use ``scope="function"`` so the transaction commits *before* the
response is sent: a client never sees 2xx for work that was not committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.problems import AuthenticationRequired, PermissionDenied
from db.identity import Role, account_for_key
from db.session import Database
from db.settings import Settings
from welfare import members


def get_database(request: Request) -> Database:
    """The process's `Database`, created by `api.app.create_app`."""
    database: Database = request.app.state.database
    return database


def get_settings_dep(request: Request) -> Settings:
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


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated account behind a request."""

    account_id: int
    name: str
    role: Role


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fut_…`")


def current_caller(
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The account owning the request's API key (401 if missing, unknown or revoked)."""
    if credentials is None or not credentials.credentials:
        raise AuthenticationRequired("send an API key as 'Authorization: Bearer <key>'")
    with database.read() as session:
        account = account_for_key(session, credentials.credentials)
        if account is None:
            raise AuthenticationRequired("the API key is unknown or revoked")
        return Caller(account_id=account.id, name=account.name, role=Role(account.role))


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_role(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency admitting only callers whose role is in ``roles`` (403 otherwise)."""
    allowed = frozenset(roles)
    names = " or ".join(r.value for r in roles)

    def _check(caller: CurrentCaller) -> Caller:
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
