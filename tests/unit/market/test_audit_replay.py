"""The market replay (`market.audit_replay`) on logs written by hand, with no database.

The world: sponsor 1 credited ``F = 69.314718`` opens proposal 7 on ``[0, 1]`` with two
branch markets, 11 ("Leave at 18") and 12 (the status quo), ``b = 99.999999`` each. The
averaging window is the hour before the decision ``T``, one interval, cap 0.01. Traders A
(2) and B (3) are credited 100 and split 50 each; half an hour before ``T`` A buys 40 LONG
in market 11 for 21.986808 and B buys 20 SHORT in market 12 for 10.499169 (each the exact
LMSR cost rounded up to the micro-unit: 21.9868072… and 10.4991688…). So branch 0
averages 0.51 and the status quo 0.49: branch 0 is executed, and the certified
measurement 5 (``W = 0.725``: LONG pays 0.724999) settles it:

- A: 50 − 21.986808 + 40 × 0.724999 = 57.013152;
- B: 50 (no bet in the executed branch: its SHORT in the status quo is void);
- the sponsor: the collateral 169.314718 less both, 62.301566.

Each test below breaks one thing in that log and checks the replay names the event.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.audit_chain import GENESIS, AuditMismatch, Event, Head, iso_instant, seal
from db.canonical import digest
from market.assets import ScalarAsset
from market.audit_replay import MarketReplay, ReplayedState
from market.book import Book, quote_buy
from market.branch import (
    advance_market,
    after_trade,
    live_welfare,
    opening_state,
    twap_list,
)
from market.decision import DecisionRule, average, commitment, decide
from market.proposal_rule import iso_utc
from market.settlement import TraderState, settle, unwind
from tests.unit.market.exact import exact_trade_cost
from welfare.audit_replay import CertifiedMeasurement, GovernanceFacts, PassedMotion

UNIT = 1_000_000
F = 69_314_718
B = 99_999_999
SPONSOR, A, BEE = 1, 2, 3
PROPOSAL, MARKETS = 7, (11, 12)
MEASUREMENT, W = 5, 0.725
VOID_MOTION = 9
T = datetime(2030, 1, 1, 12, tzinfo=UTC)
OPENS, CLOSES = T - timedelta(hours=2), T + timedelta(days=1)
RULE = DecisionRule(window_seconds=3600, interval_seconds=3600, cap=0.01)
SEED = bytes(range(32))
ASSET = ScalarAsset(0.0, 1.0)
ASSET_DATA = {"kind": "scalar", "lo": 0.0, "hi": 1.0, "bin_edges": None}

Change = Callable[[dict[str, Any]], None]


CERTIFIED = CertifiedMeasurement(W, "v" * 64, 4, 20, "Testland", "2030", "2031-06-30")
VOIDED = PassedMotion("void_proposal", {"proposal_id": PROPOSAL}, 21)


def facts(
    certified: CertifiedMeasurement | None = CERTIFIED, voided: PassedMotion | None = None
) -> GovernanceFacts:
    """What the governance replay would say: measurement 5 certified (unless None) and,
    when given, void motion 9 passed."""
    return GovernanceFacts(
        {} if certified is None else {MEASUREMENT: certified},
        {} if voided is None else {VOID_MOTION: voided},
        0,
        0,
    )


class Log:
    """A log written as the services write theirs: each method appends the event(s) of one
    change; ``change`` edits an event's data before it is sealed (a forgery)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[Event]] = {}
        self.books = {m: Book((0, 0), B) for m in MARKETS}
        self.twaps = {
            m: opening_state(RULE, ASSET, OPENS.timestamp(), T.timestamp()) for m in MARKETS
        }
        self.cash: dict[tuple[int, int], int] = {}
        self.positions: dict[tuple[int, int, int], int] = {}
        self.stakes: dict[int, int] = {}
        self.makers = dict.fromkeys(MARKETS, F)
        self.counts = dict.fromkeys(MARKETS, 0)
        self.collateral = F
        self.trade_id = 0
        self.decision: dict[str, Any] | None = None

    def append(
        self,
        stream: str,
        kind: str,
        data: dict[str, Any],
        at: datetime,
        change: Change | None = None,
    ) -> None:
        if change is not None:
            change(data)
        events = self.streams.setdefault(stream, [])
        head = events[-1].head if events else Head(stream, 0, GENESIS)
        events.append(seal(head, kind, data, at))

    def credit(self, account: int, amount: int, kind: str = "cash.credit") -> None:
        self.append("governance", kind, {"account": account, "amount_micros": amount}, OPENS)

    def create(self, change: Change | None = None) -> None:
        terms = {
            "decision": RULE.to_dict(),
            "decides_at": iso_utc(T),
            "seed_commitment": commitment(SEED),
            "settles_on": {"entity": "Testland", "period": "2030", "cutoff": "2031-06-30"},
        }
        times = {"opens_at": iso_instant(OPENS), "closes_at": iso_instant(CLOSES)}
        created = {
            "proposal_id": PROPOSAL,
            "title": "Raise the school leaving age",
            "description": "",
            "sponsor": SPONSOR,
            "subsidy_micros": F,
            "metric_version_id": "v" * 64,
            "asset": ASSET_DATA,
            "outcomes": ["LONG", "SHORT"],
            "branches": ["Leave at 18", "Status quo"],
            "markets": list(MARKETS),
            "b_micros": B,
            **times,
            "terms": terms,
            "rule_hash": digest(terms),
        }
        self.append("governance", "proposal.created", created, OPENS, change)
        for j, m in enumerate(MARKETS):
            opened = {
                "proposal_id": PROPOSAL,
                "branch_index": j,
                "branch": created["branches"][j],
                "status_quo": j == 1,
                "asset": ASSET_DATA,
                "outcomes": ["LONG", "SHORT"],
                "b_micros": B,
                "subsidy_micros": F,
                "q_micros": [0, 0],
                "maker_cash_micros": F,
                "rule_hash": created["rule_hash"],
                **times,
                "decides_at": iso_instant(T),
                "twap": twap_list(self.twaps[m]),
            }
            self.append(f"market-{m}", "market.opened", opened, OPENS)

    def move(
        self,
        kind: str,
        account: int,
        amount: int,
        skip: int | None = None,
        change: Change | None = None,
    ) -> None:
        sign = 1 if kind == "split" else -1
        for m in MARKETS:
            self.cash[(account, m)] = self.cash.get((account, m), 0) + sign * amount
        self.stakes[account] = self.stakes.get(account, 0) + sign * amount
        self.collateral += sign * amount
        data = {
            "proposal_id": PROPOSAL,
            "account": account,
            "amount_micros": amount,
            "markets": list(MARKETS),
            "branch_cash_micros": [self.cash[(account, m)] for m in MARKETS],
            "stake_micros": self.stakes[account],
            "collateral_micros": self.collateral,
        }
        for m in MARKETS:
            if m != skip:
                self.append(f"market-{m}", kind, dict(data), OPENS + timedelta(minutes=1), change)

    def buy(
        self,
        account: int,
        market: int,
        outcome: int,
        shares: int,
        change: Change | None = None,
        at: datetime = T - timedelta(minutes=30),
    ) -> None:
        quote = quote_buy(self.books[market], outcome, shares)
        self.trade_id += 1
        self.cash[(account, market)] = self.cash.get((account, market), 0) - quote.cash_micros
        key = (account, market, outcome)
        self.positions[key] = self.positions.get(key, 0) + shares
        self.makers[market] += quote.cash_micros
        self.counts[market] += 1
        self.twaps[market] = after_trade(
            RULE,
            T.timestamp(),
            ASSET,
            self.twaps[market],
            at.timestamp(),
            quote.prices_before,
            quote.prices_after,
        )
        self.books[market] = Book(quote.q_after_micros, B)
        data = {
            "trade_id": self.trade_id,
            "account": account,
            "outcome": outcome,
            "side": "buy",
            "spend_micros": None,
            "shares_micros": shares,
            "cash_micros": quote.cash_micros,
            "q_micros": list(quote.q_after_micros),
            "prices": list(quote.prices_after),
            "maker_cash_micros": self.makers[market],
            "trade_count": self.counts[market],
            "branch_cash_micros": self.cash[(account, market)],
            "position_micros": self.positions[key],
            "twap": twap_list(self.twaps[market]),
        }
        self.append(f"market-{market}", "trade", data, at, change)

    def decide(self, seed: bytes = SEED, change: Change | None = None) -> None:
        states = []
        for m in MARKETS:
            live = live_welfare(ASSET, self.books[m].q_micros, B)
            states.append(
                advance_market(RULE, T.timestamp(), self.twaps[m], T.timestamp(), live, live)
            )
        averaged = [average(s, RULE) for s in states]
        outcome = decide(RULE, averaged, 1, seed, PROPOSAL)
        data = {
            "proposal_id": PROPOSAL,
            "markets": list(MARKETS),
            "rule_hash": "",
            "seed_hex": seed.hex(),
            "decided_by": None,
            "decision": outcome.to_dict(),
            "twap": [twap_list(s) for s in states],
        }
        data["rule_hash"] = self.streams["governance"][-1].data["rule_hash"]
        self.decision = outcome.to_dict()
        for m in MARKETS:
            self.append(f"market-{m}", "decision", dict(data), T + timedelta(seconds=1), change)

    def settle(self, void: bool = False, change: Change | None = None) -> None:
        accounts = sorted(self.stakes)
        if void:
            plan = unwind(
                [TraderState(a, self.stakes[a], 0, ()) for a in accounts], self.collateral
            )
        else:
            traders = [
                TraderState(
                    a,
                    self.stakes[a],
                    self.cash.get((a, 11), 0),
                    tuple(self.positions.get((a, 11, k), 0) for k in range(2)),
                )
                for a in accounts
            ]
            plan = settle(traders, ASSET.payout_micros(W), self.collateral)
        data = {
            "proposal_id": PROPOSAL,
            "markets": list(MARKETS),
            "kind": plan.outcome.value,
            "void_motion_id": VOID_MOTION if void else None,
            "measurement_id": None if void else MEASUREMENT,
            "welfare_value": None if void else W,
            "executed_index": None if void else 0,
            "probability": None,
            "collateral_micros": self.collateral,
            "maker_cash_micros": [self.makers[m] for m in MARKETS],
            "payouts": [
                {
                    "account": p.account_id,
                    "deposit_micros": p.deposit_micros,
                    "value_micros": p.value_micros,
                    "paid_micros": p.paid_micros,
                }
                for p in plan.payouts
            ],
            "paid_micros": plan.traders_micros,
            "sponsor": SPONSOR,
            "sponsor_paid_micros": plan.sponsor_micros,
        }
        for m in MARKETS:
            self.append(f"market-{m}", "settlement", dict(data), T + timedelta(days=400), change)

    def replay(self, governance: GovernanceFacts | None = None) -> ReplayedState:
        replayer = MarketReplay(governance or facts())
        for event in self.streams.get("governance", []):
            replayer.governance_event(event)
        for stream in sorted(
            (s for s in self.streams if s != "governance"), key=lambda s: int(s.split("-")[1])
        ):
            for event in self.streams[stream]:
                replayer.market_event(event)
        return replayer.finish()


def opened() -> Log:
    """Credits, the proposal, both splits."""
    log = Log()
    log.credit(SPONSOR, F)
    log.credit(A, 100 * UNIT)
    log.credit(BEE, 100 * UNIT)
    log.create()
    log.move("split", A, 50 * UNIT)
    log.move("split", BEE, 50 * UNIT)
    return log


def traded() -> Log:
    log = opened()
    log.buy(A, 11, 0, 40 * UNIT)
    log.buy(BEE, 12, 1, 20 * UNIT)
    return log


def mismatch(log: Log, governance: GovernanceFacts | None = None) -> tuple[str, int, str]:
    with pytest.raises(AuditMismatch) as caught:
        log.replay(governance)
    found = caught.value.disagreement
    return found.stream, found.seq, found.message


# --- a faithful log ---------------------------------------------------------------------------


def test_a_faithful_log_replays_to_the_balances_of_the_module_docstring() -> None:
    log = traded()
    assert [
        e.data["cash_micros"] for e in (log.streams["market-11"][3], log.streams["market-12"][3])
    ] == [
        21_986_808,
        10_499_169,
    ]
    # the exact cost, rounded up (60-digit reference)
    assert math.ceil(exact_trade_cost((0, 0), [40 * UNIT, 0], B)) == 21_986_808
    assert math.ceil(exact_trade_cost((0, 0), [0, 20 * UNIT], B)) == 10_499_169
    log.decide()
    assert log.decision is not None
    assert log.decision["averaged"] == [0.51, 0.49]
    assert log.decision["executed"] == 0
    log.settle()
    state = log.replay()
    assert state.cash == {A: 107_013_152, BEE: 100_000_000, SPONSOR: 62_301_566}
    assert state.cash[A] + state.cash[BEE] + state.cash[SPONSOR] == F + 200 * UNIT
    assert (state.trades_checked, state.decisions_checked, state.settlements_checked) == (2, 1, 1)
    assert {m: s.status for m, s in state.markets.items()} == {11: "settled", 12: "void"}
    assert state.branch_cash == {}
    assert state.positions == {}
    assert state.collateral == {}
    assert state.stakes == {(A, PROPOSAL): 50 * UNIT, (BEE, PROPOSAL): 50 * UNIT}
    assert state.markets[11].q_micros == (40 * UNIT, 0)
    assert state.markets[12].trade_count == 1


def test_before_the_decision_the_replay_holds_the_open_books() -> None:
    state = traded().replay()
    assert state.branch_cash == {
        (A, 11): 50 * UNIT - 21_986_808,
        (A, 12): 50 * UNIT,
        (BEE, 11): 50 * UNIT,
        (BEE, 12): 50 * UNIT - 10_499_169,
    }
    assert state.positions == {(A, 11, 0): 40 * UNIT, (BEE, 12, 1): 20 * UNIT}
    assert state.markets[11].maker_cash_micros == F + 21_986_808
    assert state.collateral == {PROPOSAL: F + 100 * UNIT}
    assert state.cash == {A: 50 * UNIT, BEE: 50 * UNIT}  # the sponsor's F is collateral


def test_an_unwind_gives_back_every_deposit_and_the_subsidy() -> None:
    log = traded()
    log.settle(void=True)
    state = log.replay(facts(voided=VOIDED))
    assert state.cash == {A: 100 * UNIT, BEE: 100 * UNIT, SPONSOR: F}
    assert {s.status for s in state.markets.values()} == {"unwound"}


# --- forgeries --------------------------------------------------------------------------------


def test_a_trade_charged_one_micro_unit_less_than_the_quote_is_named() -> None:
    log = opened()
    log.buy(A, 11, 0, 40 * UNIT, change=lambda d: d.update(cash_micros=d["cash_micros"] - 1))
    assert mismatch(log) == (
        "market-11",
        4,
        (
            "trade 1 moved 21.986807 of cash, but the book quotes 21.986808 for buying 40 shares "
            "of outcome 0"
        ),
    )


def test_a_trade_that_leaves_the_book_elsewhere_is_named() -> None:
    log = opened()
    log.buy(A, 11, 0, 40 * UNIT, change=lambda d: d.update(q_micros=[40 * UNIT, 1]))
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 4)
    assert message == "trade 1's q after is recorded as [40000000,1], the replay gives [40000000,0]"


def test_a_buy_with_conditional_cash_never_split_in_is_refused() -> None:
    log = opened()
    log.buy(4, 11, 0, UNIT)  # account 4 never split anything into the proposal
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 4)
    assert "account 4 holds only 0 of conditional cash in market 11" in message


def test_a_split_missing_from_one_branch_stream_is_named_where_the_streams_part() -> None:
    log = opened()
    log.move("split", A, UNIT, skip=12)  # market 12 never hears of this split
    log.move("split", BEE, UNIT)
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-12", 4)
    assert "not the one at the same place in market-11" in message


def test_a_decision_with_a_seed_other_than_the_committed_one_is_refused() -> None:
    log = traded()
    log.decide(seed=bytes(32))
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 5)
    assert f"not to the commitment {commitment(SEED)}" in message


def test_a_decision_that_does_not_follow_from_the_averages_is_refused() -> None:
    def status_quo(data: dict[str, Any]) -> None:
        data["decision"] = dict(data["decision"], executed=1)

    log = traded()
    log.decide(change=status_quo)
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 5)
    assert message == "the decision's executed is recorded as 1, the replay gives 0"


def test_a_changed_average_is_caught_in_its_own_branch() -> None:
    def higher(data: dict[str, Any]) -> None:
        # a forger who also recomputes the decision from the forged averages
        data["decision"] = decide(RULE, [0.51, 0.5], 1, SEED, PROPOSAL).to_dict()

    log = traded()
    log.decide(change=higher)
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-12", 5)
    assert message == "branch 1's average is recorded as 0.5, the replay gives 0.49"


def test_a_payout_beyond_the_replayed_value_is_refused() -> None:
    def richer(data: dict[str, Any]) -> None:
        data["payouts"][0]["paid_micros"] += 1

    log = traded()
    log.decide()
    log.settle(change=richer)
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 6)
    assert message.startswith(f"the payout to account {A} is recorded as")


def test_settling_on_a_measurement_never_certified_is_refused() -> None:
    log = traded()
    log.decide()
    log.settle()
    stream, seq, message = mismatch(log, facts(certified=None))
    assert (stream, seq) == ("market-11", 6)
    assert message == f"it settles on measurement {MEASUREMENT}, which was not certified"


def test_an_unwind_without_a_passed_void_motion_is_refused() -> None:
    log = traded()
    log.settle(void=True)
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 5)
    assert message == f"it names motion {VOID_MOTION}, which did not pass"


def test_a_trade_after_the_market_closed_is_refused() -> None:
    log = opened()
    closed = {"proposal_id": PROPOSAL, "markets": list(MARKETS)}
    log.append("market-11", "proposal.closed", closed, T - timedelta(hours=1))
    log.buy(A, 11, 0, UNIT)
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("market-11", 5)
    assert message == "a trade in market 11, which is closed"


def test_a_proposal_whose_terms_do_not_hash_to_its_rule_hash_is_refused() -> None:
    log = Log()
    log.create(change=lambda d: d["terms"].update(seed_commitment="0" * 64))
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("governance", 1)
    assert message.startswith("the rule hash (SHA-256 of the terms) is recorded as")


def test_more_debited_than_credited_overdraws_the_account_at_the_end() -> None:
    log = Log()
    log.credit(A, 10 * UNIT)
    log.credit(A, 11 * UNIT, "cash.debit")
    stream, seq, message = mismatch(log)
    assert (stream, seq) == ("governance", 0)
    assert message.startswith(f"account {A} ends with -1 of cash")


def test_settling_on_a_measurement_of_another_period_is_refused() -> None:
    log = traded()
    log.decide()
    log.settle()
    other = CertifiedMeasurement(W, "v" * 64, 4, 20, "Testland", "2029", "2031-06-30")
    stream, seq, message = mismatch(log, facts(certified=other))
    assert (stream, seq) == ("market-11", 6)
    assert message == (
        f"measurement 5 is of period '2029', but proposal {PROPOSAL} settles on period '2030'"
    )
