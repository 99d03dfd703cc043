"""End to end, in Chromium, against the real server on a temporary demo database.

A trader signs in, opens the proposal, splits, types an amount and sees the quote, buys,
sees the price move and the position appear; a refused trade shows its reason; a council
member votes; the report shows the decision and its chart; the settled demo proposal shows
predicted against measured. Every page passes the in-page accessibility check
(``a11y.js``) and has no horizontal scroll at 375 px. Screenshots go to ``build/e2e``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import DESKTOP, PHONE, Server, screenshot

A11Y = (Path(__file__).parent / "a11y.js").read_text()

PAGES = [
    "/",
    "/web/proposals/1",
    "/web/proposals/2",
    "/web/council",
    "/web/metrics",
    "/web/measurements",
    "/web/measurements/1",
    "/web/audit",
    "/web/sign-in",
]


def sign_in(page: Any, key: str, then: str = "/") -> None:
    """Sign in through the form, as a person does."""
    page.goto(f"/web/sign-in?next={then}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{then}")
    assert "Signed in as" in page.locator("header").inner_text()


def accessibility_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(A11Y)
    return problems


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


def test_every_page_is_accessible_and_fits_a_phone(open_page: Any, server: Server) -> None:
    """Desktop and 375 px: the accessibility check passes and nothing scrolls sideways."""
    metric = open_page(DESKTOP)
    metric.goto("/web/metrics")
    version = metric.locator("table a").first.get_attribute("href")
    pages = [*PAGES, version]
    for viewport, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = open_page(viewport)
        for path in pages:
            page.goto(path)
            assert page.locator("h1").count() == 1, path
            assert accessibility_problems(page) == [], (label, path)
            if label == "phone":
                assert no_horizontal_scroll(page), path
            name = "home" if path == "/" else path.strip("/").replace("/", "-")[:40]
            screenshot(page, f"{label}-{name}")


def test_a_trader_splits_quotes_buys_and_sees_the_price_move(
    open_page: Any, server: Server
) -> None:
    watcher = open_page(DESKTOP)  # someone else reading the page, never reloading it
    watcher.goto("/web/proposals/1")
    price = watcher.locator('[data-price="2-0"]')
    assert price.inner_text() == "50.0%"

    page = open_page(DESKTOP)
    sign_in(page, server.key("alice"), then="/web/proposals/1")
    cash = page.locator("[data-cash]").inner_text()

    page.get_by_label("Amount to split").fill("20")
    page.get_by_role("button", name="Split").click()
    page.wait_for_load_state()
    assert "20 split into every branch" in page.locator(".flash").inner_text()
    assert page.locator("[data-cash]").inner_text() != cash

    page.get_by_label("Branch", exact=True).select_option(label="Leave at 18")
    page.get_by_label("Outcome", exact=True).select_option(label="LONG")
    amount = page.get_by_label("Amount", exact=True)
    amount.press_sequentially("25", delay=30)
    quote = page.locator("#quote")
    quote.filter(has_text="You pay").wait_for()
    assert re.search(r"You pay [0-9.]+ for 25 LONG .* from 50\.0% to 54\.3%", quote.inner_text())
    screenshot(page, "trade-quote")

    page.get_by_role("button", name="Send the order").click()
    page.wait_for_load_state()
    assert "Bought 25 LONG in 'Leave at 18'" in page.locator(".flash").inner_text()
    assert page.locator('[data-price="2-0"]').inner_text() == "54.3%"
    assert page.locator('[data-position="2-0"]').inner_text() == "25 LONG in Leave at 18"
    screenshot(page, "trade-done")

    # the other reader's page refreshes its prices by itself
    watcher.wait_for_function(
        "() => document.querySelector('[data-price=\"2-0\"]').textContent === '54.3%'"
    )


def test_a_refused_trade_shows_its_reason(open_page: Any, server: Server) -> None:
    page = open_page(DESKTOP)
    sign_in(page, server.key("bob"), then="/web/proposals/1")
    page.get_by_label("Branch", exact=True).select_option(label="Leave at 17")
    page.get_by_label("Amount", exact=True).fill("30")
    page.get_by_label("Price limit per share (optional)").fill("0.1")
    page.locator("#quote.bad").wait_for()  # the live quote already says why
    assert "Not possible" in page.locator("#quote").inner_text()
    page.get_by_role("button", name="Send the order").click()
    page.wait_for_load_state()
    error = page.locator("#limit-error")
    assert "limit" in error.inner_text()
    assert (
        page.get_by_label("Price limit per share (optional)").get_attribute("aria-invalid")
        == "true"
    )
    assert page.get_by_label("Price limit per share (optional)").input_value() == "0.1"
    screenshot(page, "trade-refused")


def test_the_trade_form_works_from_the_keyboard(open_page: Any, server: Server) -> None:
    page = open_page(DESKTOP)
    sign_in(page, server.key("carol"), then="/web/proposals/1")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "trade-amount":
            break
    else:
        raise AssertionError("Tab never reached the trade amount")
    page.keyboard.type("3")
    page.locator("#quote").filter(has_text="You pay").wait_for()
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_load_state()
    assert "Bought 3 LONG" in page.locator(".flash").inner_text()


def test_a_council_member_votes_on_a_motion(open_page: Any, server: Server) -> None:
    page = open_page(PHONE)
    sign_in(page, server.key("councillor-europe"), then="/web/council")
    motion = page.locator(f"article[aria-labelledby='motion-{server.motion_id}-h']")
    assert "Raise the quorum to 3/5" in motion.inner_text()
    assert "Yes 0 seats" in motion.inner_text().replace("\n", " ")
    motion.get_by_label("yes").check()
    motion.get_by_role("button", name="Cast the ballot").click()
    page.wait_for_load_state()
    assert "voted yes on motion" in page.locator(".flash").inner_text()
    motion = page.locator(f"article[aria-labelledby='motion-{server.motion_id}-h']")
    assert "Yes 138 seats" in motion.inner_text().replace("\n", " ")  # Europe's bloc
    assert no_horizontal_scroll(page)
    screenshot(page, "council-voted")


def test_the_report_shows_the_decision_and_the_chart(open_page: Any, server: Server) -> None:
    page = open_page(DESKTOP)
    page.goto("/web/proposals/1")
    page.get_by_role("link", name="Read the policy-decision report").click()
    page.wait_for_url("**/web/proposals/1/report")
    body = page.locator("body").inner_text()
    assert "would be if taken now" in body
    assert page.locator("svg[role='img']").count() >= 1
    screenshot(page, "report-open")


def test_the_settled_demo_shows_predicted_against_measured(open_page: Any, server: Server) -> None:
    page = open_page(PHONE)
    page.goto("/")
    page.get_by_role("link", name="Demo (finished, 2002): school leaving age").click()
    page.wait_for_url("**/web/proposals/2")
    section = page.locator("section[aria-labelledby='settled-h']")
    text = section.inner_text()
    assert "Measured welfare:" in text
    assert "Predicted" in text
    measured = float(page.locator("[data-measured]").inner_text())
    assert 0.6 < measured < 0.8
    assert "Adopted" in page.locator("section[aria-labelledby='decision-h']").inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, "settled-proposal-phone")
