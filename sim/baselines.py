"""The mechanisms futarchy is compared with, on the same agents and the same signals.

Each returns the chosen branch per run, ``(R,)`` (branch 0 is the status quo):

- `majority_vote`: every agent votes for the branch its causal estimate ranks highest
  (agents without a signal vote at random, the manipulator for its target); the most
  votes win, and a tie that includes the status quo keeps it (else the lowest index);
- `budget_vote`: the same ballots, each weighted by the agent's budget;
- `poll`: the mean of the signalled agents' causal estimates per branch, decided by the
  service's own greedy rule with the scenario's threshold δ
  (`market.decision.greedy_choice`);
- `random_choice`, `status_quo`, and `oracle`, which knows every true effect (ties go to
  the lowest index, the status quo first).
"""

from __future__ import annotations

import numpy as np

from market.decision import greedy_choice
from sim.scenario import Scenario
from sim.world import MANIPULATOR, Agents, FloatArray, IntArray, World


def ballots(scenario: Scenario, agents: Agents, world: World) -> IntArray:
    """Each agent's vote per run, ``(R, A)``."""
    has_signal = np.isfinite(agents.signal_sd)
    best = np.argmax(np.nan_to_num(world.causal, nan=-np.inf), axis=2)
    votes = np.where(has_signal[None, :], best, world.votes_random)
    manip = scenario.population.manipulator
    if manip is not None:
        votes[:, agents.kind == MANIPULATOR] = manip.target
    return votes.astype(np.int64)


def _tally(votes: IntArray, weights: FloatArray, n_branches: int) -> IntArray:
    runs = votes.shape[0]
    totals = np.zeros((runs, n_branches))
    np.add.at(totals, (np.arange(runs)[:, None], votes), weights[None, :])
    top = totals.max(axis=1)
    winner = np.argmax(totals, axis=1)
    return np.where(totals[:, 0] == top, 0, winner).astype(np.int64)


def majority_vote(scenario: Scenario, agents: Agents, world: World) -> IntArray:
    """One agent, one vote (see the module docstring)."""
    votes = ballots(scenario, agents, world)
    return _tally(votes, np.ones(agents.count), len(scenario.branches))


def budget_vote(scenario: Scenario, agents: Agents, world: World) -> IntArray:
    """Votes weighted by budget (micro-units)."""
    votes = ballots(scenario, agents, world)
    return _tally(votes, agents.budget_micros.astype(np.float64), len(scenario.branches))


def poll_means(agents: Agents, world: World) -> FloatArray | None:
    """Mean causal estimate per branch over the agents with a signal, ``(R, B)``; None
    when no agent has one."""
    has_signal = np.isfinite(agents.signal_sd)
    if not has_signal.any():
        return None
    means: FloatArray = world.causal[:, has_signal, :].mean(axis=1)
    return means


def poll(scenario: Scenario, agents: Agents, world: World) -> IntArray:
    """The greedy rule on the mean beliefs (the status quo when nobody has a signal)."""
    means = poll_means(agents, world)
    if means is None:
        return np.zeros(world.runs, dtype=np.int64)
    return greedy_choice(means, 0, scenario.rule.threshold)


def random_choice(world: World) -> IntArray:
    """A branch drawn uniformly per run."""
    return world.random_choice


def status_quo(world: World) -> IntArray:
    """Always branch 0."""
    return np.zeros(world.runs, dtype=np.int64)


def oracle(world: World) -> IntArray:
    """The branch with the highest true effect (ties: the lowest index)."""
    return np.full(world.runs, int(np.argmax(world.effect)), dtype=np.int64)
