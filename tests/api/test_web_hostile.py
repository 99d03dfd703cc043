"""Hostile input to the web pages: never a 5xx, always a clear error page, nothing changed.

The pages are left out of the OpenAPI document, so the schemathesis gate does not reach
them; these tests do, with the inputs it would send and the ones a browser can be made to
send: absurd ids, control characters, oversized and malformed forms, forged or replayed
cookies and tokens, markup in names, and redirects off the site.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from db.identity import account_by_name
from db.types import utcnow
from market import funding
from market.models import AssetKind, Trade
from market.proposals import ProposalSpec, create_proposal
from tests.api.web_helpers import Demo, form_fields, sign_in, text_of

pytest_plugins = ["tests.api.web_fixtures"]  # the seeded, seeded_template and web fixtures

UNIT = 1_000_000


def _state(seeded: Demo) -> tuple[int, int]:
    """(alice's cash, trades): what a refused form must leave as it was."""
    with seeded.database.read() as session:
        cash = funding.balances(session, account_by_name(session, "alice").id).cash_micros
        trades = int(session.scalar(select(func.count()).select_from(Trade)) or 0)
    return cash, trades


@pytest.mark.parametrize(
    "path",
    [
        "/web/proposals/0",
        "/web/proposals/2147483648",
        "/web/proposals/99999999999999999999999999",
        "/web/proposals/-1",
        "/web/proposals/abc",
        "/web/proposals/1%00",
        "/web/proposals/9999",
        "/web/metrics/" + "0" * 64,
        "/web/metrics/not-a-hash",
        "/web/metrics/" + "a" * 64 + "?against=" + "b" * 64,
        "/web/measurements/2147483648",
        "/web/measurements/424242",
        "/web/measurements?before=0",
        "/web/audit?after=-5",
        "/web/metrics?after=1e308",
        "/web/sign-in?next=" + "a" * 400,
        "/web/nowhere",
    ],
)
def test_absurd_addresses_get_a_clear_4xx(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert response.text  # a page or a problem, in words


def test_an_unknown_proposal_is_a_404_page_in_words(web: TestClient) -> None:
    response = web.get("/web/proposals/9999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no proposal with id 9999" in response.text.lower() or "9999" in response.text
    huge = web.get("/web/proposals/2147483648")
    assert huge.status_code == 404
    assert huge.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "query",
    [
        "outcome=0&side=buy&shares=1e308",
        "outcome=0&side=buy&shares=NaN",
        "outcome=0&side=buy&shares=-5",
        "outcome=0&side=sideways&shares=5",
        "outcome=7&side=buy&shares=5",
        "outcome=0&side=sell&spend=5",
        "outcome=0&side=buy&shares=5&spend=5",
        "outcome=0&side=buy",
        "outcome=x&side=buy&shares=5",
        "outcome=0&side=buy&shares=" + "9" * 39,
        "outcome=0&side=buy&shares=5%00",
    ],
)
def test_malformed_quotes_are_problems_not_errors(web: TestClient, query: str) -> None:
    response = web.get(f"/web/markets/2/quote?{query}")
    assert 400 <= response.status_code < 500, (query, response.status_code)
    assert response.headers["content-type"] == "application/problem+json"


def test_a_quote_on_an_unknown_market_is_a_404_problem(web: TestClient) -> None:
    response = web.get("/web/markets/2147483647/quote?outcome=0&side=buy&shares=1")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def _signed_in_trade_form(web: TestClient, seeded: Demo) -> dict[str, str]:
    sign_in(web, seeded.key("alice"))
    return form_fields(web.get("/web/proposals/1").text, "/web/proposals/1/trade")


@pytest.mark.parametrize(
    "changes",
    [
        {"market_id": "99999999999999999999"},
        {"market_id": "7"},  # a branch of another proposal
        {"market_id": "-2"},
        {"outcome": "9"},
        {"outcome": "-1"},
        {"side": "steal"},
        {"by": "magic"},
        {"amount": ""},
        {"amount": "1e308"},
        {"amount": "0"},
        {"amount": "0.0000001"},
        {"amount": "Infinity"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"by": "spend", "side": "sell"},
        {"idem": "k" * 300},
        {"idem": ""},
    ],
)
def test_a_hostile_trade_form_changes_nothing(
    web: TestClient, seeded: Demo, changes: dict[str, str]
) -> None:
    fields = _signed_in_trade_form(web, seeded)
    before = _state(seeded)
    order = {"market_id": "2", "outcome": "0", "side": "buy", "by": "shares", "amount": "5"}
    response = web.post("/web/proposals/1/trade", data={**fields, **order, **changes})
    assert 400 <= response.status_code < 500, (changes, response.status_code)
    assert 'class="error"' in response.text
    assert _state(seeded) == before


def test_control_characters_and_oversized_forms_are_refused(web: TestClient, seeded: Demo) -> None:
    fields = _signed_in_trade_form(web, seeded)
    before = _state(seeded)
    nul = web.post("/web/proposals/1/trade", data={**fields, "amount": "5\x00"})
    assert nul.status_code == 422
    assert "U+0000" in nul.text
    big = web.post("/web/proposals/1/trade", data={**fields, "amount": "5" * 20_000})
    assert big.status_code == 413
    many = "&".join(f"f{i}=1" for i in range(100))
    crowded = web.post(
        "/web/proposals/1/trade",
        content=many,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert crowded.status_code == 400
    as_json = web.post("/web/proposals/1/trade", json={**fields, "amount": "5"})
    assert as_json.status_code == 415
    not_utf8 = web.post(
        "/web/proposals/1/trade",
        content=b"amount=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400
    assert _state(seeded) == before


def test_forms_without_a_session_or_with_a_forged_token_change_nothing(
    web: TestClient, seeded: Demo
) -> None:
    before = _state(seeded)
    order = {"market_id": "2", "outcome": "0", "side": "buy", "by": "shares", "amount": "5"}
    anonymous = web.post("/web/proposals/1/trade", data={**order, "csrf": "x", "idem": "k1"})
    assert anonymous.status_code == 401
    fields = _signed_in_trade_form(web, seeded)
    forged = web.post("/web/proposals/1/trade", data={**order, **fields, "csrf": "f" * 43})
    assert forged.status_code == 403
    missing = web.post("/web/proposals/1/split", data={"idem": fields["idem"], "amount": "5"})
    assert missing.status_code == 403
    assert _state(seeded) == before


def test_a_tampered_or_replayed_cookie_is_not_a_session(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("alice"))
    cookie = web.cookies["futarchy_session"]
    web.cookies.clear()
    genuine = web.get("/", headers={"cookie": f"futarchy_session={cookie}"})
    assert "Signed in as alice (trader)" in text_of(genuine.text)  # sent as a header, it works
    payload, mac = cookie.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["a"] = 1  # claim to be the admin
    forged = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    for value in [f"{forged}.{mac}", cookie + "x", "junk", "a.b.c", "." * 2000, cookie[:10]]:
        web.cookies.clear()
        page = web.get("/", headers={"cookie": f"futarchy_session={value}"})
        assert page.status_code == 200
        assert "Signed in as" not in page.text


def test_an_expired_session_is_signed_out(web: TestClient, seeded: Demo) -> None:
    from api.web import session as web_session
    from api.web.session import MAX_AGE_SECONDS, WebSession

    sign_in(web, seeded.key("alice"))
    request_cookie = web.cookies["futarchy_session"]
    assert request_cookie
    with seeded.database.read() as session:
        from starlette.requests import Request

        scope = {
            "type": "http",
            "headers": [(b"cookie", f"futarchy_session={request_cookie}".encode())],
            "app": web.app,
        }
        request = Request(scope)
        now = utcnow().timestamp()
        live = web_session.read_session(request, session, now=now)
        late = web_session.read_session(request, session, now=now + MAX_AGE_SECONDS + 1)
    assert isinstance(live, WebSession)
    assert live.caller is not None
    assert late is None


def test_markup_in_a_title_is_shown_as_text(web: TestClient, seeded: Demo) -> None:
    with seeded.database.write() as session:
        admin = account_by_name(session, "admin")
        proposal = create_proposal(
            session,
            admin.id,
            ProposalSpec(
                title='<script>alert("x")</script><img src=x onerror=alert(1)>',
                alternatives=("<b>bold</b>",),
                asset_kind=AssetKind.SCALAR,
                opens_at=utcnow(),
                closes_at=utcnow() + timedelta(days=2),
                subsidy_micros=10 * UNIT,
            ),
        )
    page = web.get(f"/web/proposals/{proposal.id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "<b>bold</b>" not in page.text
    assert "<script>alert" not in web.get("/").text


def test_sign_out_by_a_cross_site_form_does_nothing(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("alice"))
    web.get("/")  # the sign-in's one-shot message is shown and gone
    refused = web.post("/web/sign-out", data={"csrf": "guess"})
    assert refused.status_code == 403
    assert "Signed in as alice (trader) Sign out" in text_of(web.get("/").text)
