"""Rendering pages: one Jinja2 environment (autoescape on), the figures' filters, the headers.

Every page is a Jinja2 template under ``api/web/templates`` rendered with autoescape, so
any text from the database (a proposal's title, a member's name) is escaped; nothing is
ever marked safe except the charts' SVG, which the server drew itself.

Every page response carries:

- a Content-Security-Policy that lets scripts come only from this server (``script-src
  'self'``: an injected inline script would not run), no frames, forms posting only here;
- ``Cache-Control: no-store`` (pages may show a signed-in trader's holdings);
- a session cookie: a visitor without one gets an anonymous session, so that every form,
  the sign-in form included, has a CSRF token (`api.web.session`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.money import format_amount
from api.web import session as web_session
from api.web.session import WebSession
from market.deciding import time_left

TEMPLATES = Path(__file__).parent / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
"""Headers on every page (the charts' inline SVG styles need ``style-src 'unsafe-inline'``;
scripts never get it)."""


def money(micros: int | None) -> str:
    """Micro-units as the exact decimal the API writes (``12_500_000 → "12.5"``)."""
    return "—" if micros is None else format_amount(int(micros))


def percent(probability: float | None, digits: int = 1) -> str:
    """A probability as a percentage: ``0.6234 → "62.3%"``."""
    if probability is None or not math.isfinite(probability):
        return "—"
    return f"{100 * probability:.{digits}f}%"


def welfare(value: float | None, digits: int = 4) -> str:
    """Welfare units with a fixed number of decimals (``0.71234 → "0.7123"``)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 4) -> str:
    """A difference with its sign: ``+0.0120`` or ``−0.0031``."""
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{abs(value):.{digits}f}"
    return ("+" if value >= 0 else "−") + text


def when(moment: datetime | None) -> str:
    """An instant in UTC, to the minute: ``2025-03-01 14:05 UTC``."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """``in 3 d 4 h`` or ``2 h 5 min ago``."""
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    if moment >= now:
        return f"in {time_left(moment - now)}"
    return f"{time_left(now - moment)} ago"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The pages' Jinja2 environment: autoescape on every template, undefined names fail."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=money,
        percent=percent,
        welfare=welfare,
        signed=signed,
        when=when,
        relative=relative,
    )
    return env


NAV = (
    ("/", "Proposals"),
    ("/web/council", "Council"),
    ("/web/metrics", "Metrics"),
    ("/web/measurements", "Measurements"),
    ("/web/audit", "Audit"),
)
"""The site's navigation: path and label."""


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    web: WebSession | None,
    status_code: int = 200,
    title: str = "",
) -> HTMLResponse:
    """Render ``template`` as a page for this visitor.

    Args:
        request: the request (for the path, the cookies and the secret).
        template: a file under ``templates/``.
        context: the template's own figures.
        web: the visitor's session (None: an anonymous one is started).
        status_code: the HTTP status (a form refused in part is shown with 409 or 422).
        title: the page's title (the first heading says it too).
    """
    response = HTMLResponse("", status_code=status_code, headers=SECURITY_HEADERS)
    if web is None:
        web = web_session.new_anonymous(request, response)
    flash = web_session.pop_flash(request, response)
    body = (
        environment()
        .get_template(template)
        .render(
            **context,
            title=title,
            me=web.caller,
            csrf=web_session.csrf_token(request, web),
            flash=flash,
            nav=NAV,
            path=request.url.path,
            now=datetime.now(UTC),
        )
    )
    response.body = response.render(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def error_page(status_code: int, heading: str, detail: str) -> HTMLResponse:
    """A plain error page (no session: it must render whatever went wrong)."""
    body = (
        environment()
        .get_template("error.j2")
        .render(
            title=heading,
            heading=heading,
            detail=detail,
            status=status_code,
            me=None,
            csrf="",
            flash=None,
            nav=NAV,
            path="",
            now=datetime.now(UTC),
        )
    )
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
