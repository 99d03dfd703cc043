"""The web pages on the `make run` seeded, driven as a browser drives them (no JavaScript):
what a visitor reads, signing in and out, and a trader's and a council member's forms."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy import text as text_sql

from api.money import format_amount
from api.seed import DEMO_SUBSIDY
from db.identity import account_by_name, list_api_keys, revoke_api_key
from db.types import utcnow
from market import funding
from market.models import Trade
from tests.api.web_helpers import Demo, browser, form_fields, sign_in, text_of
from welfare import members, motions

pytest_plugins = ["tests.api.web_fixtures"]  # the seeded, seeded_template and web fixtures

UNIT = 1_000_000


def _cash(seeded: Demo, name: str) -> int:
    with seeded.database.read() as session:
        return funding.balances(session, account_by_name(session, name).id).cash_micros


def _trades(seeded: Demo) -> int:
    with seeded.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Trade)) or 0)


# --- reading, signed out -------------------------------------------------------------------


def test_the_home_page_lists_the_open_proposal_and_the_settled_one(web: TestClient) -> None:
    page = web.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = text_of(page.text)
    assert "Demo: school leaving age" in text
    assert "Leading Status quo" in text  # nothing traded: no alternative beats the status quo
    assert "Margin over the status quo +0.0000 (needs more than δ = 0.0000)" in text
    assert re.search(r"Decides .* \(in 36[45] d", text)
    assert "Demo (finished, 2002): school leaving age" in text
    assert "Predicted welfare" in text
    assert "Measured welfare" in text
    assert '<a href="/web/proposals/2">' in page.text


def test_every_page_sends_its_security_headers_and_an_anonymous_session(web: TestClient) -> None:
    page = web.get("/web/proposals/1")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("futarchy_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # served over http here


def test_over_https_the_session_cookie_is_secure(seeded: Demo) -> None:
    with browser(seeded.database, base_url="https://testserver") as client:
        cookie = client.get("/web/sign-in").headers["set-cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


def test_the_open_proposal_page_shows_branches_rule_and_would_be_decision(web: TestClient) -> None:
    page = web.get("/web/proposals/1")
    assert page.status_code == 200
    text = text_of(page.text)
    for branch in ("Leave at 17", "Leave at 18", "Status quo"):
        assert branch in text
    assert text.count("LONG price 50.0%") == 3  # no trade yet: every price at 1/2
    assert text.count("Expected welfare now 0.5000") == 3
    assert "Not decided yet. The decision as it would be if taken now" in text
    assert "Rule hash" in text
    assert "Seed commitment" in text
    assert '<svg class="chart" role="img"' in page.text
    assert 'href="/web/proposals/1/report"' in page.text
    assert "Sign in with a trader's API key to split cash" in text
    assert 'action="/web/proposals/1/trade"' not in page.text  # no order form signed out


def test_the_finished_proposal_shows_the_decision_and_predicted_against_measured(
    web: TestClient,
) -> None:
    text = text_of(web.get("/web/proposals/2").text)
    assert "Decided at" in text
    assert "'Leave at 18' is executed" in text
    assert "Predicted and measured" in text
    measured = re.search(r"Measured welfare: ([0-9.]+)", text)
    assert measured is not None
    assert 0.6 < float(measured.group(1)) < 0.8  # the World's HDI-like index in 2007
    assert "Leave at 18" in text
    assert "settled" in text
    assert "void" in text


def test_the_council_page_shows_seats_power_and_the_quota(web: TestClient) -> None:
    text = text_of(web.get("/web/council").text)
    assert "Seats 800" in text
    assert "Quota 401 of 800 seats carry a motion when everyone votes" in text
    assert "Quorum 0.5 of the seats must take part" in text
    assert "China" in text
    assert "Banzhaf" in text
    assert "Shapley–Shubik" in text
    assert "No motion is open." in text
    assert "Recently decided" in text
    assert "passed" in text


def test_metric_versions_show_their_definition_and_canonical_json(web: TestClient) -> None:
    listing = web.get("/web/metrics")
    link = re.search(r'href="/web/metrics/([0-9a-f]{64})"', listing.text)
    assert link is not None
    page = web.get(f"/web/metrics/{link.group(1)}")
    text = text_of(page.text)
    assert page.status_code == 200
    assert "adopted, in force from 2002-01-01" in text
    assert "lifeExp" in text
    assert "gdpPercap" in text
    assert "This is the first version" in text
    assert "Canonical JSON (what is hashed)" in text


def test_the_audit_page_shows_the_heads_and_the_servers_verification(
    web: TestClient, seeded: Demo
) -> None:
    page = web.get("/web/audit")
    text = text_of(page.text)
    assert page.status_code == 200
    assert "Everything agrees:" in text
    assert "1 decisions and 1 settlements were recomputed" in text
    assert "governance" in text
    with seeded.database.write() as session:  # a balance edited behind the log's back
        session.execute(text_sql("UPDATE cash_balance SET cash_micros = cash_micros + 1"))
    tampered = text_of(web.get("/web/audit").text)
    assert "The first record that disagrees:" in tampered
    assert "Everything agrees" not in tampered


def test_a_measurement_shows_its_breakdown(web: TestClient) -> None:
    listing = web.get("/web/measurements")
    assert "by motion" in text_of(listing.text)
    page = web.get("/web/measurements/1")
    text = text_of(page.text)
    assert page.status_code == 200
    assert "Breakdown" in text
    assert "lifeExp" in text
    assert "observed" in text
    assert "Certified by motion" in text


def test_the_live_prices_are_the_api_figures(web: TestClient) -> None:
    live = web.get("/web/proposals/1/live").json()
    assert [m["branch_name"] for m in live["markets"]] == [
        "Leave at 17",
        "Leave at 18",
        "Status quo",
    ]
    assert all(m["prices"] == [0.5, 0.5] for m in live["markets"])
    assert live["subsidy"] == "100"


def test_a_quote_prices_an_order_and_changes_nothing(web: TestClient, seeded: Demo) -> None:
    quote = web.get("/web/markets/2/quote?outcome=0&side=buy&shares=10")
    assert quote.status_code == 200
    body = quote.json()
    assert body["shares"] == "10"
    assert body["outcome_name"] == "LONG"
    assert 5 < float(body["cash"]) < 6  # 10 shares from 1/2 with b = 100/ln 2
    assert body["prices_after"][0] > 0.5
    bad = web.get("/web/markets/2/quote?outcome=0&side=buy&shares=abc")
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert "shares" in bad.json()["detail"]
    assert _trades(seeded) == 5  # the finished demo's five trades only


def test_pages_are_not_in_the_openapi_document(web: TestClient) -> None:
    paths = web.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/web") or p == "/"]


# --- signing in and out --------------------------------------------------------------------


def test_sign_in_with_a_key_then_out(web: TestClient, seeded: Demo) -> None:
    key = seeded.key("alice")
    form = web.get("/web/sign-in")
    csrf = form_fields(form.text, "/web/sign-in")["csrf"]
    done = web.post("/web/sign-in", data={"csrf": csrf, "key": key, "next": "/web/proposals/1"})
    assert done.status_code == 303
    assert done.headers["location"] == "/web/proposals/1"
    assert key not in done.headers["set-cookie"]
    page = web.get("/web/proposals/1")
    assert "Signed in as alice (trader)." in text_of(page.text)
    assert key not in page.text
    out = form_fields(page.text, "/web/sign-out")["csrf"]
    gone = web.post("/web/sign-out", data={"csrf": out})
    assert gone.status_code == 303
    assert "Sign in" in web.get("/").text
    assert "Signed in as" not in web.get("/").text


def test_an_unknown_key_is_refused_next_to_the_field(web: TestClient) -> None:
    csrf = form_fields(web.get("/web/sign-in").text, "/web/sign-in")["csrf"]
    refused = web.post("/web/sign-in", data={"csrf": csrf, "key": "fut_not-a-key"})
    assert refused.status_code == 401
    assert 'id="key-error"' in refused.text
    assert "this key is unknown or revoked" in refused.text
    assert "fut_not-a-key" not in refused.text  # never shown back


def test_sign_in_without_the_forms_token_is_refused(web: TestClient, seeded: Demo) -> None:
    web.get("/web/sign-in")
    refused = web.post("/web/sign-in", data={"csrf": "forged", "key": seeded.key("alice")})
    assert refused.status_code == 403
    assert "Signed in as" not in web.get("/").text


def test_a_revoked_key_ends_its_session(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("bob"))
    assert "Signed in as bob (trader) Sign out" in text_of(web.get("/").text)
    with seeded.database.write() as session:
        bob = account_by_name(session, "bob")
        (key,) = list_api_keys(session, bob.id)
        revoke_api_key(session, bob.id, key.id)
    assert "Signed in as" not in web.get("/").text


def test_after_sign_in_goes_only_to_a_path_on_this_site(web: TestClient, seeded: Demo) -> None:
    csrf = form_fields(web.get("/web/sign-in").text, "/web/sign-in")["csrf"]
    done = web.post(
        "/web/sign-in", data={"csrf": csrf, "key": seeded.key("alice"), "next": "//evil.example"}
    )
    assert done.headers["location"] == "/"


# --- a trader's forms ----------------------------------------------------------------------


def test_a_trader_sees_balances_and_splits_then_merges(web: TestClient, seeded: Demo) -> None:
    before = _cash(seeded, "alice")  # 1000 − 250 split by the seed, plus the finished demo's pay
    sign_in(web, seeded.key("alice"))
    page = web.get("/web/proposals/1")
    text = text_of(page.text)
    assert f"Cash {format_amount(before)}" in text
    assert "Conditional cash in Leave at 17 250" in text
    fields = form_fields(page.text, "/web/proposals/1/split")
    done = web.post("/web/proposals/1/split", data={**fields, "amount": "12.5"})
    assert done.status_code == 303
    page = web.get("/web/proposals/1")
    text = text_of(page.text)
    now = format_amount(before - 12_500_000)
    assert f"12.5 split into every branch; your cash is now {now}" in text
    assert "Conditional cash in Status quo 262.5" in text
    fields = form_fields(page.text, "/web/proposals/1/merge")
    assert web.post("/web/proposals/1/merge", data={**fields, "amount": "2.5"}).status_code == 303
    assert _cash(seeded, "alice") == before - 10 * UNIT


def test_a_form_sent_twice_moves_money_once(web: TestClient, seeded: Demo) -> None:
    before = _cash(seeded, "alice")
    sign_in(web, seeded.key("alice"))
    fields = form_fields(web.get("/web/proposals/1").text, "/web/proposals/1/split")
    for _ in range(2):  # a double click, or a reload of the answer
        assert (
            web.post("/web/proposals/1/split", data={**fields, "amount": "10"}).status_code == 303
        )
    assert _cash(seeded, "alice") == before - 10 * UNIT


def test_a_buy_moves_the_price_and_the_position_appears(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("alice"))
    fields = form_fields(web.get("/web/proposals/1").text, "/web/proposals/1/trade")
    order = {"market_id": "2", "outcome": "0", "side": "buy", "by": "shares", "amount": "20"}
    done = web.post("/web/proposals/1/trade", data={**fields, **order})
    assert done.status_code == 303
    page = web.get("/web/proposals/1")
    text = text_of(page.text)
    assert "Bought 20 LONG in 'Leave at 18' for" in text
    assert "20 LONG in Leave at 18" in text  # the position
    assert "LONG price 53.5%" in text  # 1/(1 + e^(−20/b)) with b = 100/ln 2: 0.5346
    assert _trades(seeded) == 6


def test_a_refused_trade_shows_its_reason_next_to_the_field(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("alice"))
    fields = form_fields(web.get("/web/proposals/1").text, "/web/proposals/1/trade")
    order = {
        "market_id": "2",
        "outcome": "0",
        "side": "buy",
        "by": "shares",
        "amount": "20",
        "limit": "0.4",
    }
    refused = web.post("/web/proposals/1/trade", data={**fields, **order})
    assert refused.status_code == 409
    error = re.search(r'<p id="limit-error" class="error" role="alert">([^<]+)</p>', refused.text)
    assert error is not None
    assert "limit" in error.group(1)
    assert 'value="0.4"' in refused.text  # what was typed stays
    assert _trades(seeded) == 5


def test_a_malformed_amount_is_named_next_to_the_field(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("alice"))
    fields = form_fields(web.get("/web/proposals/1").text, "/web/proposals/1/trade")
    order = {"market_id": "2", "outcome": "0", "side": "buy", "by": "shares", "amount": "1e3"}
    refused = web.post("/web/proposals/1/trade", data={**fields, **order})
    assert refused.status_code == 422
    assert 'id="amount-error"' in refused.text
    assert "exponent notation" in refused.text
    too_much = {**order, "amount": "5000"}
    fields = form_fields(refused.text, "/web/proposals/1/trade")
    short = web.post("/web/proposals/1/trade", data={**fields, **too_much})
    assert short.status_code == 409
    assert 'id="amount-error"' in short.text
    assert _trades(seeded) == 5


def test_a_council_account_may_not_trade(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("councillor"))
    page = web.get("/web/proposals/1")
    assert "Trading needs a trader account" in text_of(page.text)


# --- a council member's forms --------------------------------------------------------------


def _motion(seeded: Demo) -> int:
    with seeded.database.write() as session:
        account = account_by_name(session, "councillor")
        member = members.member_for_account(session, account.id)
        motion = motions.file_motion(
            session,
            member,
            kind="change_rules",
            title="Raise the quorum to 3/5",
            payload={"quorum": "3/5"},
            deadline=utcnow() + timedelta(days=3),
        )
        return motion.id


def test_a_seated_member_votes_and_the_tally_moves(web: TestClient, seeded: Demo) -> None:
    motion_id = _motion(seeded)
    sign_in(web, seeded.key("councillor"))
    page = web.get("/web/council")
    assert f"Motion {motion_id}: Raise the quorum to 3/5" in text_of(page.text)
    assert "Yes 0 seats" in text_of(page.text)
    action = f"/web/council/motions/{motion_id}/ballot"
    done = web.post(action, data={**form_fields(page.text, action), "choice": "yes"})
    assert done.status_code == 303
    text = text_of(web.get("/web/council").text)
    assert "voted yes on motion" in text
    assert "Yes 295 seats" in text  # Asia's bloc, delegations included
    assert "China voted yes" in text


def test_a_vote_without_a_choice_is_named_next_to_it(web: TestClient, seeded: Demo) -> None:
    motion_id = _motion(seeded)
    sign_in(web, seeded.key("councillor"))
    action = f"/web/council/motions/{motion_id}/ballot"
    fields = form_fields(web.get("/web/council").text, action)
    refused = web.post(action, data=fields)
    assert refused.status_code == 422
    assert f'id="choice-{motion_id}-error"' in refused.text


def test_a_seated_member_delegates_and_revokes(web: TestClient, seeded: Demo) -> None:
    sign_in(web, seeded.key("councillor-oceania"))
    page = web.get("/web/council")
    assert "Your delegation" in page.text
    with seeded.database.read() as session:
        china = next(m for m in members.list_members(session) if m.name == "China")
    fields = form_fields(page.text, "/web/council/delegation")
    done = web.post("/web/council/delegation", data={**fields, "delegate_id": str(china.id)})
    assert done.status_code == 303
    assert "now delegates its vote to China" in text_of(web.get("/web/council").text)
    fields = form_fields(web.get("/web/council").text, "/web/council/delegation")
    assert (
        web.post("/web/council/delegation", data={**fields, "delegate_id": ""}).status_code == 303
    )
    assert "votes for itself again" in text_of(web.get("/web/council").text)


def test_a_trader_may_not_vote(web: TestClient, seeded: Demo) -> None:
    motion_id = _motion(seeded)
    sign_in(web, seeded.key("alice"))
    page = web.get("/web/council")
    action = f"/web/council/motions/{motion_id}/ballot"
    assert action not in page.text
    csrf = form_fields(page.text, "/web/sign-out")["csrf"]
    refused = web.post(action, data={"csrf": csrf, "choice": "yes"})
    assert refused.status_code == 403
    assert "voting needs a council account" in refused.text


def test_the_demo_subsidy_is_shown(web: TestClient) -> None:
    text = text_of(web.get("/web/proposals/1").text)
    assert f"Sponsor's subsidy {DEMO_SUBSIDY // UNIT} per branch" in text
