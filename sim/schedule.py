"""Per-run randomness of trading: who acts when, and what the noise traders do.

Every random number of run ``r`` comes from its own ``SeedSequence(seed, spawn_key=(r,
stream))`` (`sim.world.run_seed`), so a run's numbers are the same whichever block it is
stepped in and however a sweep is split (the block size is a speed setting, not part of
the scenario's id).

- **Order.** In round ``t`` the agent acting ``i``-th in run ``r`` is
  ``(offset[t, r] + i · stride[r]) mod A`` with ``stride[r]`` coprime to ``A``: every agent
  acts once a round, in an order rotated per run and round.
- **Noise traders.** Drawing per run at every step would cost a generator call per run
  per step, so the noise traders' numbers are a counter-based hash instead: for market
  ``m`` (branch ``j`` of run ``r``) at step ``s``, ``z = splitmix64(key_m + s · φ)`` with
  ``key_m = key_r + j · ψ`` (``key_r`` drawn from the run's stream, ``φ, ψ`` odd 64-bit
  constants); its high 32 bits give the outcome ``⌊(z_hi / 2³²) · n⌋`` and its low 32 bits
  the share of cash ``z_lo / 2³²``. SplitMix64 is Steele, Lea and Flood's (2014)
  finaliser: a bijection of 64-bit words whose outputs pass BigCrush as a counter-based
  generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.scenario import Scenario

IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]

_PHI = np.uint64(0x9E3779B97F4A7C15)
_PSI = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def run_seed(scenario: Scenario, run: int, stream: int) -> np.random.SeedSequence:
    """``SeedSequence(seed, spawn_key=(run, stream))``: stream 0 draws the run's world,
    stream ``1 + i`` the trading of the ``i``-th futarchy mechanism."""
    return np.random.SeedSequence(scenario.seed, spawn_key=(run, stream))


def run_generator(scenario: Scenario, run: int, stream: int) -> np.random.Generator:
    """A PCG64 generator on `run_seed`."""
    return np.random.Generator(np.random.PCG64(run_seed(scenario, run, stream)))


def splitmix64(x: UIntArray) -> UIntArray:
    """The SplitMix64 finaliser of 64-bit words (wrapping arithmetic), element-wise."""
    z = x.copy()
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def hashed_pair(keys: UIntArray, counter: int) -> tuple[FloatArray, FloatArray]:
    """``z = splitmix64(key + counter · φ)`` as two floats in ``[0, 1)``: its high and its
    low 32 bits over ``2³²``, per key."""
    with np.errstate(over="ignore"):
        z = splitmix64(keys + np.uint64(counter) * _PHI)
    high: FloatArray = (z >> np.uint64(32)).astype(np.float64) * 2.0**-32
    low: FloatArray = (z & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32
    return high, low


@dataclass(frozen=True)
class Schedule:
    """The trading randomness of a block of runs for one futarchy mechanism.

    Attributes:
        offsets: ``offset[t, r]``, ``(rounds, R)``.
        strides: ``stride[r]``, coprime to the number of agents, ``(R,)``.
        market_keys: ``key_m`` per market ``m = j · R + r``, ``(B · R,)``.
    """

    offsets: IntArray
    strides: IntArray
    market_keys: UIntArray

    def acting(self, step: int, agents: int) -> IntArray:
        """The agent acting at ``step`` in each run, ``(R,)``."""
        rnd, pos = divmod(step, agents)
        result: IntArray = (self.offsets[rnd] + pos * self.strides) % agents
        return result

    def noise(self, step: int, outcomes: int, markets: IntArray) -> tuple[IntArray, FloatArray]:
        """The noise traders' numbers at ``step`` in the given markets: ``(outcome, share
        of cash)``, each of the markets' shape."""
        high, low = hashed_pair(self.market_keys[markets], step)
        k = np.minimum(np.floor(high * outcomes), outcomes - 1).astype(np.int64)
        return k, low


def schedule_of(
    scenario: Scenario, first_run: int, runs: int, stream: int, branches: int, agents: int
) -> Schedule:
    """Draw the schedule of runs ``first_run … first_run + runs − 1`` (module docstring)."""
    rounds = scenario.market.rounds
    coprime = [k for k in range(1, max(agents, 2)) if math.gcd(k, agents) == 1] or [1]
    offsets = np.empty((rounds, runs), dtype=np.int64)
    strides = np.empty(runs, dtype=np.int64)
    keys = np.empty(runs, dtype=np.uint64)
    for i in range(runs):
        g = run_generator(scenario, first_run + i, stream)
        offsets[:, i] = g.integers(agents, size=rounds)
        strides[i] = coprime[int(g.integers(len(coprime)))]
        keys[i] = np.uint64(int(g.integers(2**63)))
    with np.errstate(over="ignore"):
        market_keys = (
            keys[None, :] + np.arange(branches, dtype=np.uint64)[:, None] * _PSI
        ).reshape(-1)
    return Schedule(offsets, strides, market_keys)
