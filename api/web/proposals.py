"""The home page and the proposal page, with a signed-in trader's split, merge and trade.

Pages (HTML, `api.web.routing.PageRoute`):

- ``GET /``: open and recent proposals (`api.web.views.home`);
- ``GET /web/proposals/{id}``: the report's read model (`reports.read_model.build`):
  branches side by side, the chart, the rule, the decision or the would-be decision, the
  flags, predicted against measured; the report link; for a signed-in trader, balances,
  positions and the split, merge and trade forms;
- ``POST /web/proposals/{id}/split``, ``…/merge``, ``…/trade``: the forms. Each runs the
  money-moving route's own effect through `api.idempotency.idempotent` under the JSON
  route's path, with the form's one-time ``idem`` field as the ``Idempotency-Key``: a form
  sent twice (a double click, a reload) moves money once. A refusal is shown in words next
  to the field it concerns, with the page's status 409 or 422; success redirects (303) to
  the page with a one-shot message.

JSON for the page's script (problem+json errors, as the API):

- ``GET /web/proposals/{id}/report``: the policy-decision report's HTML, as the API's
  ``GET /proposals/{id}/report?format=html`` renders it (a link cannot send an API key);
- ``GET /web/proposals/{id}/live``: the proposal as ``GET /proposals/{id}`` answers it
  (prices refresh without a reload);
- ``GET /web/markets/{id}/quote?outcome=…&side=…&shares=…|spend=…``: what
  ``POST /markets/{id}/quote`` answers for that order (the live quote as an amount is
  typed).

Reading is public (a journalist needs no key); trading needs a trader's session.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.auth import Caller
from api.deps import DatabaseDep
from api.idempotency import IdempotentRequest, idempotent
from api.params import MarketId, ProposalId
from api.schemas.funds import AmountIn, BalancesRead
from api.schemas.proposals import ProposalRead
from api.schemas.trades import OrderIn, QuoteRead, TradeRead
from api.web import reporting, views
from api.web import session as web_session
from api.web.forms import FieldErrors, FormRefused, errors_of, read_form
from api.web.render import error_page, money, page
from api.web.routing import PageRoute
from db.errors import FutarchyError, InvalidInputError
from db.identity import Role
from db.session import Database
from db.types import utcnow
from market import funding, trading
from market.idempotency import MAX_KEY_LENGTH
from market.proposals import get_proposal, markets_of
from reports import read_model, render_html

pages = APIRouter(route_class=PageRoute, include_in_schema=False)
data = APIRouter(include_in_schema=False)

TRADE_FIELDS = {
    "outcome": "outcome",
    "side": "side",
    "shares": "amount",
    "spend": "amount",
    "max_average_price": "limit",
    "min_average_price": "limit",
}
"""`OrderIn` field → the trade form's field that shows its error."""

PROBLEM_FIELDS = {
    "/problems/price-limit-exceeded": "limit",
    "/problems/insufficient-funds": "amount",
    "/problems/insufficient-shares": "amount",
    "/problems/insufficient-margin": "amount",
    "/problems/market-closed": "market_id",
    "/problems/unknown-market": "market_id",
}
"""A refusal's problem type → the form field it concerns (others: the form as a whole)."""


# --- reading -------------------------------------------------------------------------------


def _read(database: Database, work: Callable[[Session], Any]) -> Any:
    with database.read() as session:
        return work(session)


async def _in_read(database: Database, work: Callable[[Session], Any]) -> Any:
    """``work(session)`` in one read transaction on a worker thread."""
    return await anyio.to_thread.run_sync(_read, database, work)


@pages.get("/")
async def home(request: Request, database: DatabaseDep) -> HTMLResponse:
    """Open and recent proposals with their leading branch, margin and time to decision."""

    def work(session: Session) -> tuple[Any, ...]:
        web = web_session.read_session(request, session)
        open_, ended = views.home(session, utcnow())
        return web, open_, ended

    web, open_, ended = await _in_read(database, work)
    context = {"open": open_, "ended": ended}
    return page(request, "home.j2", context, web=web, title="Proposals")


def _proposal_context(
    session: Session, proposal_id: int, caller: Caller | None, now: datetime
) -> dict[str, Any]:
    """Everything the proposal page shows: the report's read model (raises UnknownProposal)
    and, for a signed-in trader, its holdings."""
    report = read_model.build(session, proposal_id, now)
    holdings = None
    if caller is not None and caller.role is Role.TRADER:
        holdings = views.holdings(session, caller.account_id, proposal_id)
    return {
        "r": report,
        "holdings": holdings,
        "chart": reporting.chart(report),
        "report_url": reporting.report_url(proposal_id),
    }


def _form_defaults() -> dict[str, str]:
    return {"idem": secrets.token_hex(16)}


async def _proposal_page(
    request: Request,
    database: Database,
    proposal_id: int,
    *,
    web: web_session.WebSession | None = None,
    errors: FieldErrors | None = None,
    form: str = "",
) -> HTMLResponse:
    """The proposal page, with a refused form's messages and values when given."""
    now = utcnow()

    def work(session: Session) -> tuple[Any, dict[str, Any]]:
        visitor = web if web is not None else web_session.read_session(request, session)
        caller = None if visitor is None else visitor.caller
        return visitor, _proposal_context(session, proposal_id, caller, now)

    visitor, context = await _in_read(database, work)
    context.update(
        errors=errors.messages if errors else {},
        values=errors.values if errors else {},
        failed_form=form,
        idem=_form_defaults()["idem"],
    )
    status = errors.status if errors else 200
    title = context["r"].title
    return page(request, "proposal.j2", context, web=visitor, status_code=status, title=title)


@pages.get("/web/proposals/{proposal_id:int}")
async def proposal_page(
    request: Request, proposal_id: ProposalId, database: DatabaseDep
) -> HTMLResponse:
    """One proposal: what is decided, what the markets expect, what was decided."""
    return await _proposal_page(request, database, proposal_id)


@pages.get("/web/proposals/{proposal_id:int}/report")
async def report(proposal_id: ProposalId, database: DatabaseDep) -> HTMLResponse:
    """The policy-decision report as the HTML ``GET /proposals/{id}/report?format=html``
    answers (one self-contained page, with its own Content-Security-Policy), for a reader
    without an API key."""
    now = utcnow()
    body = await _in_read(
        database, lambda s: render_html.render(read_model.build(s, proposal_id, now))
    )
    headers = {
        "Content-Security-Policy": render_html.CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(body, headers=headers)


@data.get("/web/proposals/{proposal_id:int}/live")
async def live(proposal_id: ProposalId, database: DatabaseDep) -> JSONResponse:
    """The proposal as ``GET /proposals/{id}`` answers it: each branch's prices, expected
    welfare and trade count (one row per branch; never the trade history)."""
    now = utcnow()

    def work(session: Session) -> dict[str, Any]:
        proposal = get_proposal(session, proposal_id)
        markets = sorted(markets_of(session, proposal_id), key=lambda m: m.branch_index)
        return ProposalRead.of(proposal, markets, now).model_dump(mode="json")

    body = await _in_read(database, work)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@data.get("/web/markets/{market_id:int}/quote")
def quote(
    market_id: MarketId,
    database: DatabaseDep,
    outcome: Annotated[int, Query(ge=0, le=1000)],
    side: Annotated[str, Query(max_length=8)],
    shares: Annotated[str | None, Query(max_length=40)] = None,
    spend: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[str | None, Query(max_length=40)] = None,
) -> QuoteRead:
    """What ``POST /markets/{id}/quote`` answers for this order (nothing changes).

    ``limit`` is the average price per share: the highest accepted for a buy, the lowest
    for a sale."""
    body: dict[str, Any] = {"outcome": outcome, "side": side}
    if shares is not None:
        body["shares"] = shares
    if spend is not None:
        body["spend"] = spend
    if limit:
        body["max_average_price" if side == "buy" else "min_average_price"] = limit
    try:
        order = OrderIn.model_validate(body)
    except ValidationError as exc:  # the API's 422, naming the field
        raise RequestValidationError(exc.errors()) from None
    with database.read() as session:
        return QuoteRead.of(trading.quote(session, market_id, order.order()))


# --- forms ---------------------------------------------------------------------------------


def _refused(request: Request, exc: FormRefused) -> HTMLResponse:
    return error_page(exc.status, "Cannot read that form", exc.detail)


async def _trader_form(
    request: Request, database: Database
) -> tuple[dict[str, str], web_session.WebSession, Caller] | HTMLResponse:
    """The posted fields of a trader's form with a valid session and CSRF token, or the
    error page to answer with."""
    try:
        fields = await read_form(request)
    except FormRefused as exc:
        return _refused(request, exc)
    web = await _in_read(database, lambda s: web_session.read_session(request, s))
    if web is None or web.caller is None:
        return error_page(
            401, "Sign in first", "your session has ended; sign in again and resend the form"
        )
    if not web_session.check_csrf(request, web, fields.get("csrf", "")):
        return error_page(
            403,
            "This form has expired",
            "the form's security token does not match your session; reload the page and "
            "send it again",
        )
    if web.caller.role is not Role.TRADER:
        return error_page(
            403,
            "Not allowed",
            f"trading needs a trader account; {web.caller.name} is {web.caller.role.value}",
        )
    return fields, web, web.caller


def _idem(fields: dict[str, str], path: str) -> IdempotentRequest | None:
    key = fields.get("idem", "")
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return IdempotentRequest(key=key, method="POST", path=path)


def _problem(response: Response) -> tuple[str, str]:
    """``(problem type, detail)`` of a stored or fresh problem+json response."""
    document = json.loads(bytes(response.body))
    return str(document.get("type", "")), str(document.get("detail", "refused"))


async def _money_move(
    database: Database,
    caller: Caller,
    idem: IdempotentRequest,
    body: BaseModel,
    status_code: int,
    effect: Callable[[Session], BaseModel],
    errors: FieldErrors,
    field_of: Callable[[str], str],
) -> dict[str, Any] | None:
    """Run a money-moving effect once per form (`api.idempotency.idempotent`); the JSON it
    answered, or None with ``errors`` filled in."""
    try:
        response = await idempotent(database, caller.account_id, idem, body, status_code, effect)
    except InvalidInputError as exc:
        errors.add(field_of(type(exc).__name__), str(exc))
        return None
    except FutarchyError as exc:
        errors.add("", str(exc))
        errors.status = 409
        return None
    if response.status_code >= 400:
        kind, detail = _problem(response)
        errors.add(PROBLEM_FIELDS.get(kind, ""), detail)
        errors.status = response.status_code
        return None
    answered: dict[str, Any] = json.loads(bytes(response.body))
    return answered


def _back(request: Request, proposal_id: int, message: str) -> RedirectResponse:
    response = RedirectResponse(f"/web/proposals/{proposal_id}", status_code=303)
    web_session.set_flash(request, response, message)
    return response


async def _cash_form(request: Request, proposal_id: int, database: Database, verb: str) -> Response:
    """A split or merge form: ``amount`` of cash into (or out of) every branch."""
    got = await _trader_form(request, database)
    if isinstance(got, HTMLResponse):
        return got
    fields, web, caller = got
    errors = FieldErrors(values={"amount": fields.get("amount", "")})
    try:
        body = AmountIn.model_validate({"amount": fields.get("amount", "").strip()})
    except ValidationError as exc:
        errors.messages.update(errors_of(exc, {"amount": "amount"}))
        return await _proposal_page(
            request, database, proposal_id, web=web, errors=errors, form=verb
        )
    idem = _idem(fields, f"/proposals/{proposal_id}/{verb}")
    if idem is None:
        errors.add("", "the form lacks its one-time key; reload the page and send it again")
        return await _proposal_page(
            request, database, proposal_id, web=web, errors=errors, form=verb
        )
    service = funding.split if verb == "split" else funding.merge
    answered = await _money_move(
        database,
        caller,
        idem,
        body,
        200,
        lambda s: BalancesRead.of(service(s, caller.account_id, proposal_id, body.amount)),
        errors,
        lambda _name: "amount",
    )
    if answered is None:
        return await _proposal_page(
            request, database, proposal_id, web=web, errors=errors, form=verb
        )
    done = "split into every branch" if verb == "split" else "merged back into cash"
    return _back(
        request,
        proposal_id,
        f"{money(body.amount)} {done}; your cash is now {answered['cash']}",
    )


@pages.post("/web/proposals/{proposal_id:int}/split")
async def split(request: Request, proposal_id: ProposalId, database: DatabaseDep) -> Response:
    """Turn cash into the same conditional cash in every branch (``POST …/split``)."""
    return await _cash_form(request, proposal_id, database, "split")


@pages.post("/web/proposals/{proposal_id:int}/merge")
async def merge(request: Request, proposal_id: ProposalId, database: DatabaseDep) -> Response:
    """Turn conditional cash from every branch back into cash (``POST …/merge``)."""
    return await _cash_form(request, proposal_id, database, "merge")


def _order(fields: dict[str, str], errors: FieldErrors) -> OrderIn | None:
    """The trade form as the API's `OrderIn` (None with ``errors`` filled in)."""
    side = fields.get("side", "")
    by = fields.get("by", "shares")
    if by not in ("shares", "spend"):
        errors.add("by", "choose whether the amount is shares or cash to spend")
    amount = fields.get("amount", "").strip()
    if not amount:
        errors.add("amount", "enter an amount, e.g. 5")
    body: dict[str, Any] = {"side": side, "outcome": fields.get("outcome", "")}
    body["spend" if by == "spend" else "shares"] = amount
    limit = fields.get("limit", "").strip()
    if limit:
        body["max_average_price" if side == "buy" else "min_average_price"] = limit
    if errors:
        return None
    try:
        return OrderIn.model_validate(body)
    except ValidationError as exc:
        errors.messages.update(errors_of(exc, TRADE_FIELDS))
        return None


@pages.post("/web/proposals/{proposal_id:int}/trade")
async def trade(request: Request, proposal_id: ProposalId, database: DatabaseDep) -> Response:
    """Buy or sell one outcome of one branch (``POST /markets/{id}/trades``)."""
    got = await _trader_form(request, database)
    if isinstance(got, HTMLResponse):
        return got
    fields, web, caller = got
    keep = ("market_id", "outcome", "side", "by", "amount", "limit")
    errors = FieldErrors(values={k: fields.get(k, "") for k in keep})

    def branch_ids(session: Session) -> dict[int, str]:
        get_proposal(session, proposal_id)
        return {m.id: m.branch_name for m in markets_of(session, proposal_id)}

    branches = await _in_read(database, branch_ids)
    raw_market = fields.get("market_id", "")
    market_id = int(raw_market) if raw_market.isdigit() and len(raw_market) < 10 else 0
    if market_id not in branches:
        errors.add("market_id", "choose one of this proposal's branches")
    order = _order(fields, errors)
    idem = _idem(fields, f"/markets/{market_id}/trades")
    if idem is None:
        errors.add("", "the form lacks its one-time key; reload the page and send it again")
    if errors or order is None or idem is None:
        return await _proposal_page(
            request, database, proposal_id, web=web, errors=errors, form="trade"
        )
    answered = await _money_move(
        database,
        caller,
        idem,
        order,
        201,
        lambda s: TradeRead.of_result(
            trading.execute(s, caller.account_id, market_id, order.order())
        ),
        errors,
        lambda name: "outcome" if name == "InvalidMarketInput" else "",
    )
    if answered is None:
        return await _proposal_page(
            request, database, proposal_id, web=web, errors=errors, form="trade"
        )
    verb = "Bought" if answered["side"] == "buy" else "Sold"
    paid = "for" if answered["side"] == "buy" else "and received"
    return _back(
        request,
        proposal_id,
        f"{verb} {answered['shares']} {answered['outcome_name']} in "
        f"'{branches[market_id]}' {paid} {answered['cash']} "
        f"(average price {answered['average_price']} a share)",
    )
