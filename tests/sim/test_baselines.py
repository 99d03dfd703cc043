"""The mechanisms futarchy is compared with, on hand-built worlds with the numbers written out.

Three branches — the status quo (0), A (1) and B (2) — and five agents: three informed
traders with budgets 100, 100 and 200, a noise trader with 50 and a manipulator with 150
who wants B. An informed trader votes for the branch its causal estimate ranks highest:

    estimates [51, 50, 50] → votes 0      [50, 53, 49] → votes 1      [50, 49, 52] → votes 2

The noise trader votes at random (the world's ``votes_random``), the manipulator for B.

====  =======================  ===============  =================  =================
run   votes (a0 a1 a2 n m)     one agent, one   by budget          who wins
                               vote: 0 / A / B  0 / A / B
====  =======================  ===============  =================  =================
0     1 1 0 0 2                2 / 2 / 1        250 / 200 / 150    0 (tie) / 0
1     1 2 1 2 2                0 / 2 / 3        0 / 300 / 300      B / A (tie)
2     1 2 0 1 2                1 / 2 / 2        200 / 150 / 250    A (tie) / B
3     2 1 0 0 2                2 / 1 / 2        250 / 100 / 250    0 (tie) / 0 (tie)
====  =======================  ===============  =================  =================

A tie that includes the status quo keeps it; a tie among alternatives goes to the lowest
index.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim import baselines
from sim.scenario import Scenario, from_dict
from sim.world import INFORMED, MANIPULATOR, NOISE, Agents, World

V0, V1, V2 = [51.0, 50.0, 50.0], [50.0, 53.0, 49.0], [50.0, 49.0, 52.0]
NO_SIGNAL = [math.nan, math.nan, math.nan]


def _scenario(threshold: float = 0.5, manipulator: bool = True) -> Scenario:
    data: dict[str, Any] = {
        "name": "baselines",
        "branches": [
            {"name": "status quo", "effect": 0.0},
            {"name": "A", "effect": 3.0},
            {"name": "B", "effect": 3.0},
        ],
        "rule": {"threshold": threshold},
        "population": {
            "informed": {"count": 3},
            "noise": {"count": 1},
            "manipulator": {"target": 2, "budget": 150.0} if manipulator else None,
        },
    }
    return from_dict(data)


def _agents(kinds: list[int], budgets: list[float]) -> Agents:
    signal = [2.0 if k == INFORMED else math.inf for k in kinds]
    return Agents(
        kind=np.array(kinds, dtype=np.int64),
        budget_micros=np.array([round(b * 1_000_000) for b in budgets], dtype=np.int64),
        kelly=np.array([0.5 if k == INFORMED else 0.0 for k in kinds]),
        signal_sd=np.array(signal),
        noise_fraction=np.array([0.1 if k == NOISE else 0.0 for k in kinds]),
    )


def _world(
    causal: list[list[list[float]]],
    votes_random: list[list[int]],
    effect: tuple[float, ...] = (0.0, 3.0, 3.0),
    random_choice: list[int] | None = None,
) -> World:
    runs = len(causal)
    return World(
        first_run=0,
        effect=np.array(effect),
        z0=np.zeros(runs),
        measurement=np.zeros(runs),
        causal=np.array(causal),
        posterior_var=np.full(len(causal[0]), 1.0),
        votes_random=np.array(votes_random, dtype=np.int64),
        random_choice=np.array(random_choice or [0] * runs, dtype=np.int64),
        decision_seeds=tuple(bytes(32) for _ in range(runs)),
    )


AGENTS = _agents(
    [INFORMED, INFORMED, INFORMED, NOISE, MANIPULATOR], [100.0, 100.0, 200.0, 50.0, 150.0]
)
# Per run: a0, a1, a2, the noise trader and the manipulator. The random votes of the agents
# with a signal (and of the manipulator) are 2 everywhere: they must not count.
VOTING_WORLD = _world(
    [
        [V1, V1, V0, NO_SIGNAL, NO_SIGNAL],
        [V1, V2, V1, NO_SIGNAL, NO_SIGNAL],
        [V1, V2, V0, NO_SIGNAL, NO_SIGNAL],
        [V2, V1, V0, NO_SIGNAL, NO_SIGNAL],
    ],
    [[2, 2, 2, 0, 1], [2, 2, 2, 2, 0], [2, 2, 2, 1, 0], [2, 2, 2, 0, 1]],
)


def test_the_ballots_are_the_best_estimates_the_random_votes_and_the_target() -> None:
    ballots = baselines.ballots(_scenario(), AGENTS, VOTING_WORLD)
    assert ballots.tolist() == [
        [1, 1, 0, 0, 2],
        [1, 2, 1, 2, 2],
        [1, 2, 0, 1, 2],
        [2, 1, 0, 0, 2],
    ]


def test_one_agent_one_vote_with_ties_to_the_status_quo() -> None:
    chosen = baselines.majority_vote(_scenario(), AGENTS, VOTING_WORLD)
    assert chosen.tolist() == [0, 2, 1, 0]


def test_votes_weighted_by_budget_with_ties_to_the_status_quo() -> None:
    chosen = baselines.budget_vote(_scenario(), AGENTS, VOTING_WORLD)
    assert chosen.tolist() == [0, 1, 2, 0]


def test_an_indifferent_informed_agent_votes_for_the_status_quo() -> None:
    agents = _agents([INFORMED], [100.0])
    world = _world([[[50.0, 50.0, 50.0]]], [[2]])
    scenario = from_dict(
        {
            "name": "one voter",
            "branches": [{"name": n, "effect": 0.0} for n in ("status quo", "A", "B")],
            "population": {"informed": {"count": 1}, "noise": {"count": 0}},
        }
    )
    assert baselines.ballots(scenario, agents, world).tolist() == [[0]]
    assert baselines.majority_vote(scenario, agents, world).tolist() == [0]


# --- the poll -------------------------------------------------------------------------------

# Two informed traders and a noise trader (no signal: left out of the means), δ = 0.5.
POLL_AGENTS = _agents([INFORMED, INFORMED, NOISE], [100.0, 100.0, 50.0])
POLL_WORLD = _world(
    [
        # means 50, 50.5, 49: A leads by exactly δ = 0.5, which is not enough
        [[50.0, 51.0, 49.0], [50.0, 50.0, 49.0], NO_SIGNAL],
        # means 50, 50.75, 49: A leads by 0.75 > δ
        [[50.0, 51.5, 49.0], [50.0, 50.0, 49.0], NO_SIGNAL],
        # means 50, 51, 52: B leads by 2
        [[50.0, 51.0, 52.0], [50.0, 51.0, 52.0], NO_SIGNAL],
        # means 50, 52, 52: A and B tie; the lower index, A
        [[50.0, 52.0, 52.0], [50.0, 52.0, 52.0], NO_SIGNAL],
        # means 53, 52, 51: the status quo is best
        [[53.0, 52.0, 51.0], [53.0, 52.0, 51.0], NO_SIGNAL],
    ],
    [[0, 0, 2]] * 5,
)


def _poll_scenario(threshold: float) -> Scenario:
    return from_dict(
        {
            "name": "poll",
            "branches": [{"name": n, "effect": 0.0} for n in ("status quo", "A", "B")],
            "rule": {"threshold": threshold},
            "population": {"informed": {"count": 2}, "noise": {"count": 1}},
        }
    )


def test_the_poll_means_leave_out_agents_without_a_signal() -> None:
    means = baselines.poll_means(POLL_AGENTS, POLL_WORLD)
    assert means is not None
    np.testing.assert_array_equal(
        means,
        [
            [50.0, 50.5, 49.0],
            [50.0, 50.75, 49.0],
            [50.0, 51.0, 52.0],
            [50.0, 52.0, 52.0],
            [53.0, 52.0, 51.0],
        ],
    )


def test_the_poll_adopts_an_alternative_only_beyond_the_threshold() -> None:
    chosen = baselines.poll(_poll_scenario(0.5), POLL_AGENTS, POLL_WORLD)
    assert chosen.tolist() == [0, 1, 2, 1, 0]
    # with δ = 0 the margin of 0.5 is enough
    assert baselines.poll(_poll_scenario(0.0), POLL_AGENTS, POLL_WORLD).tolist() == [1, 1, 2, 1, 0]
    # with δ = 1 only B's lead of 2 and the tie at 52 are
    assert baselines.poll(_poll_scenario(1.0), POLL_AGENTS, POLL_WORLD).tolist() == [0, 0, 2, 1, 0]


def test_a_poll_of_nobody_keeps_the_status_quo() -> None:
    agents = _agents([NOISE, NOISE], [50.0, 50.0])
    world = _world([[NO_SIGNAL, NO_SIGNAL]] * 3, [[1, 2]] * 3)
    assert baselines.poll_means(agents, world) is None
    scenario = from_dict(
        {
            "name": "noise only",
            "branches": [{"name": n, "effect": 0.0} for n in ("status quo", "A", "B")],
            "population": {"informed": {"count": 0}, "noise": {"count": 2}},
        }
    )
    assert baselines.poll(scenario, agents, world).tolist() == [0, 0, 0]


# --- random, status quo, oracle -------------------------------------------------------------


def test_random_choice_is_the_worlds_draw_and_status_quo_is_always_zero() -> None:
    world = _world([[V0]] * 4, [[0]] * 4, random_choice=[2, 0, 1, 2])
    assert baselines.random_choice(world).tolist() == [2, 0, 1, 2]
    assert baselines.status_quo(world).tolist() == [0, 0, 0, 0]


def test_the_oracle_picks_the_highest_true_effect() -> None:
    assert baselines.oracle(_world([[V0]] * 3, [[0]] * 3, (0.0, 1.0, 4.0))).tolist() == [2, 2, 2]
    assert baselines.oracle(_world([[V0]] * 2, [[0]] * 2, (2.0, 0.0, 1.0))).tolist() == [0, 0]


def test_the_oracle_breaks_a_tie_toward_the_lower_index() -> None:
    # A and B both +3: A; the status quo tied with the best: the status quo
    assert baselines.oracle(_world([[V0]] * 2, [[0]] * 2, (0.0, 3.0, 3.0))).tolist() == [1, 1]
    assert baselines.oracle(_world([[V0]], [[0]], (3.0, 3.0, 1.0))).tolist() == [0]
