"""A backtest scenario: a frozen, validated spec whose id is the hash of its content.

A scenario states the world (branches with their true causal effects on welfare, the
measurement noise, confounding), the market (subsidy, asset kind, trading length, the
decision rule), the population of agents, the mechanisms to compare, the number of runs
and the seed. It is read from TOML or JSON (`load`, `from_dict`); an unknown key, a wrong
type or a value out of range is refused with `ScenarioError` naming the field
(``population.informed.count``). Equal content gives an equal id:
``id = SHA-256(canonical JSON of identity())`` (`db.canonical`; every field but the block
size, which changes no number), so results are cached and shipped to a cluster by id.

Units: money in cash units (1 cash = 1,000,000 micro-units, as the service), welfare in the
metric's units, time in seconds. Run ``r`` of a scenario draws everything from
``SeedSequence(seed, spawn_key=(r, stream))`` (`sim.schedule`), so its numbers do not depend
on the block it is stepped in or on how a sweep splits the work.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from db import canonical
from db.errors import InvalidInputError
from market.branch import liquidity_micros
from market.decision import DecisionRule, InvalidDecisionRule
from market.errors import InvalidProposal

SCHEMA = "backtest-scenario/1"

MECHANISMS: tuple[str, ...] = (
    "futarchy",
    "futarchy_ipw",
    "futarchy_randomised",
    "majority",
    "budget_vote",
    "poll",
    "random",
    "status_quo",
    "oracle",
)
"""Every mechanism a backtest compares, in report order: futarchy with ``ε = 0``, with
``ipw`` and with ``randomised_only`` exploration; majority vote of the agents on their own
signals, the same vote weighted by budget, a poll of mean beliefs, a random choice, always
the status quo, and the full-information oracle."""

FUTARCHY_MODES: dict[str, str] = {
    "futarchy": "none",
    "futarchy_ipw": "ipw",
    "futarchy_randomised": "randomised_only",
}
"""The futarchy mechanisms and the exploration mode each runs."""

MAX_RUNS = 1_000_000
MAX_AGENTS = 10_000
MAX_ROUNDS = 100_000


Int = Annotated[int, Strict()]
"""A whole number as written: ``true`` or ``"100"`` is refused, never read as 1 or 100."""

Real = Annotated[float, Strict()]
"""A number as written (an integer is fine): a boolean or a string is refused."""


class ScenarioError(InvalidInputError):
    """A scenario that cannot be run: names the first field at fault (``field``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Branch(_Spec):
    """One branch: its name and its true causal effect on welfare (welfare units)."""

    name: str = Field(min_length=1, max_length=200)
    effect: Real = Field(allow_inf_nan=False, ge=-1e9, le=1e9)


class Welfare(_Spec):
    """The welfare metric as the simulated world measures it.

    ``W = base + effect[executed] + γ·Z + N(0, noise²)`` (see `Confounding` for ``Z``);
    markets trade it on the tradable bounds ``[lo, hi]``. Agents hold a prior
    ``effect ~ N(0, prior_sd²)`` for every branch.
    """

    lo: Real = Field(default=0.0, allow_inf_nan=False, ge=-1e9, le=1e9)
    hi: Real = Field(default=100.0, allow_inf_nan=False, ge=-1e9, le=1e9)
    base: Real = Field(default=50.0, allow_inf_nan=False, ge=-1e9, le=1e9)
    noise: Real = Field(default=5.0, allow_inf_nan=False, ge=0.0, le=1e9)
    prior_sd: Real = Field(default=10.0, allow_inf_nan=False, gt=0.0, le=1e9)
    unit: str = Field(default="points", max_length=50)

    @model_validator(mode="after")
    def _bounds(self) -> Welfare:
        if not self.lo < self.hi:
            raise ValueError(f"hi: lo ({self.lo}) must be below hi ({self.hi})")
        return self


class Market(_Spec):
    """The conditional markets: subsidy ``F`` (cash), asset kind, trading length.

    ``asset = "long_short"`` trades LONG/SHORT on ``[lo, hi]``; ``"bins"`` trades ``bins``
    equal-width bins of ``[lo, hi]``. Liquidity per branch is the service's
    ``b = F / ln n`` (`market.branch.liquidity_micros`, discounted under ipw).
    """

    subsidy: Real = Field(default=1000.0, allow_inf_nan=False, gt=0.0, le=1e9)
    asset: Literal["long_short", "bins"] = "long_short"
    bins: Int = Field(default=10, ge=2, le=200)
    rounds: Int = Field(default=50, ge=1, le=MAX_ROUNDS)
    trading_seconds: Int = Field(default=7 * 86_400, ge=1, le=10 * 366 * 86_400)
    min_trade: Real = Field(default=0.01, allow_inf_nan=False, gt=0.0, le=1e9)


class Rule(_Spec):
    """The decision rule (`market.decision.DecisionRule`) without exploration, plus the
    ``epsilon`` the exploring futarchy mechanisms use."""

    window_seconds: Int = 86_400
    interval_seconds: Int = 3_600
    cap: Real = Field(default=5.0, allow_inf_nan=False)
    threshold: Real = Field(default=0.0, allow_inf_nan=False)
    epsilon: Real = Field(default=0.1, allow_inf_nan=False, gt=0.0, lt=1.0)


class Informed(_Spec):
    """Traders with a private signal ``s = effect + N(0, signal_noise²)`` of every branch,
    who trade a fraction ``kelly`` of the Kelly stake toward their posterior."""

    count: Int = Field(default=0, ge=0, le=MAX_AGENTS)
    signal_noise: Real = Field(default=5.0, allow_inf_nan=False, gt=0.0, le=1e9)
    budget: Real = Field(default=100.0, allow_inf_nan=False, gt=0.0, le=1e9)
    kelly: Real = Field(default=0.5, allow_inf_nan=False, gt=0.0, le=1.0)


class Noise(_Spec):
    """Traders with no information: each action buys a random outcome of each branch with
    a uniform random share of ``max_fraction`` of their branch cash."""

    count: Int = Field(default=0, ge=0, le=MAX_AGENTS)
    budget: Real = Field(default=50.0, allow_inf_nan=False, gt=0.0, le=1e9)
    max_fraction: Real = Field(default=0.1, allow_inf_nan=False, gt=0.0, le=1.0)


class Manipulator(_Spec):
    """One trader who wants ``target`` adopted, whatever welfare says: inside the averaging
    window it buys LONG in the target branch and SHORT in every other, spending its whole
    budget. Its budget is ``budget`` cash, or ``budget_multiple`` × the subsidy.
    ``search_budgets`` (multiples of the subsidy) are tried to find its cost to flip the
    decision; ``search_runs`` runs each."""

    target: Int = Field(ge=0)
    budget: Real | None = Field(default=None, allow_inf_nan=False, gt=0.0, le=1e12)
    budget_multiple: Real | None = Field(default=None, allow_inf_nan=False, gt=0.0, le=1e6)
    search_budgets: tuple[Real, ...] = ()
    search_runs: Int = Field(default=100, ge=1, le=MAX_RUNS)

    @model_validator(mode="after")
    def _one_budget(self) -> Manipulator:
        if (self.budget is None) == (self.budget_multiple is None):
            raise ValueError("budget: give exactly one of budget and budget_multiple")
        for m in self.search_budgets:
            if not 0.0 <= m <= 1e6:
                raise ValueError(f"search_budgets: each must lie in [0, 1e6], got {m}")
        return self


class Population(_Spec):
    """Who trades: informed traders, insiders (informed with better signals), noise
    traders and at most one manipulator."""

    informed: Informed = Informed(count=20)
    insiders: Informed = Informed(count=0, signal_noise=1.0)
    noise: Noise = Noise(count=5)
    manipulator: Manipulator | None = None


class Confounding(_Spec):
    """A world state ``Z`` that makes adoption likelier and also moves welfare.

    ``Z ~ N(0, 1)`` per run, shifted by ``adoption`` when an alternative is executed by the
    decision rather than by an exploration draw (alternatives are adopted in good times);
    it moves welfare by ``strength · Z``. A bet that settles on a greedy decision therefore
    prices ``effect + strength · adoption`` for an alternative: correlation, not causation.
    Bets that settle only on random draws (``randomised_only``) price the causal effect.
    """

    strength: Real = Field(default=0.0, allow_inf_nan=False, ge=-1e9, le=1e9)
    adoption: Real = Field(default=0.0, allow_inf_nan=False, ge=-100.0, le=100.0)


class Scenario(_Spec):
    """A whole backtest: see the module docstring. The status quo is ``branches[0]``."""

    schema_: Literal["backtest-scenario/1"] = Field(default="backtest-scenario/1", alias="schema")
    name: str = Field(min_length=1, max_length=200)
    runs: Int = Field(default=100, ge=1, le=MAX_RUNS)
    seed: Int = Field(default=0, ge=0, lt=2**128)
    engine: Literal["exact", "fast"] = "exact"
    block: Int = Field(default=500, ge=1, le=100_000)  # runs stepped together: speed only
    branches: tuple[Branch, ...] = Field(min_length=2, max_length=50)
    welfare: Welfare = Welfare()
    market: Market = Market()
    rule: Rule = Rule()
    population: Population = Population()
    confounding: Confounding = Confounding()
    mechanisms: tuple[str, ...] = MECHANISMS

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        # "field: message", so `from_dict` names the field of a cross-field refusal
        for m in self.mechanisms:
            if m not in MECHANISMS:
                raise ValueError(
                    f"mechanisms: unknown mechanism {m!r}; known: {', '.join(MECHANISMS)}"
                )
        if len(set(self.mechanisms)) != len(self.mechanisms):
            raise ValueError("mechanisms: a mechanism is listed more than once")
        manip = self.population.manipulator
        if manip is not None and not 0 < manip.target < len(self.branches):
            raise ValueError(
                f"population.manipulator.target: must name an alternative, 1 to "
                f"{len(self.branches) - 1}, got {manip.target}"
            )
        if self.agents == 0:
            raise ValueError("population: the population has no agents")
        names = [b.name for b in self.branches]
        if len(set(names)) != len(names):
            raise ValueError("branches: branch names must be distinct")
        return self

    # --- derived ------------------------------------------------------------------------

    @property
    def agents(self) -> int:
        """Number of agents: informed, insiders, noise traders, the manipulator."""
        p = self.population
        return p.informed.count + p.insiders.count + p.noise.count + (p.manipulator is not None)

    @property
    def outcomes(self) -> int:
        """Outcomes per branch market: 2 for LONG/SHORT, else the number of bins."""
        return 2 if self.market.asset == "long_short" else self.market.bins

    def decision_rule(self, exploration_mode: str) -> DecisionRule:
        """The service's `DecisionRule` for one futarchy mechanism's exploration mode."""
        r = self.rule
        eps = 0.0 if exploration_mode == "none" else r.epsilon
        return DecisionRule(
            window_seconds=r.window_seconds,
            interval_seconds=r.interval_seconds,
            cap=r.cap,
            threshold=r.threshold,
            epsilon=eps,
            exploration_mode=exploration_mode,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, every field spelled out (defaults included)."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data

    def identity(self) -> dict[str, Any]:
        """`to_dict` without ``block``: everything that decides a result's numbers (the
        block size only groups runs for speed; every run draws from its own seed)."""
        data = self.to_dict()
        del data["block"]
        return data

    @cached_property
    def id(self) -> str:
        """SHA-256 of the canonical JSON of `identity`, 64 hex digits."""
        return canonical.digest(self.identity())

    def with_changes(self, **changes: Any) -> Scenario:
        """A copy with top-level fields replaced, validated again."""
        data = self.to_dict()
        data.update(changes)
        return from_dict(data)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(x) for x in loc)


def from_dict(data: Mapping[str, Any]) -> Scenario:
    """Validate plain data into a `Scenario`.

    Raises:
        ScenarioError: naming the first field at fault (an unknown key included).
    """
    if not isinstance(data, Mapping):
        raise ScenarioError("", f"a scenario must be an object, got {type(data).__name__}")
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(x for x in err["loc"] if x not in ("function-after",))
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        named = re.fullmatch(r"([A-Za-z_][\w.]*): (.*)", msg, flags=re.DOTALL)
        if err["type"] == "value_error" and named:  # a model validator naming its field
            loc = (*loc, *named.group(1).split("."))
            msg = named.group(2)
        raise ScenarioError(_field(loc), msg) from None
    try:
        for mode in ("none", "ipw", "randomised_only"):
            scenario.decision_rule(mode)
    except InvalidDecisionRule as exc:
        raise ScenarioError(f"rule.{exc.field}", str(exc)) from None
    subsidy = math.floor(scenario.market.subsidy * 1_000_000)
    for mechanism in scenario.mechanisms:
        if mechanism in FUTARCHY_MODES:
            rule = scenario.decision_rule(FUTARCHY_MODES[mechanism])
            try:
                liquidity_micros(scenario.outcomes, len(scenario.branches), subsidy, rule)
            except InvalidProposal as exc:
                raise ScenarioError("market.subsidy", f"{mechanism}: {exc}") from None
    return scenario


def loads(text: str, fmt: Literal["toml", "json"]) -> Scenario:
    """Parse TOML or JSON text into a `Scenario`.

    Raises:
        ScenarioError: text that does not parse, or a scenario that does not validate.
    """
    try:
        data = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError("", f"not valid {fmt.upper()}: {exc}") from None
    return from_dict(data)


def load(path: str | Path) -> Scenario:
    """Read a scenario from a ``.toml`` or ``.json`` file.

    Raises:
        ScenarioError: an unreadable file, another extension, or an invalid scenario.
    """
    p = Path(path)
    if p.suffix not in (".toml", ".json"):
        raise ScenarioError("", f"{p.name}: a scenario is a .toml or .json file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError("", f"cannot read {p}: {exc}") from None
    return loads(text, "toml" if p.suffix == ".toml" else "json")
