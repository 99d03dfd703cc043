"""The simulated world of a block of runs: who the agents are, what they know, what happens.

Everything random in a run's world is drawn here, from the run's own
``SeedSequence(scenario.seed, spawn_key=(run, 0))`` (`sim.schedule.run_seed`), in a fixed
order, so a run's numbers depend only on the scenario and its index: never on the block it
is stepped in or on how a sweep is split. Shapes use
``R`` runs, ``A`` agents and ``B = K + 1`` branches (the status quo is branch 0).

**The world.** Branch ``j`` has the true causal effect ``effect_j``; the welfare measured
after executing branch ``e`` is::

    W = base + effect_e + γ · (Z₀ + ρ · [e ≠ 0 and e chosen by the rule]) + σ_W · ε

with ``Z₀, ε ~ N(0, 1)`` per run, ``γ`` the confounding strength and ``ρ`` its adoption
shift (`sim.scenario.Confounding`).

**Signals and beliefs.** Informed traders and insiders see ``s_ij = effect_j + σ_i · η_ij``
(``η ~ N(0, 1)``) and hold the normal posterior of a prior ``effect ~ N(0, τ²)``::

    w_i = τ² / (τ² + σ_i²)     causal estimate   m_ij = base + w_i · s_ij
    posterior variance v_i = w_i · σ_i²

A bet that settles on a decision made by the rule also prices the confounding an adoption
carries, so a trader's conditional belief is ``m_ij + β_j`` with ``β_j = γ·ρ·[j ≠ 0]``
scaled by how often the bets settle on such decisions: 1 without exploration, ``1 − ε``
under ipw, 0 under ``randomised_only`` (bets settle only on random draws). Voters and the
poll use the causal estimate ``m_ij``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.scenario import Scenario
from sim.schedule import run_generator

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

INFORMED, INSIDER, NOISE, MANIPULATOR = 0, 1, 2, 3
AGENT_TYPES: tuple[str, ...] = ("informed", "insider", "noise", "manipulator")
"""Agent type codes, in `Agents.kind` order."""

SEED_BYTES = 32


@dataclass(frozen=True)
class Agents:
    """The population, one entry per agent (the same in every run of a scenario).

    Attributes:
        kind: type code per agent (`INFORMED` … `MANIPULATOR`), ``(A,)``.
        budget_micros: each agent's deposit, split into every branch, micro-units, ``(A,)``.
        kelly: fraction of the Kelly stake an agent trades (1 for the manipulator, 0 for
            noise traders, who follow their own rule), ``(A,)``.
        signal_sd: ``σ_i``, welfare units; ``inf`` for agents without a signal, ``(A,)``.
        noise_fraction: most of its branch cash a noise trader spends at once, ``(A,)``.
    """

    kind: IntArray
    budget_micros: IntArray
    kelly: FloatArray
    signal_sd: FloatArray
    noise_fraction: FloatArray

    @property
    def count(self) -> int:
        return int(self.kind.shape[0])


def micros(cash: float) -> int:
    """Cash units to micro-units, rounded down (a budget is never more than stated)."""
    return math.floor(cash * 1_000_000)


def manipulator_budget(scenario: Scenario) -> float:
    """The manipulator's budget in cash units (absolute, or a multiple of the subsidy)."""
    m = scenario.population.manipulator
    if m is None:
        return 0.0
    if m.budget is not None:
        return m.budget
    assert m.budget_multiple is not None  # the scenario validates exactly one
    return m.budget_multiple * scenario.market.subsidy


def agents_of(scenario: Scenario) -> Agents:
    """The population of a scenario: informed, insiders, noise traders, manipulator."""
    p = scenario.population
    kind: list[int] = []
    budget: list[int] = []
    kelly: list[float] = []
    sd: list[float] = []
    frac: list[float] = []
    for code, group in ((INFORMED, p.informed), (INSIDER, p.insiders)):
        kind += [code] * group.count
        budget += [micros(group.budget)] * group.count
        kelly += [group.kelly] * group.count
        sd += [group.signal_noise] * group.count
        frac += [0.0] * group.count
    kind += [NOISE] * p.noise.count
    budget += [micros(p.noise.budget)] * p.noise.count
    kelly += [0.0] * p.noise.count
    sd += [math.inf] * p.noise.count
    frac += [p.noise.max_fraction] * p.noise.count
    if p.manipulator is not None:
        kind.append(MANIPULATOR)
        budget.append(micros(manipulator_budget(scenario)))
        kelly.append(1.0)
        sd.append(math.inf)
        frac.append(0.0)
    return Agents(
        np.array(kind, dtype=np.int64),
        np.array(budget, dtype=np.int64),
        np.array(kelly, dtype=np.float64),
        np.array(sd, dtype=np.float64),
        np.array(frac, dtype=np.float64),
    )


def block_runs(scenario: Scenario, block: int) -> tuple[int, int]:
    """``(first_run, runs)`` of a block: blocks of `Scenario.block` runs stepped together in
    numpy (a speed setting: no run's numbers depend on it), the last shorter."""
    first = block * scenario.block
    return first, min(scenario.block, scenario.runs - first)


def blocks(scenario: Scenario) -> int:
    """Number of blocks of a scenario."""
    return -(-scenario.runs // scenario.block)


@dataclass(frozen=True)
class World:
    """Everything a block of runs draws before trading starts.

    Attributes:
        first_run: index of the block's first run in the scenario.
        effect: true causal effect per branch, welfare units, ``(B,)``.
        z0: ``Z₀`` per run, ``(R,)``.
        measurement: ``ε`` per run (standard normal), ``(R,)``.
        causal: ``m_ij``, each agent's causal estimate of each branch's welfare,
            ``(R, A, B)``; ``nan`` for agents without a signal.
        posterior_var: ``v_i`` per agent, welfare units², ``(A,)`` (``nan`` without signal).
        votes_random: a random branch per run and agent (the vote of an agent without a
            signal), ``(R, A)``.
        random_choice: the random mechanism's branch per run, ``(R,)``.
        decision_seeds: a 32-byte seed per run for the exploration draw.
    """

    first_run: int
    effect: FloatArray
    z0: FloatArray
    measurement: FloatArray
    causal: FloatArray
    posterior_var: FloatArray
    votes_random: IntArray
    random_choice: IntArray
    decision_seeds: tuple[bytes, ...]

    @property
    def runs(self) -> int:
        return int(self.z0.shape[0])

    @property
    def run_ids(self) -> list[int]:
        return list(range(self.first_run, self.first_run + self.runs))


def draw_world(scenario: Scenario, agents: Agents, block: int) -> World:
    """Draw a block's world (see the module docstring), in a fixed order."""
    first, runs = block_runs(scenario, block)
    effect = np.array([b.effect for b in scenario.branches], dtype=np.float64)
    n_branches = effect.shape[0]
    z0 = np.empty(runs)
    measurement = np.empty(runs)
    eta = np.empty((runs, agents.count, n_branches))
    votes_random = np.empty((runs, agents.count), dtype=np.int64)
    random_choice = np.empty(runs, dtype=np.int64)
    seeds = []
    for i in range(runs):
        rng = run_generator(scenario, first + i, 0)
        z0[i] = rng.standard_normal()
        measurement[i] = rng.standard_normal()
        eta[i] = rng.standard_normal((agents.count, n_branches))
        votes_random[i] = rng.integers(n_branches, size=agents.count)
        random_choice[i] = rng.integers(n_branches)
        seeds.append(rng.bytes(SEED_BYTES))
    tau2 = scenario.welfare.prior_sd**2
    sd = agents.signal_sd
    has_signal = np.isfinite(sd)
    safe_sd = np.where(has_signal, sd, 1.0)
    weight = np.where(has_signal, tau2 / (tau2 + safe_sd**2), np.nan)
    signal = effect[None, None, :] + safe_sd[None, :, None] * eta
    causal = scenario.welfare.base + weight[None, :, None] * signal
    posterior_var = weight * safe_sd**2
    return World(
        first_run=first,
        effect=effect,
        z0=z0,
        measurement=measurement,
        causal=causal,
        posterior_var=posterior_var,
        votes_random=votes_random,
        random_choice=random_choice,
        decision_seeds=tuple(seeds),
    )


def confounding_bias(scenario: Scenario, exploration_mode: str) -> FloatArray:
    """``β_j`` per branch: what the confounding adds to the welfare a bet on branch ``j``
    settles on, under an exploration mode (module docstring), welfare units, ``(B,)``."""
    c = scenario.confounding
    share = {"none": 1.0, "ipw": 1.0 - scenario.rule.epsilon, "randomised_only": 0.0}[
        exploration_mode
    ]
    bias = np.full(len(scenario.branches), c.strength * c.adoption * share)
    bias[0] = 0.0
    return bias


def measured_welfare(
    scenario: Scenario, world: World, executed: IntArray, by_rule: npt.NDArray[np.bool_]
) -> FloatArray:
    """``W`` per run for the executed branches (module docstring); ``by_rule`` says the
    executed branch was the rule's choice (not an exploration draw), ``(R,)``."""
    w = scenario.welfare
    c = scenario.confounding
    shift = c.adoption * ((executed != 0) & by_rule)
    result: FloatArray = (
        w.base
        + world.effect[executed]
        + c.strength * (world.z0 + shift)
        + w.noise * world.measurement
    )
    return result
