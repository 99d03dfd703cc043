"""The policy-decision report of a proposal: HTML, JSON or Markdown of one read model.

``GET /proposals/{id}/report`` picks its rendering by ``?format=html|json|md`` when given
(it wins), else by the ``Accept`` header (`negotiate`): the acceptable type with the
highest quality, ties going to JSON, then HTML, then Markdown; no ``Accept`` (or ``*/*``)
gives JSON. A header that none of the three satisfies is a 406 problem.

The HTML is one self-contained file, sent with a Content-Security-Policy that lets it load
nothing (`reports.render_html.CONTENT_SECURITY_POLICY`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response

from api.deps import CurrentCaller, ReadSession
from api.params import ProposalId
from api.problems import PROBLEM_JSON, PROBLEM_SCHEMA, problem, problem_responses
from reports import read_model, render_html, render_json, render_md

router = APIRouter(prefix="/proposals", tags=["reports"])

ReportFormat = Literal["html", "json", "md"]

RENDERINGS: Final[tuple[tuple[ReportFormat, str], ...]] = (
    ("json", "application/json"),
    ("html", "text/html"),
    ("md", "text/markdown"),
)
"""Each rendering and its media type, in the order that breaks a tie in ``Accept``."""

MEDIA_TYPES: Final[dict[str, str]] = dict(RENDERINGS)


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    """``(type, subtype, q)`` of each media range in an ``Accept`` header; a range whose
    ``q`` is not a number from 0 to 1 is dropped (RFC 9110 §12.5.1)."""
    ranges = []
    for item in accept.split(","):
        fields = [f.strip() for f in item.split(";")]
        kind, _, sub = fields[0].lower().partition("/")
        if not kind or not sub:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append((kind, sub, q))
    return ranges


def negotiate(accept: str | None) -> ReportFormat | None:
    """The rendering an ``Accept`` header asks for, or None if it accepts none of them.

    Each media type gets the quality of the most specific range that matches it
    (``text/html`` over ``text/*`` over ``*/*``); the highest quality above 0 wins, ties
    in the order of `RENDERINGS`. A missing or blank header accepts anything (JSON).
    """
    if accept is None or not accept.strip():
        return "json"
    ranges = _ranges(accept)
    best: tuple[float, ReportFormat] | None = None
    for name, media in RENDERINGS:
        kind, _, sub = media.partition("/")
        quality, specificity = 0.0, -1
        for r_kind, r_sub, q in ranges:
            if (r_kind, r_sub) == (kind, sub):
                rank = 2
            elif (r_kind, r_sub) == (kind, "*"):
                rank = 1
            elif (r_kind, r_sub) == ("*", "*"):
                rank = 0
            else:
                continue
            if rank > specificity:
                quality, specificity = q, rank
        if quality > 0.0 and (best is None or quality > best[0]):
            best = (quality, name)
    return None if best is None else best[1]


_TEXT: Final[dict[str, Any]] = {"schema": {"type": "string"}}

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": (
            "The report: JSON (the read model; money as decimal strings), one "
            "self-contained HTML page (inline SVG charts, nothing loaded from elsewhere), "
            "or Markdown."
        ),
        "content": {
            "application/json": {"schema": render_json.schema()},
            "text/html": _TEXT,
            "text/markdown": _TEXT,
        },
    },
    406: {
        "description": "The Accept header accepts none of JSON, HTML and Markdown.",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    },
    **problem_responses(401, 404, 422),
}


@router.get(
    "/{proposal_id:int}/report",
    operation_id="get_proposal_report",
    response_model=None,
    response_class=Response,
    responses=_RESPONSES,
)
def report(
    proposal_id: ProposalId,
    request: Request,
    session: ReadSession,
    _caller: CurrentCaller,
    format_: Annotated[
        ReportFormat | None,
        Query(
            alias="format",
            description=(
                "html, json or md; wins over the Accept header (default: by Accept, JSON for */*)."
            ),
        ),
    ] = None,
) -> Response:
    """The policy-decision report of a proposal, as of now.

    What is decided (question, alternatives, status quo, metric version and bounds); per
    branch the current and averaged price, expected welfare with its band, volume and
    traders; the decision, or before the deadline the decision as it would be if taken
    now (clearly labelled), with the margin over δ, the rule and its hash, exploration and
    the seed commitment (the draw once decided); the subsidy and the maker's worst-case and
    current loss; flags (thin liquidity, one trader dominating, a large last move, a
    margin inside the band) with their figures; after settlement, measured against
    predicted welfare and what each branch's traders earned. A proposal without trades
    gets a report that says so.

    ``?format=`` wins over ``Accept``; 406 if ``Accept`` allows none of the three; 404 for
    an unknown proposal.
    """
    chosen = format_ or negotiate(request.headers.get("accept"))
    if chosen is None:
        return problem(
            406,
            "this report is application/json, text/html or text/markdown; send an Accept "
            "header that allows one of them, or ?format=json|html|md",
            title="Not acceptable",
            headers={"Vary": "Accept"},
        )
    model = read_model.build(session, proposal_id)
    headers = {"Vary": "Accept", "X-Content-Type-Options": "nosniff"}
    if chosen == "html":
        headers["Content-Security-Policy"] = render_html.CONTENT_SECURITY_POLICY
        body = render_html.render(model)
    elif chosen == "md":
        body = render_md.render(model)
    else:
        body = render_json.render(model)
    media = MEDIA_TYPES[chosen] + ("" if chosen == "json" else "; charset=utf-8")
    return Response(content=body, media_type=media, headers=headers)
