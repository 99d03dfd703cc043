"""Futarchy one market at a time: the plain-Python reference of `sim.trading.run_futarchy`.

`run_futarchy` steps every run and branch of a block at once in numpy. This module runs the
same block one run and one branch market at a time, through the service's scalar pure
modules, as the trading service would:

- each purchase is `market.trade_step.step` on a `market.book.Book` with
  ``Order(k, Side.BUY, spend_micros=⌊spend⌋)``: the exact engine, so it is the reference of
  ``engine = "exact"`` only (the float fast mode rounds differently, by design);
- after EVERY trade the branch's averaging state moves by `market.branch.after_trade` at the
  trade's time with the expected welfare after it, as `market.trading` does (the vectorised
  path advances all markets once per averaging interval: the same observations, as only the
  value in force at a boundary counts);
- each run decides by `market.decision.average` per branch and `market.decision.decide`,
  with the run's committed seed (`sim.world.World.decision_seeds`) and proposal id = the
  run's index in the scenario;
- the bets settle through the very step `run_futarchy` ends with (`sim.trading.settled_run`).

The agents are the same (`sim.beliefs.trading_beliefs`), act in the same order and draw the
same noise (`sim.schedule`: per-run seeds and a counter-based hash of market and step) and
follow the same rules with the same float formulas, operation for operation (``stake``,
``reach``, the ipw margin ``room``; `sim.trading`'s module docstring).

So both paths make the same trades: the same integer books, cash and shares, decisions,
measured welfare and settlements. The averaged welfare agrees to rounding (~1e-15
relative): an interval without a trade is crossed here in one call of the averaging kernel,
there in several; and for bins the live welfare is the service's ``math.fsum`` here, a dot
product there. The prices are `market.book.Book.prices` here (``math.exp``, a Python sum),
`market.batch.batch_prices` there (``np.exp``, numpy's sum): bit-equal for up to seven
outcomes on this platform. With eight or more, numpy sums in another order, the last bit
of a price may differ, and in the rare case where that moves a spend across an integer the
purchase differs by a micro-unit (and the paths drift apart by a few micro-units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from market.assets import Asset
from market.book import Book
from market.branch import after_trade, opening_state
from market.decision import Decision, DecisionRule, Decisions, TwapState, average, decide
from market.decision import margin_multiple as margin_multiple_of
from market.trade_step import Order, Side, step
from sim.scenario import Scenario, ScenarioError
from sim.schedule import schedule_of

# The settlement is not what this reference checks (both paths hand the same books and
# cash to it), so it ends with the vectorised path's own `settled_run`.
from sim.trading import SNAPSHOTS, FutarchyRun, settled_run, terms_of
from sim.world import (
    MANIPULATOR,
    NOISE,
    Agents,
    World,
)


def _minimum(x: float, y: float) -> float:
    """``np.minimum`` on two floats: NaN if either is NaN, else the smaller."""
    if math.isnan(x) or math.isnan(y):
        return math.nan
    return x if x <= y else y


def _largest_edge(pi: list[float], p: tuple[float, ...]) -> int:
    """The outcome with the largest edge ``π_k − p_k`` (ties: the lowest index), computed
    as `sim.trading._largest_edge` does (one comparison for two outcomes)."""
    if len(p) == 2:
        return 1 if pi[1] - p[1] > pi[0] - p[0] else 0
    best, top = 0, pi[0] - p[0]
    for i in range(1, len(p)):
        edge = pi[i] - p[i]
        if edge > top:
            best, top = i, edge
    return best


def run_futarchy_reference(
    scenario: Scenario, agents: Agents, world: World, mechanism: str
) -> FutarchyRun:
    """Trade, decide and settle one futarchy mechanism over a block's runs, one market at a
    time (module docstring): the same `FutarchyRun`, with the same meaning, as
    `sim.trading.run_futarchy` gives for an ``engine = "exact"`` scenario.

    Args:
        scenario: the scenario; its engine must be ``"exact"``.
        agents: its population (`sim.world.agents_of`).
        world: the block's draw (`sim.world.draw_world`).
        mechanism: a key of `sim.scenario.FUTARCHY_MODES`.

    Raises:
        ScenarioError: a scenario on the float fast engine (field ``engine``).
    """
    if scenario.engine != "exact":
        raise ScenarioError(
            "engine",
            f"the one-market-at-a-time reference runs the exact engine only, got "
            f"{scenario.engine!r}; use scenario.with_changes(engine='exact')",
        )
    terms = terms_of(scenario, agents, world, mechanism)
    mode, rule, asset, n, n_branches = terms.mode, terms.rule, terms.asset, terms.n, terms.branches
    b_micros, beliefs = terms.b_micros, terms.beliefs
    stream = terms.stream
    runs = world.runs
    n_agents = agents.count

    steps = scenario.market.rounds * n_agents
    snap_steps = np.unique(np.linspace(0, steps, SNAPSHOTS).round().astype(np.int64))
    # who acts at step s in run r, and the noise traders' numbers: the same schedule
    # (`sim.schedule`, per-run seeds and a counter-based hash) as run_futarchy's
    schedule = schedule_of(scenario, world.first_run, runs, stream, n_branches, n_agents)
    markets = n_branches * runs
    every_market = np.arange(markets)
    order: list[list[int]] = [[0] * steps for _ in range(runs)]
    drawn_at: list[int] = list(range(steps))
    k_drawn = np.empty((steps, markets), dtype=np.int64)
    u_drawn = np.empty((steps, markets), dtype=np.float64)
    for s in range(steps):
        acting = schedule.acting(s, n_agents).tolist()
        for r in range(runs):
            order[r][s] = acting[r]
        k_drawn[s], u_drawn[s] = schedule.noise(s, n, every_market)

    cash = np.empty((n_branches, runs, n_agents), dtype=np.int64)
    shares = np.zeros((n_branches, runs, n_agents, n), dtype=np.int64)
    path = np.empty((snap_steps.shape[0], n_branches, runs))
    averaged = np.empty((runs, n_branches))
    market = _Market(scenario, agents, rule, asset, b_micros, steps)
    for r in range(runs):
        for j in range(n_branches):
            m = j * runs + r
            outcome = market.trade(
                order[r],
                beliefs[:, j, r, :].T.tolist(),
                drawn_at,
                k_drawn[:, m].tolist(),
                u_drawn[:, m].tolist(),
                snap_steps.tolist(),
            )
            cash[j, r] = outcome.cash
            shares[j, r] = outcome.shares
            path[:, j, r] = outcome.path
            averaged[r, j] = average(outcome.state, rule)

    seeds = world.decision_seeds
    each: list[Decision] = [
        decide(rule, averaged[r], 0, seeds[r] if mode != "none" else None, world.first_run + r)
        for r in range(runs)
    ]
    decisions = Decisions(
        best_alternative=np.array([d.best_alternative for d in each], dtype=np.int64),
        margin=np.array([d.margin for d in each], dtype=np.float64),
        greedy=np.array([d.greedy for d in each], dtype=np.int64),
        distribution=np.array([d.distribution for d in each], dtype=np.float64),
        executed=np.array([d.executed for d in each], dtype=np.int64),
        explored=np.array([d.explored for d in each], dtype=np.bool_),
        settles=np.array([d.settles for d in each], dtype=np.bool_),
        probability=np.array([d.probability for d in each], dtype=np.float64),
    )
    return settled_run(
        scenario, agents, world, terms, mechanism, averaged, decisions, cash, shares,
        path, snap_steps / steps, runs * steps,
    )  # fmt: skip


@dataclass(frozen=True)
class _Traded:
    """What one branch market of one run ends with.

    Attributes:
        cash: each agent's cash in the branch, micro-units.
        shares: each agent's shares per outcome, micro-shares.
        path: the live expected welfare before each snapshot step, welfare units.
        state: the branch's averaging state after its last trade.
    """

    cash: list[int]
    shares: list[list[int]]
    path: list[float]
    state: TwapState


class _Market:
    """The terms every branch market of the block shares, and the trading of one of them."""

    def __init__(
        self,
        scenario: Scenario,
        agents: Agents,
        rule: DecisionRule,
        asset: Asset,
        b_micros: int,
        steps: int,
    ) -> None:
        self.asset = asset
        self.rule = rule
        self.b_micros = b_micros
        self.n = asset.n
        self.steps = steps
        self.horizon = float(scenario.market.trading_seconds)
        self.dt = self.horizon / steps
        self.window_start = self.horizon - rule.window_seconds
        self.min_trade = scenario.market.min_trade * 1_000_000
        self.margin = margin_multiple_of(rule, len(scenario.branches))
        self.budget = agents.budget_micros.tolist()
        self.deposit = agents.budget_micros.astype(np.float64).tolist()
        self.kelly_inside = agents.kelly.tolist()
        self.kelly_before = np.where(agents.kind == MANIPULATOR, 0.0, agents.kelly).tolist()
        self.noise = (agents.kind == NOISE).tolist()
        self.noise_fraction = agents.noise_fraction.tolist()

    def trade(
        self,
        order: list[int],
        beliefs: list[list[float]],
        drawn_at: list[int],
        noise_k: list[int],
        noise_u: list[float],
        snap_steps: list[int],
    ) -> _Traded:
        """Every step of one branch market of one run.

        Args:
            order: the agent acting at each step.
            beliefs: each agent's outcome beliefs in this market, ``(A, n)``.
            drawn_at: per step, the row of the noise draws made at it, or −1.
            noise_k, noise_u: this market's entry of each row of noise draws.
            snap_steps: the steps before which the live welfare is recorded.
        """
        asset, rule = self.asset, self.rule
        b = float(self.b_micros)
        book = Book((0,) * self.n, self.b_micros)
        prices = book.prices()
        state = opening_state(rule, asset, 0.0, self.horizon)
        cash = list(self.budget)
        shares = [[0] * self.n for _ in cash]
        snaps = set(snap_steps)
        path: list[float] = []
        for s in range(self.steps + 1):
            if s in snaps:
                path.append(asset.expected_welfare(prices))
            if s == self.steps:
                break
            a = order[s]
            c = cash[a]
            t = s * self.dt
            row = drawn_at[s]
            if self.noise[a]:
                k = noise_k[row]
                spend = noise_u[row] * self.noise_fraction[a] * c
            else:
                pi = beliefs[a]
                k = _largest_edge(pi, prices)
                pk, pik = prices[k], pi[k]
                frac = (self.kelly_inside if t >= self.window_start else self.kelly_before)[a]
                if pk < 1.0:
                    stake = frac * (pik - pk) / (1.0 - pk) * c
                    reach = b * float(np.log((1.0 - pk) / (1.0 - pik)))
                    spend = _minimum(stake, reach)
                else:  # numpy gives −inf or NaN here (1 − p_k = 0): no purchase either way
                    spend = -math.inf
            if self.margin is not None:
                # the service's ipw margin: cash after ≥ M · spent after, spent = D − c
                room = (c - self.margin * (self.deposit[a] - c)) / (1.0 + self.margin) - 1.0
                spend = _minimum(spend, room)
            if not spend >= self.min_trade:
                continue
            whole = math.floor(spend)
            if whole < 1:
                continue
            done = step(book, Order(k, Side.BUY, spend_micros=whole))
            book = done.book_after
            after = book.prices()
            state = after_trade(rule, self.horizon, asset, state, t, prices, after)
            prices = after
            cash[a] = c - done.cash_micros
            shares[a][k] += done.shares_micros
        return _Traded(cash, shares, path, state)
