"""Proposals: validation, the sponsor's subsidy paid once, K + 1 funded markets, closing."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db.identity import UnknownAccount
from db.session import Database
from db.types import utcnow
from market import funding
from market.conservation import check_conservation
from market.decision import DecisionRule, commitment
from market.errors import InsufficientFunds, InvalidProposal, MarketClosed, UnknownProposal
from market.ledger import LedgerEntry
from market.models import AssetKind, MarketStatus, Proposal, ProposalStatus
from market.proposal_rule import SettlesOn, rule_hash
from market.proposals import (
    RuleSpec,
    SettlesOnSpec,
    close_proposal,
    create_proposal,
    get_proposal,
    markets_of,
)
from market.trading import Order, Side, execute, quote
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import (
    B_BINARY,
    F_BINARY,
    UNIT,
    build_world,
    market_row,
    new_account,
    snapshot,
    spec,
)


def test_creating_a_proposal_charges_the_sponsor_once_and_funds_every_branch(
    db: Database,
) -> None:
    with db.write() as s:
        metric = adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=100 * UNIT)
        proposal = create_proposal(
            s, sponsor, spec(alternatives=("Leave at 17", "Leave at 18"), description="why")
        )
        pid = proposal.id
    with db.read() as s:
        p = get_proposal(s, pid)
        assert (p.title, p.description, p.metric_version_id) == (
            "Raise the school leaving age",
            "why",
            metric,
        )
        assert (p.asset_kind, p.lo, p.hi, p.bin_edges) == ("scalar", 0.0, 100.0, None)
        assert p.status == MarketStatus.OPEN
        assert p.subsidy_micros == p.collateral_micros == F_BINARY
        # F is paid ONCE although three branches are funded with F each
        assert funding.balances(s, sponsor).cash_micros == 100 * UNIT - F_BINARY
        markets = markets_of(s, pid)
        assert [(m.branch_index, m.branch_name, m.is_status_quo) for m in markets] == [
            (0, "Leave at 17", False),
            (1, "Leave at 18", False),
            (2, "Status quo", True),
        ]
        for m in markets:
            assert m.outcomes == ["LONG", "SHORT"]
            assert m.q_micros == [0, 0]
            assert m.b_micros == B_BINARY  # ⌊69.314718 / ln 2⌋ = 99.999999
            assert m.b_micros * math.log(2) <= F_BINARY
            assert m.maker_cash_micros == m.subsidy_micros == F_BINARY
            assert (m.status, m.trade_count) == ("open", 0)
            assert (m.opens_at, m.closes_at) == (p.opens_at, p.closes_at)
        # one SUBSIDY operation: sponsor −F, collateral +F; per branch collateral −F, maker +F
        kinds = s.execute(
            select(LedgerEntry.kind, func.count(), func.count(func.distinct(LedgerEntry.operation)))
            .where(LedgerEntry.proposal_id == pid)
            .group_by(LedgerEntry.kind)
        ).all()
        assert [tuple(k) for k in kinds] == [("subsidy", 2 + 2 * 3, 1)]
        report = check_conservation(s)
        assert report.ok, report.problems
        assert report.totals["cash"] + report.totals["collateral"] == 100 * UNIT


def test_a_binned_proposal_opens_one_outcome_per_bin(db: Database) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=10 * UNIT)
        pid = create_proposal(
            s,
            sponsor,
            spec(
                asset_kind=AssetKind.BINNED,
                bin_edges=(0.0, 25.0, 50.0, 75.0, 100.0),
                subsidy_micros=10 * UNIT,
                status_quo_name="Keep 16",
            ),
        ).id
    with db.read() as s:
        markets = markets_of(s, pid)
        assert [m.branch_name for m in markets] == ["Leave at 18", "Keep 16"]
        assert markets[0].outcomes == ["[0, 25)", "[25, 50)", "[50, 75)", "[75, 100]"]
        assert markets[0].q_micros == [0, 0, 0, 0]
        assert markets[0].b_micros == 7_213_475  # ⌊10 / ln 4⌋ micro-units
        assert get_proposal(s, pid).bin_edges == [0.0, 25.0, 50.0, 75.0, 100.0]
        assert check_conservation(s).ok


def _past(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"title": "  "}, "title must be a non-empty text"),
    ({"title": "x" * 201}, "title is 201 characters long"),
    ({"alternatives": ()}, "between 1 and 20 policy alternatives"),
    ({"alternatives": ("A", "")}, "name of alternative 2 must be a non-empty"),
    ({"alternatives": ("Plan A", "plan a")}, "appears twice"),
    ({"alternatives": ("Status quo",)}, "appears twice"),
    ({"description": "x" * 10_001}, "description is 10001 characters long"),
    ({"asset_kind": "ternary"}, "asset kind must be one of scalar, binned"),
    ({"lo": 5.0}, r"lo = 5 differs from the tradable bounds \[0, 100\] of metric version"),
    ({"hi": 99.5}, r"hi = 99.5 differs from the tradable bounds \[0, 100\]"),
    ({"lo": float("nan")}, "lo must be a finite number"),
    ({"hi": float("inf")}, "hi must be a finite number"),
    ({"lo": "0"}, "lo must be a finite number"),
    ({"bin_edges": (0.0, 50.0, 100.0)}, "a scalar asset has none"),
    ({"asset_kind": AssetKind.BINNED}, "needs its bin edges"),
    ({"asset_kind": AssetKind.BINNED, "bin_edges": (0.0, 100.0)}, "at least two bins"),
    ({"asset_kind": AssetKind.BINNED, "bin_edges": (0.0, 60.0, 50.0, 100.0)}, "increasing"),
    ({"asset_kind": AssetKind.BINNED, "bin_edges": (10.0, 50.0, 100.0)}, "first bin edge"),
    ({"opens_at": datetime(2026, 1, 1)}, "with a time zone"),
    ({"opens_at": utcnow() + timedelta(days=2)}, "must open before it closes"),
    ({"opens_at": _past(48), "closes_at": _past(24)}, "which has passed"),
    ({"decides_at": utcnow() + timedelta(days=2)}, "decides_at: the decision time .* is after"),
    ({"decides_at": _past(2)}, "decides_at: the decision time .* must come after trading opens"),
    ({"decides_at": _past(0.5)}, "decides_at: the decision time .* has passed"),
    ({"decides_at": datetime(2030, 1, 1)}, "decides_at: the decision time must be .* zone"),
    (
        {
            "opens_at": utcnow() + timedelta(hours=1),
            "decides_at": utcnow() + timedelta(hours=1, minutes=30),
            "decision": RuleSpec(interval_seconds=3_600),
        },
        r"decides_at: .* less than one observation interval \(3600 s\) after trading opens",
    ),
    ({"decision": RuleSpec(cap=-1.0)}, "decision.cap: cap must be positive"),
    ({"decision": RuleSpec(cap=float("nan"))}, "decision.cap: cap must be finite"),
    ({"decision": RuleSpec(threshold=-0.5)}, "decision.threshold: threshold must be between 0"),
    ({"decision": RuleSpec(epsilon=1.0)}, "decision.epsilon: epsilon must be at least 0 and below"),
    (
        {"decision": RuleSpec(epsilon=0.1)},
        "decision.exploration_mode: exploration_mode must be 'none' exactly when epsilon is 0",
    ),
    (
        {"decision": RuleSpec(exploration_mode="sometimes")},
        "decision.exploration_mode: exploration_mode must be one of none, ipw, randomised_only",
    ),
    (
        {"decision": RuleSpec(window_seconds=5_000, interval_seconds=3_600)},
        "decision.window_seconds: window_seconds \\(5000\\) must be a whole multiple",
    ),
    (
        {"decision": RuleSpec(window_seconds=3_600, interval_seconds=7_200)},
        "decision.interval_seconds: interval_seconds \\(7200\\) must not exceed",
    ),
    ({"decision": RuleSpec(window_seconds=0)}, "decision.window_seconds: window_seconds must be"),
    ({"seed": b"too short"}, "seed: the seed must be 16 to 1024 bytes long, got 9"),
    ({"settles_on": SettlesOnSpec(period="2007-13")}, "settles_on.period: period '2007-13'"),
    ({"settles_on": SettlesOnSpec(period="2007", entity=" ")}, "settles_on.entity"),
    (
        {"subsidy_micros": 5, "decision": RuleSpec(epsilon=0.1, exploration_mode="ipw")},
        "too small for ipw exploration",
    ),
    ({"subsidy_micros": 0}, "subsidy must be a positive amount"),
    ({"subsidy_micros": -5}, "subsidy must be a positive amount"),
    ({"subsidy_micros": 10**16}, "exceeds the limit"),
    (
        {
            "asset_kind": AssetKind.BINNED,
            "bin_edges": (0.0, 40.0, 60.0, 100.0),
            "subsidy_micros": 1,
        },
        "too small for 3 outcomes",
    ),
]


@pytest.mark.parametrize(("changes", "message"), INVALID, ids=[m for _, m in INVALID])
def test_an_invalid_definition_is_refused_and_changes_nothing(
    db: Database, changes: dict[str, Any], message: str
) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=100 * UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InvalidProposal, match=message):
            create_proposal(s, sponsor, spec(**changes))
        assert snapshot(s) == before


def test_a_sponsor_short_of_the_subsidy_is_refused_and_nothing_changes(db: Database) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=F_BINARY - 1)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InsufficientFunds, match=r"more than the sponsor's cash of 69\.314717"):
            create_proposal(s, sponsor, spec())
        assert snapshot(s) == before
        with pytest.raises(UnknownAccount):
            create_proposal(s, 999, spec())
        assert snapshot(s) == before
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Proposal)) == 0


def test_unknown_proposal(db: Database) -> None:
    with db.read() as s, pytest.raises(UnknownProposal, match="no proposal with id 42"):
        get_proposal(s, 42)
    with db.write() as s, pytest.raises(UnknownProposal):
        close_proposal(s, 42)


def test_closing_stops_trading_and_splitting_but_not_merging(db: Database) -> None:
    world = build_world(db, traders=1, split=10 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        execute(s, trader, market, Order(0, Side.BUY, shares_micros=UNIT))
        closed = close_proposal(s, world.proposal_id)
        assert closed.status == MarketStatus.CLOSED
        assert [m.status for m in markets_of(s, world.proposal_id)] == ["closed", "closed"]
    with db.write() as s:
        assert close_proposal(s, world.proposal_id).status == "closed"  # again: no change
        before = snapshot(s)
        with pytest.raises(MarketClosed, match=f"market {market} is closed"):
            execute(s, trader, market, Order(0, Side.SELL, shares_micros=UNIT))
        with pytest.raises(MarketClosed):
            quote(s, market, Order(1, Side.BUY, shares_micros=UNIT))
        with pytest.raises(MarketClosed, match="can no longer be split"):
            funding.split(s, trader, world.proposal_id, UNIT)
        assert snapshot(s) == before
        # the status quo branch still holds the full 10; branch 0 paid for the share
        balances = funding.merge(s, trader, world.proposal_id, 5 * UNIT)
        assert [b.cash_micros for b in balances.branches][1] == 5 * UNIT
        assert market_row(s, market).status == "closed"
    with db.read() as s:
        assert check_conservation(s).ok


@pytest.mark.parametrize(
    "status", [ProposalStatus.DECIDED, ProposalStatus.SETTLED, ProposalStatus.UNWOUND]
)
def test_closing_a_proposal_past_closing_is_refused(db: Database, status: ProposalStatus) -> None:
    world = build_world(db, traders=0, split=0)
    with db.write() as s:
        s.get_one(Proposal, world.proposal_id).status = status.value
    with db.write() as s, pytest.raises(MarketClosed, match=f"is {status.value}; it cannot be"):
        close_proposal(s, world.proposal_id)
    with db.read() as s:
        assert get_proposal(s, world.proposal_id).status == status.value
        assert [m.status for m in markets_of(s, world.proposal_id)] == ["open", "open"]


def test_the_default_decision_terms_are_stored_hashed_and_committed(db: Database) -> None:
    world = build_world(db, traders=0, split=0)
    with db.read() as s:
        p = get_proposal(s, world.proposal_id)
        rule = DecisionRule.from_dict(p.decision_rule or {})
        # 25 h of trading: the last 24 h in 1 h intervals, cap (100 − 0)/100, δ = 0, ε = 0
        assert rule == DecisionRule(window_seconds=86_400, interval_seconds=3_600, cap=1.0)
        assert p.decides_at == p.closes_at
        seed = bytes.fromhex(p.seed_hex or "")
        assert len(seed) == 32
        assert p.seed_commitment == hashlib.sha256(seed).hexdigest()
        assert p.decision_rule_hash == rule_hash(rule, p.closes_at, p.seed_commitment, None)
        assert (p.settle_entity, p.settle_period, p.settle_cutoff) == (None, None, None)
    with db.write() as s:  # every proposal draws its own secret seed
        funding.credit(s, world.sponsor, F_BINARY)
        again = create_proposal(s, world.sponsor, spec())
        assert again.seed_hex != p.seed_hex
        assert again.decision_rule_hash != p.decision_rule_hash


def test_a_proposal_states_its_own_decision_terms(db: Database) -> None:
    now = utcnow()
    seed = bytes(range(32))
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=10 * F_BINARY)
        opens, decides = now - timedelta(hours=1), now + timedelta(hours=6)
        with_cutoff = create_proposal(
            s,
            sponsor,
            spec(
                opens_at=opens,
                decides_at=decides,
                decision=RuleSpec(
                    window_seconds=7_200,
                    interval_seconds=1_800,
                    cap=0.5,
                    threshold=1.25,
                    epsilon=0.2,
                    exploration_mode="randomised_only",
                ),
                seed=seed,
                settles_on=SettlesOnSpec(period="2007", cutoff=date(2008, 6, 30)),
            ),
        ).id
        without_cutoff = create_proposal(
            s,
            sponsor,
            spec(settles_on=SettlesOnSpec(period="2007-Q3", entity="Elsewhere"), seed=seed),
        ).id
    with db.read() as s:
        p = get_proposal(s, with_cutoff)
        rule = DecisionRule(
            window_seconds=7_200,
            interval_seconds=1_800,
            cap=0.5,
            threshold=1.25,
            epsilon=0.2,
            exploration_mode="randomised_only",
        )
        assert p.decision_rule == rule.to_dict()
        assert p.decides_at == decides
        assert (p.seed_hex, p.seed_commitment) == (seed.hex(), commitment(seed))
        # the entity defaults to the metric version's own ("Testland")
        assert (p.settle_entity, p.settle_period, p.settle_cutoff) == (
            "Testland",
            "2007",
            date(2008, 6, 30),
        )
        settles = SettlesOn("Testland", "2007", date(2008, 6, 30))
        assert p.decision_rule_hash == rule_hash(rule, decides, commitment(seed), settles)
        # randomised_only keeps b = ⌊F / ln 2⌋: only ipw pays for exploration in liquidity
        assert {m.b_micros for m in markets_of(s, with_cutoff)} == {B_BINARY}
        # the window runs from T − 2 h: the market opened an hour before, so it starts there
        m = markets_of(s, with_cutoff)[0]
        assert m.twap_window_start == decides.timestamp() - 7_200
        assert m.twap_observed_at == opens.timestamp()

        q = get_proposal(s, without_cutoff)
        assert (q.settle_entity, q.settle_period, q.settle_cutoff) == ("Elsewhere", "2007-Q3", None)
        document = {
            "decision": DecisionRule.from_dict(q.decision_rule or {}).to_dict(),
            "decides_at": (q.decides_at or now).isoformat().replace("+00:00", "Z"),
            "seed_commitment": commitment(seed),
            "settles_on": {"entity": "Elsewhere", "period": "2007-Q3", "cutoff": None},
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert q.decision_rule_hash == hashlib.sha256(canonical.encode("ascii")).hexdigest()


@pytest.mark.parametrize(
    ("changes", "window", "interval"),
    [
        ({}, 86_400, 3_600),  # 25 h of trading: the last 24 h
        ({"decides_at": 5.5}, 21_600, 3_600),  # 6.5 h before the decision: 6 h, rounded down
        ({"opens_at": -0.25, "closes_at": 0.25}, 1_800, 1_800),  # 30 min: all of it
        ({"decision": RuleSpec(window_seconds=5_400)}, 5_400, 1_800),  # 1.5 h: 30 min steps
        ({"decision": RuleSpec(interval_seconds=7_000)}, 84_000, 7_000),  # 12 whole intervals
        ({"decision": RuleSpec(window_seconds=600)}, 600, 600),
    ],
)
def test_the_default_window_and_interval_fit_the_trading_time(
    db: Database, changes: dict[str, Any], window: int, interval: int
) -> None:
    now = utcnow()
    hours = {k: now + timedelta(hours=v) for k, v in changes.items() if isinstance(v, float)}
    others = {k: v for k, v in changes.items() if not isinstance(v, float)}
    world = build_world(db, traders=0, split=0, **hours, **others)
    with db.read() as s:
        rule = DecisionRule.from_dict(get_proposal(s, world.proposal_id).decision_rule or {})
    assert (rule.window_seconds, rule.interval_seconds) == (window, interval)


def test_ipw_exploration_costs_liquidity(db: Database) -> None:
    world = build_world(
        db,
        traders=0,
        split=0,
        alternatives=("Plan A", "Plan B"),
        decision=RuleSpec(epsilon=0.3, exploration_mode="ipw"),
    )
    with db.read() as s:
        # d_min = 0.3 / 3 = 0.1: b = ⌊⌊69.314718 · 0.1⌋ / ln 2⌋ = ⌊6.931471 / ln 2⌋
        assert {m.b_micros for m in markets_of(s, world.proposal_id)} == {9_999_998}
        assert {m.maker_cash_micros for m in markets_of(s, world.proposal_id)} == {F_BINARY}
