"""Deciding on the database: the average on the trade path, the crank, the decision, once.

The binary markets here have ``F = 69.314718``, so ``b = 99.999999`` units, on the tradable
range ``[0, 100]``: a branch opens at an expected welfare of 50. The default rule of a
proposal trading from an hour ago until a day from now averages the last 24 h before the
close in 1 h intervals, each observation moving by at most ``cap = (100 − 0)/100 = 1``.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from db.session import Database
from market import funding
from market import repository as repo
from market.conservation import check_conservation
from market.deciding import (
    BrokenTerms,
    DecisionNotDue,
    NotDecided,
    crank,
    decide,
    decide_due,
    get_decision,
    live_welfare,
    state_of,
)
from market.decision import DecisionRule, average, margin_multiple, twap_from_path, uniform
from market.errors import InsufficientFunds, InsufficientMargin, InsufficientShares, MarketClosed
from market.models import Market, Proposal, Trade
from market.proposals import (
    RuleSpec,
    asset_of,
    close_proposal,
    create_proposal,
    get_proposal,
    markets_of,
)
from market.settlement_models import Decision
from market.trading import Order, Side, TradeResult, execute
from tests.integration.trading_helpers import (
    B_BINARY,
    F_BINARY,
    UNIT,
    World,
    build_world,
    market_row,
    spec,
)


def _decides_at(db: Database, world: World) -> datetime:
    with db.read() as s:
        decides_at = get_proposal(s, world.proposal_id).decides_at
    assert decides_at is not None
    return decides_at


def _buy(db: Database, trader: int, market: int, shares: float, at: datetime) -> TradeResult:
    with db.write() as s:
        return execute(
            s, trader, market, Order(0, Side.BUY, shares_micros=int(shares * UNIT)), now=at
        )


def test_a_plain_proposal_decides_at_its_close_with_the_default_rule(db: Database) -> None:
    world = build_world(db, traders=1)
    with db.read() as s:
        p = get_proposal(s, world.proposal_id)
        assert p.decides_at == p.closes_at
        assert p.decision_rule == {
            "schema": "decision-rule/1",
            "window_seconds": 86_400,
            "interval_seconds": 3_600,
            "cap": 1.0,
            "threshold": 0.0,
            "epsilon": 0.0,
            "exploration_mode": "none",
        }
        assert p.seed_hex is not None
        assert len(p.seed_hex) == 64
        assert hashlib.sha256(bytes.fromhex(p.seed_hex)).hexdigest() == p.seed_commitment
        for m in markets_of(s, world.proposal_id):
            # the averaging state starts at the opening price, 50, an hour before the window
            assert (m.twap_observation, m.twap_last_live, m.twap_cum_weighted) == (50.0, 50.0, 0.0)
            assert m.twap_window_start == p.closes_at.timestamp() - 86_400
            assert m.twap_observed_at == p.opens_at.timestamp()
    closes = _decides_at(db, world)
    with db.write() as s, pytest.raises(DecisionNotDue):
        decide(s, world.proposal_id, None, now=closes - timedelta(microseconds=1))
    with db.write() as s:
        decision = decide(s, world.proposal_id, world.traders[0], now=closes)
        # nobody traded: both branches average 50, a tie, and ties keep the status quo
        assert decision.averaged == [50.0, 50.0]
        assert (decision.best_index, decision.margin, decision.greedy_index) == (0, 0.0, 1)
        assert (decision.executed_index, decision.explored, decision.settles) == (1, False, True)
        assert decision.distribution == [0.0, 1.0]
        assert decision.decided_by_account_id == world.traders[0]
    with db.read() as s:
        p = get_proposal(s, world.proposal_id)
        assert p.status == "decided"
        assert [m.status for m in markets_of(s, world.proposal_id)] == ["closed", "closed"]
        stored = s.scalars(select(Decision)).one()
        assert stored.rule_hash == p.decision_rule_hash
        assert stored.seed_hex == p.seed_hex
        seed = bytes.fromhex(p.seed_hex or "")
        assert stored.draw_u == uniform(seed, world.proposal_id)


def _average_after_one_buy(shares: float, hours_before: int) -> float:
    """The average of a branch bought up once ``hours_before`` the close (whole hours, ≤ 24)
    from 50 to ``E``: ``24 − hours_before`` intervals at 50, then the observation climbs by
    the cap of 1 per interval (51, 52, …) until it is within 1 of ``E``, then sits at E."""
    target = 100 / (1 + math.exp(-shares * UNIT / B_BINARY))
    observations = [50.0] * (24 - hours_before)
    value = 50.0
    while len(observations) < 24:
        value = target if abs(target - value) <= 1.0 else value + 1.0
        observations.append(value)
    return sum(observations) / 24


@pytest.mark.parametrize(
    ("threshold", "adopted"), [(0.0, True), (5.0, True), (5.5, False), (10.0, False)]
)
def test_the_branch_traded_up_is_adopted_only_when_it_beats_the_status_quo_by_delta(
    db: Database, threshold: float, adopted: bool
) -> None:
    world = build_world(db, traders=1, decision=RuleSpec(threshold=threshold))
    closes = _decides_at(db, world)
    # 30 LONG shares at T − 20 h: E[W] jumps from 50 to 57.444251…; the capped observations
    # are 50 for four intervals, then 51, …, 57, then 57.444251… for the last 13
    bought = _buy(db, world.traders[0], world.market_ids[0], 30, closes - timedelta(hours=20))
    assert 100 * bought.prices_after[0] == pytest.approx(57.444251, abs=1e-6)
    expected = _average_after_one_buy(30, 20)
    assert expected == pytest.approx((4 * 50 + sum(range(51, 58)) + 13 * 57.444251) / 24)
    assert expected == pytest.approx(55.198970, abs=1e-6)
    with db.write() as s:
        decision = decide(s, world.proposal_id, None, now=closes + timedelta(hours=3))
    assert decision.averaged[0] == pytest.approx(expected, rel=1e-12)
    assert decision.averaged[1] == 50.0
    assert decision.margin == pytest.approx(5.198970, abs=1e-6)
    assert decision.best_index == 0
    assert decision.executed_index == decision.greedy_index == (0 if adopted else 1)
    assert decision.settles


def test_deciding_before_the_decision_time_says_how_long_is_left(db: Database) -> None:
    world = build_world(db, traders=0, split=0)
    closes = _decides_at(db, world)
    stamp = closes.isoformat().replace("+00:00", "Z")
    with db.write() as s, pytest.raises(DecisionNotDue) as refused:
        decide(s, world.proposal_id, None, now=closes - timedelta(hours=3, minutes=12))
    assert str(refused.value) == (
        f"proposal {world.proposal_id} decides at {stamp}, in 3 h 12 min; it cannot be "
        "decided before then"
    )
    with db.read() as s:
        with pytest.raises(
            NotDecided, match=rf"not decided yet; it decides at {stamp}, in 1 d 12 h$"
        ):
            get_decision(s, world.proposal_id, now=closes - timedelta(days=1, hours=12))
        with pytest.raises(NotDecided, match=r"it was due at .* \(5 min ago\) and anyone may"):
            get_decision(s, world.proposal_id, now=closes + timedelta(minutes=5))
        assert get_proposal(s, world.proposal_id).status == "open"
        assert s.scalar(select(func.count()).select_from(Decision)) == 0


def test_deciding_twice_returns_the_first_decision_and_changes_nothing(db: Database) -> None:
    world = build_world(db, traders=1)
    closes = _decides_at(db, world)
    _buy(db, world.traders[0], world.market_ids[0], 10, closes - timedelta(hours=2))
    with db.write() as s:
        first = decide(s, world.proposal_id, world.traders[0], now=closes)
    with db.write() as s:
        again = decide(s, world.proposal_id, world.traders[1 % len(world.traders)], now=closes)
        assert again.id == first.id
        assert again.decided_by_account_id == world.traders[0]
        assert get_decision(s, world.proposal_id).id == first.id
        with pytest.raises(MarketClosed, match="is decided; it cannot be closed again"):
            close_proposal(s, world.proposal_id)
        with pytest.raises(MarketClosed, match="no longer trades"):
            execute(s, world.traders[0], world.market_ids[0], Order(0, Side.BUY, shares_micros=1))
        with pytest.raises(MarketClosed, match="can no longer be split"):
            funding.split(s, world.traders[0], world.proposal_id, UNIT)
        funding.merge(s, world.traders[0], world.proposal_id, UNIT)  # merges stay allowed
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1
        assert check_conservation(s).ok


@pytest.mark.slow
def test_two_deciders_at_once_make_one_decision(db: Database) -> None:
    world = build_world(db, traders=1)
    closes = _decides_at(db, world)
    _buy(db, world.traders[0], world.market_ids[0], 20, closes - timedelta(hours=5))
    start = threading.Barrier(4)
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def decider() -> None:
        start.wait()
        try:
            with db.write() as s:
                decision = decide(s, world.proposal_id, None, now=closes)
                with lock:
                    ids.append(decision.id)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=decider) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(ids) == 4
    assert len(set(ids)) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1


@pytest.mark.slow
def test_trades_racing_the_decision_never_land_after_it(db: Database) -> None:
    world = build_world(db, traders=6, split=30 * UNIT, alternatives=("Plan A", "Plan B"))
    closes = _decides_at(db, world)
    just_before = closes - timedelta(minutes=1)
    done: list[TradeResult] = []
    closed_refusals = 0
    seen_at_decision: dict[int, int] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    halfway = threading.Event()
    start = threading.Barrier(7)

    def trader(seed: int) -> None:
        nonlocal closed_refusals
        rng = random.Random(seed)
        start.wait()
        refusals = 0
        while refusals < 3:
            market = rng.choice(world.market_ids)
            side = Side.BUY if rng.random() < 0.7 else Side.SELL
            order = Order(rng.randrange(2), side, shares_micros=rng.randint(1, 2 * UNIT))
            try:
                with db.write() as s:
                    result = execute(s, rng.choice(world.traders), market, order, now=just_before)
                with lock:
                    done.append(result)
                    if len(done) >= 30:
                        halfway.set()
            except MarketClosed:
                refusals += 1
                with lock:
                    closed_refusals += 1
            except (InsufficientFunds, InsufficientShares):
                pass
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return

    def decider() -> None:
        start.wait()
        halfway.wait(timeout=30)
        try:
            with db.write() as s:
                decide(s, world.proposal_id, None, now=closes)
                for m in repo.markets_of(s, [world.proposal_id]):
                    seen_at_decision[m.id] = m.trade_count
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=trader, args=(seed,)) for seed in range(6)]
    threads.append(threading.Thread(target=decider))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert errors == [], str(errors[0]) if errors else ""
    assert halfway.is_set()
    assert closed_refusals == 18  # every trader met the closed markets three times
    with db.read() as s:
        decision = get_decision(s, world.proposal_id)
        stored = s.scalars(select(Trade.id).order_by(Trade.id)).all()
        assert sorted(r.trade_id for r in done) == list(stored)  # acknowledged = stored
        proposal = get_proposal(s, world.proposal_id)
        rule = DecisionRule.from_dict(proposal.decision_rule or {})
        asset = asset_of(proposal.asset_kind, proposal.lo, proposal.hi, proposal.bin_edges)
        for m in markets_of(s, world.proposal_id):
            # no trade landed after the decision: the books it averaged are the final ones
            assert m.trade_count == seen_at_decision[m.id]
            state = state_of(m)
            assert state is not None
            assert state.last_live == live_welfare(asset, m.q_micros, m.b_micros)
            assert decision.averaged[m.branch_index] == average(state, rule)
        assert sum(seen_at_decision.values()) == len(stored)
        assert check_conservation(s).ok


def test_the_incremental_average_equals_the_reference_from_the_whole_history(
    db: Database,
) -> None:
    world = build_world(db, traders=2, split=100 * UNIT, decision=RuleSpec(cap=2.5))
    market = world.market_ids[0]
    closes = _decides_at(db, world)
    with db.read() as s:
        proposal = get_proposal(s, world.proposal_id)
        opens = proposal.opens_at
    rng = random.Random(7)
    at = opens + timedelta(minutes=3)
    cranked = False
    while True:
        at += timedelta(seconds=rng.choice([1, 59, 600, 3_599, 3_600, 7_300, 14_000]))
        if at >= closes:
            break
        if not cranked and at > closes - timedelta(hours=12):
            with db.write() as s:  # a crank moves the state, never the average
                crank(s, market_id=market, now=at)
            cranked = True
        shares = rng.randint(1, 40 * UNIT)
        side = Side.BUY if rng.random() < 0.6 else Side.SELL
        try:
            with db.write() as s:
                execute(
                    s,
                    rng.choice(world.traders),
                    market,
                    Order(rng.randrange(2), side, shares_micros=shares),
                    now=at,
                )
        except (InsufficientFunds, InsufficientShares):
            continue
    with db.read() as s:
        trades = s.execute(
            select(Trade.created_at, Trade.prices_after)
            .where(Trade.market_id == market)
            .order_by(Trade.id)
        ).all()
        assert len(trades) >= 15
        rule = DecisionRule.from_dict(proposal.decision_rule or {})
        reference = twap_from_path(
            [t.created_at.timestamp() for t in trades],
            [100.0 * t.prices_after[0] for t in trades],  # E[W] = 0 + (100 − 0) · p_LONG
            rule,
            opens.timestamp(),
            closes.timestamp(),
            50.0,
        )
        state = state_of(market_row(s, market))
        assert state is not None
        assert average(state, rule) == pytest.approx(reference, rel=1e-9)
    with db.write() as s:
        decision = decide(s, world.proposal_id, None, now=closes + timedelta(days=2))
    assert decision.averaged[0] == pytest.approx(reference, rel=1e-9)
    assert reference != 50.0


def test_a_crank_advances_quiet_markets_and_the_decision_freezes_them(db: Database) -> None:
    world = build_world(db, traders=1)
    closes = _decides_at(db, world)
    _buy(db, world.traders[0], world.market_ids[0], 30, closes - timedelta(hours=20))
    with db.write() as s:
        result = crank(s, proposal_id=world.proposal_id, now=closes - timedelta(hours=10))
    assert result.advanced
    assert [b.branch_index for b in result.branches] == [0, 1]
    branch, status_quo = result.branches
    # ten intervals closed since the buy at T − 20 h: 51, 52, … 57, then 57.444251…
    assert branch.observation == pytest.approx(57.444251, abs=1e-6)
    assert branch.observed_at == closes - timedelta(hours=10)
    assert branch.average == pytest.approx(_average_after_one_buy(30, 20), rel=1e-12)
    assert (status_quo.observation, status_quo.average, status_quo.live) == (50.0, 50.0, 50.0)
    with db.read() as s:
        state = state_of(market_row(s, world.market_ids[0]))
        assert state is not None
        assert state.observed_at == (closes - timedelta(hours=10)).timestamp()
    with db.write() as s:
        decision = decide(s, world.proposal_id, None, now=closes + timedelta(hours=1))
    with db.write() as s:
        frozen = crank(s, proposal_id=world.proposal_id, now=closes + timedelta(days=3))
    assert not frozen.advanced
    assert [b.average for b in frozen.branches] == decision.averaged
    with db.read() as s:
        after = state_of(market_row(s, world.market_ids[0]))
        assert after is not None
        assert after.observed_at == closes.timestamp()  # the decision advanced it to T


def test_a_market_without_a_state_starts_it_at_its_first_trade(db: Database) -> None:
    world = build_world(db, traders=1)
    market = world.market_ids[0]
    closes = _decides_at(db, world)
    with db.write() as s:  # as a market older than the averaging state
        s.execute(
            update(Market)
            .where(Market.id == market)
            .values(
                twap_observation=None,
                twap_observed_at=None,
                twap_cum_weighted=None,
                twap_window_start=None,
                twap_last_live=None,
            )
        )
    at = closes - timedelta(hours=6)
    bought = _buy(db, world.traders[0], market, 30, at)
    with db.read() as s:
        state = state_of(market_row(s, market))
        proposal = get_proposal(s, world.proposal_id)
    assert state is not None
    rule = DecisionRule.from_dict(proposal.decision_rule or {})
    # the value in force before the first trade (50) counts back to the window start
    assert state.window_start == closes.timestamp() - 86_400
    assert (state.observed_at, state.last_live) == (at.timestamp(), 100 * bought.prices_after[0])
    expected = twap_from_path(
        [at.timestamp()], [state.last_live], rule, at.timestamp(), closes.timestamp(), 50.0
    )
    assert average(state, rule) == pytest.approx(expected, rel=1e-12)
    assert average(state, rule) == pytest.approx(_average_after_one_buy(30, 6), rel=1e-12)


def test_the_ipw_margin_refuses_a_buy_whose_scaled_loss_it_would_not_cover(db: Database) -> None:
    # ε = 0.3 over two branches: d_min = 0.15, so a trader must keep M = 1/0.15 − 1 = 17/3
    # times its net spend: with 10 of branch cash, at most 10 · 0.15 = 1.5 can be spent
    world = build_world(
        db,
        traders=1,
        split=10 * UNIT,
        decision=RuleSpec(epsilon=0.3, exploration_mode="ipw"),
    )
    trader, market = world.traders[0], world.market_ids[0]
    with db.read() as s:
        rule = DecisionRule.from_dict(get_proposal(s, world.proposal_id).decision_rule or {})
        # exploration costs liquidity: b = ⌊⌊F · 0.15⌋ / ln 2⌋ = ⌊10_397_207 / ln 2⌋, not 99.999999
        assert market_row(s, market).b_micros == 14_999_998
    assert margin_multiple(rule, 2) == pytest.approx(17 / 3)
    with db.write() as s:
        first = execute(s, trader, market, Order(0, Side.BUY, spend_micros=1_400_000))
    assert first.cash_micros <= 1_400_000
    with db.write() as s:
        with pytest.raises(InsufficientMargin, match="insufficient margin") as refused:
            execute(s, trader, market, Order(0, Side.BUY, spend_micros=200_000))
        assert "must cover 5.66667 × your net spend" in str(refused.value)
        # a plain shortfall of cash is still that, not a margin question
        with pytest.raises(InsufficientFunds):
            execute(s, trader, market, Order(0, Side.BUY, spend_micros=20 * UNIT))
    with db.read() as s:
        cash, spent = repo.branch_cash_and_spent(s, trader, market)
        assert (cash, spent) == (10 * UNIT - first.cash_micros, first.cash_micros)
        assert s.scalar(select(func.count()).select_from(Trade)) == 1
    with db.write() as s:  # within the margin: 1.4 + 0.05 < 1.5
        execute(s, trader, market, Order(0, Side.BUY, spend_micros=50_000))
        # a sale lowers the net spend: always allowed
        execute(s, trader, market, Order(0, Side.SELL, shares_micros=UNIT))
    with db.read() as s:
        assert check_conservation(s).ok


def test_the_ipw_margin_cannot_be_merged_out(db: Database) -> None:
    """Alice (10 in each branch, ε = 0.3) spends 1.4 in branch 0: branch 0 must keep
    17/3 · 1.4 ≈ 7.93, so she may merge out at most 10 − 1.4 − 7.93 ≈ 0.67, not 1."""
    world = build_world(
        db, traders=1, split=10 * UNIT, decision=RuleSpec(epsilon=0.3, exploration_mode="ipw")
    )
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        spent = execute(s, trader, market, Order(0, Side.BUY, spend_micros=1_400_000))
    with (
        db.write() as s,
        pytest.raises(InsufficientMargin, match=r"must keep 5\.66667 × your net spend"),
    ):
        funding.merge(s, trader, world.proposal_id, UNIT)
    with db.write() as s:
        funding.merge(s, trader, world.proposal_id, 600_000)
    with db.read() as s:
        cash, _ = repo.branch_cash_and_spent(s, trader, market)
        assert cash == 10 * UNIT - spent.cash_micros - 600_000
        assert check_conservation(s).ok


def _exploring_seed(proposal_id: int, wanted: object) -> bytes:
    """The first seed ``i · 16 bytes`` whose public uniform number for the proposal meets
    ``wanted(u)`` (found by trying, as anyone can with `market.decision.uniform`)."""
    for i in range(1, 256):
        seed = bytes([i]) * 16
        if wanted(uniform(seed, proposal_id)):  # type: ignore[operator]
            return seed
    raise AssertionError("no seed found")


def _world_with_seed(db: Database, rule: RuleSpec, wanted: object) -> tuple[World, bytes]:
    """A proposal whose committed seed gives a uniform number meeting ``wanted``: a first
    proposal shows the next id, which the seed is then chosen for."""
    first = build_world(db, traders=0, split=0)
    seed = _exploring_seed(first.proposal_id + 1, wanted)
    with db.write() as s:
        funding.credit(s, first.sponsor, 100 * UNIT)
        proposal = create_proposal(s, first.sponsor, spec(decision=rule, seed=seed))
        assert proposal.id == first.proposal_id + 1
        ids = tuple(m.id for m in markets_of(s, proposal.id))
    return World(first.sponsor, proposal.id, ids, ()), seed


@pytest.mark.parametrize(
    ("mode", "explores"),
    [("ipw", True), ("ipw", False), ("randomised_only", True), ("randomised_only", False)],
)
def test_exploring_decisions_draw_from_the_committed_seed(
    db: Database, mode: str, explores: bool
) -> None:
    # nobody trades: a tie, so greedy is the status quo (branch 1) and, with ε = 0.5,
    # d = (0.25, 0.75). ipw executes branch 0 when u < 0.25 (explored); randomised_only
    # explores when u < 0.5, drawing branch ⌊(u / 0.5) · 2⌋, and unwinds otherwise.
    threshold = 0.25 if mode == "ipw" else 0.5
    world, seed = _world_with_seed(
        db,
        RuleSpec(epsilon=0.5, exploration_mode=mode),
        (lambda u: u < threshold) if explores else (lambda u: u >= threshold),
    )
    closes = _decides_at(db, world)
    with db.write() as s:
        decision = decide(s, world.proposal_id, None, now=closes)
    u = uniform(seed, world.proposal_id)
    assert decision.draw_u == u
    assert decision.seed_hex == seed.hex()
    assert decision.greedy_index == 1
    assert decision.distribution == [0.25, 0.75]
    assert decision.explored is explores
    if mode == "ipw":
        assert decision.executed_index == (0 if explores else 1)
        assert decision.settles
    else:
        assert decision.executed_index == (min(math.floor(u / 0.5 * 2), 1) if explores else 1)
        assert decision.settles is explores


def test_deciding_refuses_terms_that_do_not_match_their_commitment(db: Database) -> None:
    world = build_world(db, traders=0, split=0)
    closes = _decides_at(db, world)
    with db.write() as s:
        s.get_one(Proposal, world.proposal_id).seed_hex = "ab" * 32
    with db.write() as s, pytest.raises(BrokenTerms, match="does not match its published"):
        decide(s, world.proposal_id, None, now=closes)
    with db.write() as s:
        p = s.get_one(Proposal, world.proposal_id)
        p.seed_hex = hashlib.sha256(b"restore").hexdigest()  # any other seed: still refused
        p.decision_rule = {**(p.decision_rule or {}), "threshold": 3.0}
    with db.write() as s, pytest.raises(BrokenTerms, match="do not match their published hash"):
        decide(s, world.proposal_id, None, now=closes)
    with db.read() as s:
        assert get_proposal(s, world.proposal_id).status == "open"


def test_decide_due_decides_exactly_the_proposals_whose_time_has_come(db: Database) -> None:
    world = build_world(db, traders=0, split=0)
    now = _decides_at(db, world)  # the first proposal decides at its close, a day ahead
    with db.write() as s:
        funding.credit(s, world.sponsor, 200 * UNIT)
        early = create_proposal(s, world.sponsor, spec(decides_at=now - timedelta(hours=3))).id
        late = create_proposal(s, world.sponsor, spec(closes_at=now + timedelta(days=2))).id
    with db.write() as s:
        decided = decide_due(s, now)
        assert [d.proposal_id for d in decided] == [world.proposal_id, early]
        assert decide_due(s, now) == []  # nothing is due twice
    with db.read() as s:
        statuses = {p.id: p.status for p in s.scalars(select(Proposal))}
    assert statuses == {world.proposal_id: "decided", early: "decided", late: "open"}


def test_closed_proposals_are_decided_with_the_prices_at_their_close(db: Database) -> None:
    world = build_world(db, traders=1)
    closes = _decides_at(db, world)
    _buy(db, world.traders[0], world.market_ids[0], 30, closes - timedelta(hours=20))
    with db.write() as s:
        close_proposal(s, world.proposal_id)
    with db.write() as s:
        decision = decide(s, world.proposal_id, None, now=closes)
    assert decision.averaged[0] == pytest.approx(_average_after_one_buy(30, 20), rel=1e-12)
    assert decision.executed_index == 0


def test_decisions_by_branch_follow_every_trader(db: Database) -> None:
    """Several traders on two alternatives: the decision adopts the alternative whose
    average is highest, and records one average per branch."""
    world = build_world(db, traders=3, split=50 * UNIT, alternatives=("Plan A", "Plan B"))
    closes = _decides_at(db, world)
    a, b, _status_quo = world.market_ids
    moves: defaultdict[int, float] = defaultdict(float)
    for hours, trader, market, shares in (
        (23, 0, a, 10),
        (22, 1, b, 25),
        (12, 2, a, 5),
        (3, 0, b, 10),
    ):
        _buy(db, world.traders[trader], market, shares, closes - timedelta(hours=hours))
        moves[market] += shares
    with db.write() as s:
        decision = decide(s, world.proposal_id, None, now=closes)
    assert decision.averaged[2] == 50.0
    assert decision.averaged[1] > decision.averaged[0] > 50.0
    assert (decision.best_index, decision.executed_index) == (1, 1)
    assert decision.margin == pytest.approx(decision.averaged[1] - 50.0)
    assert moves[b] > moves[a]


def test_a_proposal_replayed_from_history_trades_and_decides_at_its_past_times(
    db: Database,
) -> None:
    opens, closes = datetime(2002, 1, 1, tzinfo=UTC), datetime(2002, 12, 31, tzinfo=UTC)
    world = build_world(db, traders=1, split=0)
    with db.write() as s:
        funding.credit(s, world.sponsor, F_BINARY)
        proposal = create_proposal(
            s, world.sponsor, spec(opens_at=opens, closes_at=closes), now=opens
        )
        assert proposal.created_at == opens
        assert proposal.decides_at == closes
        funding.split(s, world.traders[0], proposal.id, 50 * UNIT)
        branch = markets_of(s, proposal.id)[0].id
    _buy(db, world.traders[0], branch, 30, closes - timedelta(hours=20))
    with db.write() as s:
        decision = decide(s, proposal.id, None, now=closes + timedelta(days=1))
    assert decision.averaged[0] == pytest.approx(_average_after_one_buy(30, 20), rel=1e-12)
    assert decision.executed_index == 0
