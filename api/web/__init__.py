"""The web pages: server-rendered HTML over the same services the JSON API calls.

Jinja2 templates with autoescape (`api.web.render`), one stylesheet and a little plain
JavaScript served by the app (`api.web.assets`), sign-in with an API key once into a
signed, HttpOnly, SameSite=Strict session cookie and a CSRF token on every form
(`api.web.session`). Modules, one per page family:

- `api.web.proposals`: ``/`` and ``/web/proposals/{id}`` (split, merge, trade; the live
  quote and prices for the script);
- `api.web.council`: ``/web/council`` (vote, delegate);
- `api.web.metrics`: ``/web/metrics…`` and ``/web/measurements…``;
- `api.web.audit`: ``/web/audit``;
- `api.web.signin`: ``/web/sign-in``, ``/web/sign-out``.

Every route is left out of the OpenAPI document (``include_in_schema=False``): the
document describes the JSON API, which the pages only present. Page routes answer errors
as HTML pages (`api.web.routing.PageRoute`); the script's JSON routes answer
problem+json like the API. `router` gathers them all for `api.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.web import assets, audit, council, metrics, proposals, signin

router = APIRouter(include_in_schema=False)
for _part in (
    proposals.pages,
    proposals.data,
    council.router,
    metrics.router,
    audit.router,
    signin.router,
    assets.router,
):
    router.include_router(_part)
