"""Sign in with an API key, once; sign out (`api.web.session` holds the session).

- ``GET /web/sign-in``: the form (a password field: the key is not echoed or kept);
- ``POST /web/sign-in``: checks the CSRF token of the visitor's anonymous session and the
  key; a live key opens a signed-in session and redirects (303) to ``next`` (a path on
  this site only); an unknown or revoked key is shown next to the field (401);
- ``POST /web/sign-out``: with the CSRF token; the cookie is dropped, redirect to ``/``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.deps import DatabaseDep
from api.web import session as web_session
from api.web.forms import FormRefused, read_form
from api.web.render import error_page, page
from api.web.routing import PageRoute
from db.session import Database

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%-]{0,200}")
"""A path on this site: starts with one slash (not ``//host``), plain characters only."""


def safe_next(value: str | None) -> str:
    """Where to go after signing in: ``value`` if it is a plain local path, else ``/``."""
    if value and _LOCAL_PATH.fullmatch(value) and not value.startswith("/web/sign-"):
        return value
    return "/"


def _read_web(database: Database, request: Request) -> web_session.WebSession | None:
    with database.read() as session:
        return web_session.read_session(request, session)


@router.get("/web/sign-in")
async def sign_in_form(
    request: Request,
    database: DatabaseDep,
    next_: Annotated[str | None, Query(alias="next", max_length=300)] = None,
) -> HTMLResponse:
    """The sign-in form."""
    web = await anyio.to_thread.run_sync(_read_web, database, request)
    context: dict[str, Any] = {"errors": {}, "next_path": safe_next(next_)}
    return page(request, "sign_in.j2", context, web=web, title="Sign in")


@router.post("/web/sign-in")
async def sign_in(request: Request, database: DatabaseDep) -> Response:
    """Check the key; open a session and go on, or show why not."""
    try:
        fields = await read_form(request)
    except FormRefused as exc:
        return error_page(exc.status, "Cannot read that form", exc.detail)
    next_path = safe_next(fields.get("next"))
    key = fields.get("key", "")

    def work(session: Session) -> tuple[Any, Any]:
        web = web_session.read_session(request, session)
        found = web_session.sign_in(session, key) if key.strip() else None
        return web, found

    web, found = await anyio.to_thread.run_sync(_run_read, database, work)
    if not web_session.check_csrf(request, web, fields.get("csrf", "")):
        return error_page(
            403,
            "This form has expired",
            "the form's security token does not match your session (cookies must be on); "
            "reload the sign-in page and try again",
        )
    errors: dict[str, str] = {}
    if not key.strip():
        errors["key"] = "enter your API key"
    elif found is None:
        errors["key"] = (
            "this key is unknown or revoked; check it, or ask an admin for a new one "
            "(futarchy admin issue-key NAME)"
        )
    if errors:
        context = {"errors": errors, "next_path": next_path}
        status = 422 if "enter" in errors["key"] else 401
        return page(request, "sign_in.j2", context, web=web, status_code=status, title="Sign in")
    caller, key_id, key_hash = found
    response = RedirectResponse(next_path, status_code=303)
    web_session.start(request, response, caller, key_id, key_hash)
    web_session.set_flash(request, response, f"Signed in as {caller.name} ({caller.role.value}).")
    return response


def _run_read(database: Database, work: Any) -> Any:
    with database.read() as session:
        return work(session)


@router.post("/web/sign-out")
async def sign_out(request: Request, database: DatabaseDep) -> Response:
    """End the session (the form carries the CSRF token)."""
    try:
        fields = await read_form(request)
    except FormRefused as exc:
        return error_page(exc.status, "Cannot read that form", exc.detail)
    web = await anyio.to_thread.run_sync(_read_web, database, request)
    response = RedirectResponse("/", status_code=303)
    if web is None or web.caller is None:  # signed out already (expired, key revoked)
        web_session.end(request, response)
        return response
    if not web_session.check_csrf(request, web, fields.get("csrf", "")):
        return error_page(
            403,
            "This form has expired",
            "the form's security token does not match your session; reload the page and "
            "sign out again",
        )
    web_session.end(request, response)
    return response
