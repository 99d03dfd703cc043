"""Futarchy on a block of runs: agents trade, the rule decides, the bets settle.

Every run of the block steps at once (numpy across runs and branches), through the
service's own pure modules:

- the branch markets are `sim.books` on `market.batch` (exact integer quotes, or its float
  fast mode), with the service's liquidity `market.branch.liquidity_micros`;
- each agent holds conditional cash: its deposit ``D`` split into every branch (1 cash →
  1 cash-if-branch in each, `market.conditional`'s split), and pays for a purchase in a
  branch from that branch's cash, which never goes below zero;
- each branch's averaging state is `market.decision.TwapStates`, advanced with
  `advance_many` exactly as the service advances it after each trade (once per interval
  that saw trades, with the live welfare after its last trade: the same numbers, as only
  the value in force at a boundary counts);
- the decision is `market.decision.decide_many` with the public uniform number
  `uniform_many` of each run's committed seed;
- settlement is `market.settlement.settle` (scaled for ipw) or `unwind`, per run.

**Trading.** ``rounds`` rounds; in each, every agent acts once, in an order rotated by a
per-run random offset and stride (`sim.schedule`: every random number of a run comes from
the run's own seed, so the block it is stepped in changes nothing). Trade ``s`` of ``S =
rounds · A`` happens at ``t_s = s · T / S`` seconds (``T`` the trading length; the
decision is at ``T``). An informed trader, insider or the manipulator with outcome beliefs
``π`` (`sim.beliefs`) buys, in every branch, the outcome ``k`` with the largest edge ``π_k
− p_k``, spending::

    min( f · (π_k − p_k) / (1 − p_k) · c,   b · ln((1 − p_k) / (1 − π_k)) )

``f`` the agent's fraction of the Kelly stake (the manipulator: 1 inside the averaging
window, 0 before it), ``c`` its cash in the branch; the second term is the cost of moving
``p_k`` to ``π_k``, so nobody pays past its belief. A noise trader buys a random outcome
with a uniform random share of ``max_fraction · c``. Spends below ``min_trade`` are not
made. Under ipw exploration a buy also keeps the service's margin (cash after ``≥ M ·``
spent after, `market.decision.margin_multiple`). Buying the complementary outcome is how
an agent sells: in an LMSR, buying SHORT costs what selling LONG pays, up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from market.assets import Asset, BinnedAsset, ScalarAsset
from market.branch import liquidity_micros
from market.decision import (
    DecisionRule,
    Decisions,
    advance_many,
    average_many,
    decide_many,
    initial_states,
    margin_multiple,
    uniform_many,
)
from market.settlement import TraderState, settle, unwind
from sim.beliefs import trading_beliefs
from sim.books import books_for, worst_case_micros
from sim.scenario import FUTARCHY_MODES, Scenario
from sim.schedule import schedule_of
from sim.world import (
    MANIPULATOR,
    NOISE,
    Agents,
    FloatArray,
    IntArray,
    World,
    confounding_bias,
    measured_welfare,
    micros,
)

SNAPSHOTS = 51
"""Points of the price path kept per run (evenly spaced over the trading time)."""


def asset_of_scenario(scenario: Scenario) -> Asset:
    """The branch markets' asset: LONG/SHORT on ``[lo, hi]`` or equal-width bins."""
    w = scenario.welfare
    if scenario.market.asset == "long_short":
        return ScalarAsset(w.lo, w.hi)
    edges = np.linspace(w.lo, w.hi, scenario.market.bins + 1)
    return BinnedAsset(tuple(float(e) for e in edges))


@dataclass(frozen=True)
class FutarchyRun:
    """One futarchy mechanism on one block of runs.

    Attributes:
        mechanism: its key (`sim.scenario.FUTARCHY_MODES`).
        averaged: each branch's capped time-weighted average, welfare units, ``(R, B)``.
        decisions: `market.decision.Decisions` of every run.
        welfare: the measured ``W`` per run.
        pnl_micros: each agent's ``paid − deposit``, micro-units, ``(R, A)``.
        maker_loss_micros: ``F − sponsor's payout`` per run (negative: the maker gained).
        loss_bound_micros: ``b ln n``, or ``b ln n / d_min`` under ipw (each ``≤ F``).
        path: live expected welfare at `SNAPSHOTS` times, ``(P, B, R)``.
        path_times: those times as fractions of the trading time, ``(P,)``.
        target: the welfare each branch's bets settle on in expectation,
            ``base + effect_j + β_j``, ``(B,)``.
        actions: agent actions simulated (``R · rounds · A``).
    """

    mechanism: str
    averaged: FloatArray
    decisions: Decisions
    welfare: FloatArray
    pnl_micros: FloatArray
    maker_loss_micros: FloatArray
    loss_bound_micros: float
    path: FloatArray
    path_times: FloatArray
    target: FloatArray
    actions: int


def _largest_edge(pi: FloatArray, p: FloatArray) -> IntArray:
    """The outcome with the largest edge ``π_k − p_k`` per column (outcomes first)."""
    if pi.shape[0] == 2:  # one comparison is much cheaper than argmax over two rows
        two: IntArray = (pi[1] - p[1] > pi[0] - p[0]).astype(np.int64)
        return two
    many: IntArray = np.argmax(pi - p, axis=0).astype(np.int64)
    return many


@dataclass(frozen=True, eq=False)
class Terms:
    """What one futarchy mechanism's markets share on a block, whichever path trades them.

    Attributes:
        mode: the exploration mode; rule: the service's `DecisionRule` for it.
        asset: the branch markets' asset; n: its outcomes; branches: ``B``.
        subsidy: ``F``, micro-units; b_micros: the service's liquidity for it.
        bias: ``β_j`` per branch (`sim.world.confounding_bias`).
        beliefs: every agent's outcome beliefs, ``(n, B, R, A)`` (`sim.beliefs`).
        stream: the seed stream of this mechanism's trading (`sim.schedule`).
    """

    mode: str
    rule: DecisionRule
    asset: Asset
    n: int
    branches: int
    subsidy: int
    b_micros: int
    bias: FloatArray
    beliefs: FloatArray
    stream: int


def terms_of(scenario: Scenario, agents: Agents, world: World, mechanism: str) -> Terms:
    """The `Terms` of a futarchy mechanism on a block's world."""
    mode = FUTARCHY_MODES[mechanism]
    rule = scenario.decision_rule(mode)
    asset = asset_of_scenario(scenario)
    n_branches = len(scenario.branches)
    subsidy = micros(scenario.market.subsidy)
    bias = confounding_bias(scenario, mode)
    manip = scenario.population.manipulator
    beliefs = trading_beliefs(
        asset,
        agents,
        world,
        bias,
        scenario.welfare.noise,
        abs(scenario.confounding.strength),
        None if manip is None else manip.target,
    )
    return Terms(
        mode=mode,
        rule=rule,
        asset=asset,
        n=asset.n,
        branches=n_branches,
        subsidy=subsidy,
        b_micros=liquidity_micros(asset.n, n_branches, subsidy, rule),
        bias=bias,
        beliefs=beliefs,
        stream=1 + list(FUTARCHY_MODES).index(mechanism),
    )


def run_futarchy(scenario: Scenario, agents: Agents, world: World, mechanism: str) -> FutarchyRun:
    """Trade, decide and settle one futarchy mechanism over a block's runs."""
    terms = terms_of(scenario, agents, world, mechanism)
    mode, rule, asset, n, n_branches = terms.mode, terms.rule, terms.asset, terms.n, terms.branches
    b_micros, beliefs = terms.b_micros, terms.beliefs
    runs = world.runs
    n_agents = agents.count
    books = books_for(scenario.engine, n, n_branches * runs, b_micros)
    b = float(b_micros)
    dtype = books.holdings_dtype()
    cash = np.empty((n_branches, runs, n_agents), dtype=dtype)
    cash[...] = agents.budget_micros
    shares = np.zeros((n_branches, runs, n_agents, n), dtype=dtype)

    horizon = float(scenario.market.trading_seconds)
    steps = scenario.market.rounds * n_agents
    dt = horizon / steps
    window_start = horizon - rule.window_seconds
    interval = float(rule.interval_seconds)
    times = np.arange(steps, dtype=np.float64) * dt
    cell = np.floor((times - window_start) / interval)
    advance_after = np.append(cell[1:] > cell[:-1], True)
    snap_steps = np.unique(np.linspace(0, steps, SNAPSHOTS).round().astype(np.int64))
    snap_set = set(snap_steps.tolist())
    path = np.empty((snap_steps.shape[0], n_branches, runs))
    schedule = schedule_of(scenario, world.first_run, runs, terms.stream, n_branches, n_agents)

    opening = asset.expected_welfare([1.0 / n] * n)
    twap = initial_states(rule, 0.0, horizon, np.full((n_branches, runs), opening))
    kelly_before = np.where(agents.kind == MANIPULATOR, 0.0, agents.kelly)
    kelly_inside = agents.kelly
    is_noise = agents.kind == NOISE
    has_noise = bool(is_noise.any())
    noise_fraction = agents.noise_fraction
    min_trade = scenario.market.min_trade * 1_000_000
    margin = margin_multiple(rule, n_branches)
    deposit = agents.budget_micros.astype(np.float64)
    # Flat layouts (1-d gathers and scatters are several times faster than n-d ones):
    # market m = j·R + r; agent a's holding in market m at h = m·A + a; its share of
    # outcome k at h·n + k; its belief vector in row h.
    markets = n_branches * runs
    flat_cash = cash.reshape(-1)  # views: writes reach cash and shares
    flat_shares = shares.reshape(-1)
    assert np.shares_memory(flat_cash, cash)
    assert np.shares_memory(flat_shares, shares)
    belief_rows = np.ascontiguousarray(np.moveaxis(beliefs, 0, -1)).reshape(-1, n)
    flat_beliefs = belief_rows.reshape(-1)
    columns = np.arange(markets)
    holding_base = columns * n_agents
    run_of_market = np.tile(np.arange(runs), n_branches)

    def welfare_of(p: FloatArray) -> FloatArray:
        return asset.expected_welfare_many(p.T).reshape(n_branches, runs)

    snap = 0
    for s in range(steps + 1):
        p = books.prices()
        if s > 0 and advance_after[s - 1]:
            twap = advance_many(twap, rule, times[s - 1], welfare_of(p))
        if s in snap_set:
            path[snap] = welfare_of(p)
            snap += 1
        if s == steps:
            break
        a = schedule.acting(s, n_agents)[run_of_market]
        idx = holding_base + a
        pi = np.take(belief_rows, idx, axis=0).T
        k = _largest_edge(pi, p)
        held = idx * n + k
        pk = np.take(p, k * markets + columns)
        pik = np.take(flat_beliefs, held)
        c = flat_cash[idx]
        frac = (kelly_inside if times[s] >= window_start else kelly_before)[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            stake = frac * (pik - pk) / (1.0 - pk) * c
            reach = b * np.log((1.0 - pk) / (1.0 - pik))
        spend = np.minimum(stake, reach)
        if has_noise:
            noisy = is_noise[a]
            at = np.flatnonzero(noisy)
            if at.size:
                noise_k, noise_u = schedule.noise(s, n, at)
                k[at] = noise_k
                held[at] = idx[at] * n + noise_k
                spend[at] = noise_u * noise_fraction[a[at]] * c[at]
        if margin is not None:
            # the service's ipw margin: cash after ≥ M · spent after, spent = D − c
            room = (c - margin * (deposit[a] - c)) / (1.0 + margin) - 1.0
            spend = np.minimum(spend, room)
        spend = np.where(spend >= min_trade, spend, 0.0)
        bought, paid = books.buy(k, spend)
        flat_cash[idx] = c - paid.astype(dtype)
        flat_shares[held] = flat_shares[held] + bought.astype(dtype)

    averaged = average_many(twap, rule).T.copy()
    u = uniform_many(world.decision_seeds, world.run_ids) if mode != "none" else None
    decisions = decide_many(rule, averaged, 0, u)
    return settled_run(
        scenario, agents, world, terms, mechanism, averaged, decisions, cash, shares,
        path, snap_steps / steps, runs * steps,
    )  # fmt: skip


def settled_run(
    scenario: Scenario,
    agents: Agents,
    world: World,
    terms: Terms,
    mechanism: str,
    averaged: FloatArray,
    decisions: Decisions,
    cash: np.ndarray,
    shares: np.ndarray,
    path: FloatArray,
    path_times: FloatArray,
    actions: int,
) -> FutarchyRun:
    """Measure welfare, settle every run and package a `FutarchyRun`: the end both the
    vectorised path and `sim.reference` share once they have traded and decided.

    ``cash`` is ``(B, R, A)`` and ``shares`` ``(B, R, A, n)``, in micro-units."""
    welfare = measured_welfare(scenario, world, decisions.executed, ~decisions.explored)
    pnl, maker_loss = _settle(
        terms.asset, agents, cash, shares, decisions, welfare, terms.subsidy, terms.mode == "ipw"
    )
    bound = worst_case_micros(terms.b_micros, terms.n)
    if terms.mode == "ipw":
        bound /= terms.rule.epsilon / terms.branches
    return FutarchyRun(
        mechanism=mechanism,
        averaged=averaged,
        decisions=decisions,
        welfare=welfare,
        pnl_micros=pnl,
        maker_loss_micros=maker_loss,
        loss_bound_micros=bound,
        path=path,
        path_times=path_times,
        target=scenario.welfare.base + world.effect + terms.bias,
        actions=actions,
    )


def _settle(
    asset: Asset,
    agents: Agents,
    cash: np.ndarray,
    shares: np.ndarray,
    decisions: Decisions,
    welfare: FloatArray,
    subsidy_micros: int,
    ipw: bool,
) -> tuple[FloatArray, FloatArray]:
    """Each run's settlement by `market.settlement` (exact integers; fast-mode holdings are
    floored to micro-units first, in the maker's favour). Returns ``(pnl (R, A),
    maker_loss (R,))`` in micro-units."""
    runs = cash.shape[1]
    deposits = [int(d) for d in agents.budget_micros]
    collateral = subsidy_micros + sum(deposits)
    cash_i = np.floor(cash).astype(np.int64)
    shares_i = np.floor(shares).astype(np.int64)
    pnl = np.zeros((runs, agents.count))
    loss = np.zeros(runs)
    for r in range(runs):
        e = int(decisions.executed[r])
        branch_cash = cash_i[e, r].tolist()
        held = shares_i[e, r].tolist()
        traders = [
            TraderState(i, deposits[i], branch_cash[i], tuple(held[i])) for i in range(agents.count)
        ]
        if bool(decisions.settles[r]):
            probability = Fraction(float(decisions.probability[r])) if ipw else None
            plan = settle(
                traders, asset.payout_micros(float(welfare[r])), collateral, probability=probability
            )
        else:
            plan = unwind(traders, collateral)
        pnl[r] = [p.profit_micros for p in plan.payouts]
        loss[r] = subsidy_micros - plan.sponsor_micros
    return pnl, loss
