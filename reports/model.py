"""The read model of the policy-decision report: one tree of frozen dataclasses, pure data.

`reports.read_model.build` fills it from the database; the HTML, JSON and Markdown
renderings (and the web pages) only read it, so they all show the same figures. Nothing
here holds an ORM object, a session or a lazy attribute: a `PolicyReport` can be pickled,
cached, compared and rendered long after its session closed.

Units, everywhere in the tree:

- ``*_micros``: integer micro-units of cash (1e-6); the JSON rendering writes them as
  decimal strings without the suffix (``subsidy_micros = 50_000_000`` → ``"subsidy": "50"``).
- welfare: float, in the metric version's unit (``MetricSummary.unit``).
- prices and probabilities: floats in ``[0, 1]``.
- times: timezone-aware UTC datetimes; durations: seconds.

Layout (`PolicyReport` is the root)::

    PolicyReport
    ├── metric: MetricSummary            what is measured, its version hash and bounds
    ├── rule: RuleSummary | None         δ, window, cap, ε, the rule's hash, the seed commitment
    ├── branches: BranchReport, …        one per branch, by index; the status quo last
    │   ├── band: Band                   the uncertainty band of its expected welfare
    │   ├── activity: Activity           trades, volume, traders, the largest trader
    │   ├── maker: MakerSummary          subsidy, b, worst-case and current loss
    │   ├── last_move: LastMove          the change over the last observation interval
    │   ├── path: PathPoint, …           expected welfare over time (downsampled)
    │   ├── volume: VolumeBucket, …      volume over time (fixed buckets)
    │   └── outcome: BranchOutcome|None  after settlement: predicted vs measured, earnings
    ├── decision: DecisionSummary        recorded, or as it would be if taken now
    ├── settlement: SettlementSummary|None
    ├── chart: ChartSpan                 the time axis the charts share
    └── flags: Flag, …                   what deserves a reader's attention, with figures
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SCHEMA = "policy-report/1"
"""Version of the report's shape; part of every rendering."""

DecisionState = Literal["decided", "would_be", "due", "none"]
"""What the decision section shows:

- ``decided``: the recorded decision;
- ``would_be``: before the decision time: the decision as it would be if taken now, each
  branch's average projected to the decision time as if nothing traded until then;
- ``due``: the decision time has passed but nobody has decided yet: the averages are
  final, the greedy choice is what `decide` will pick (the draw waits for the seed);
- ``none``: there is no decision and none can come (unwound before it, or no terms).
"""

BandMethod = Literal["quantiles", "observation_range"]
"""How a `Band` is made: the 10 % and 90 % quantiles of a binned market's current
distribution, or (LONG/SHORT) the range of the capped observation over the window."""

FlagKind = Literal["thin_liquidity", "concentrated_trader", "large_last_move", "margin_in_band"]


@dataclass(frozen=True)
class MetricSummary:
    """The welfare metric version the markets bind to.

    Attributes:
        version_id: its SHA-256 (64 hex digits), or None for a proposal bound to no version.
        name, unit, entity: from the version's definition (None without a version).
        definition_path: the API path of its definition (``/metric-versions/{id}``).
        lo, hi: the tradable bounds (welfare units); for a binned asset the outer edges.
        bin_edges: the bin edges of a binned asset, else None.
    """

    version_id: str | None
    name: str | None
    unit: str | None
    entity: str | None
    definition_path: str | None
    lo: float
    hi: float
    bin_edges: tuple[float, ...] | None


@dataclass(frozen=True)
class RuleSummary:
    """The decision rule fixed at creation, and what it commits to.

    Attributes:
        window_seconds: ``W``, the averaging window ending at ``decides_at``.
        interval_seconds: ``I``, the observation interval.
        cap: ``c``, welfare units an observation moves per interval at most.
        threshold: ``δ``, welfare units an alternative must beat the status quo by.
        epsilon: ``ε``, the exploration probability; exploration_mode its mode.
        rule_hash: SHA-256 of the rule document (rule, decision time, seed commitment,
            what settles it).
        seed_commitment: ``SHA-256(seed)``, public from creation.
        decides_at: ``T``; window_starts_at: ``T − W``.
    """

    window_seconds: int
    interval_seconds: int
    cap: float
    threshold: float
    epsilon: float
    exploration_mode: str
    rule_hash: str
    seed_commitment: str
    decides_at: datetime
    window_starts_at: datetime


@dataclass(frozen=True)
class Band:
    """An uncertainty band around a branch's expected welfare (welfare units).

    Attributes:
        low, high: the band, ``low ≤ high``.
        method: `BandMethod`.
        low_level, high_level: the quantile levels (``quantiles``), else None.
    """

    low: float
    high: float
    method: BandMethod
    low_level: float | None
    high_level: float | None

    @property
    def half_width(self) -> float:
        """``(high − low) / 2``, welfare units."""
        return (self.high - self.low) / 2.0


@dataclass(frozen=True)
class Activity:
    """Trading in one branch.

    Attributes:
        trades: trades executed.
        volume_micros: ``Σ |cash|`` of its trades.
        traders: distinct accounts that traded.
        top_trader_volume_micros: the largest one account's ``Σ |cash|``.
        top_trader_share: ``top_trader_volume / volume`` (0 without trades).
    """

    trades: int
    volume_micros: int
    traders: int
    top_trader_volume_micros: int
    top_trader_share: float


@dataclass(frozen=True)
class MakerSummary:
    """The branch's market maker (micro-units).

    Attributes:
        subsidy_micros: ``F``, its starting conditional cash (the sponsor pays ``F`` once
            for all branches, split into each).
        liquidity_micros: ``b``.
        worst_case_loss_micros: ``⌊b ln n⌋``, the most it can ever lose (``≤ F``).
        current_loss_micros: its loss if the market resolved at today's prices,
            ``Σ_k q_k p_k − (M − F)`` (negative: a gain); None once the proposal ended.
        realised_result_micros: after settlement, its result in the executed branch
            (``M_e − Σ shares paid − F``; negative is a loss); None elsewhere.
    """

    subsidy_micros: int
    liquidity_micros: int
    worst_case_loss_micros: int
    current_loss_micros: int | None
    realised_result_micros: int | None


@dataclass(frozen=True)
class LastMove:
    """How far a branch's expected welfare moved over the last observation interval.

    Attributes:
        starts_at, ends_at: the interval, ``ends_at = min(now, T)``, ``starts_at =
            ends_at − I``.
        before, after: the expected welfare in force at each end (welfare units).
        change: ``after − before``.
    """

    starts_at: datetime
    ends_at: datetime
    before: float
    after: float
    change: float


@dataclass(frozen=True)
class PathPoint:
    """The expected welfare in force from ``at`` on (welfare units)."""

    at: datetime
    welfare: float


@dataclass(frozen=True)
class VolumeBucket:
    """Trading in ``[starts_at, ends_at)``: trades and ``Σ |cash|``."""

    starts_at: datetime
    ends_at: datetime
    trades: int
    volume_micros: int


@dataclass(frozen=True)
class BranchOutcome:
    """One branch after the proposal ended.

    Attributes:
        status: the market's final status: ``settled`` (executed), ``void`` or ``unwound``.
        predicted_welfare: the decision's average ``A_j`` (None without a decision).
        error: ``W − A_j`` for the executed branch of a settled proposal (the only
            prediction the measurement tests); None elsewhere.
        traders_earned_micros: what its traders earned: in the executed branch
            ``Σ paid − Σ deposits`` (shares paid less their net spend, ipw-scaled where the
            rule says so); 0 where bets were called off or unwound.
        shares_paid_micros: what its traders' shares paid (executed branch only, else 0).
    """

    status: str
    predicted_welfare: float | None
    error: float | None
    traders_earned_micros: int
    shares_paid_micros: int


@dataclass(frozen=True)
class BranchReport:
    """One branch (an alternative or the status quo) and its market.

    Attributes:
        index: 0..K; the status quo is last.
        market_status: ``open``, ``closed``, ``settled``, ``void`` or ``unwound``.
        outcomes: outcome names in book order; prices: the current price of each.
        price: the LONG price (scalar asset), None for a binned one (see ``prices``).
        expected_welfare: what today's prices imply (welfare units).
        averaged_welfare: ``A``, the capped time-weighted average over the window: the
            decision's, or (undecided) the projection to ``T`` if nothing trades until then.
        averaged_price: the LONG price ``A`` stands for, ``(A − lo)/(hi − lo)`` (scalar
            only).
        probability: ``d_j``, the chance it is executed (decided, or would be now).
        executed: it is the executed branch (None before a decision).
        path, volume: the chart series, downsampled (see `reports.series`).
    """

    index: int
    name: str
    market_id: int
    is_status_quo: bool
    market_status: str
    outcomes: tuple[str, ...]
    prices: tuple[float, ...]
    price: float | None
    expected_welfare: float
    averaged_welfare: float
    averaged_price: float | None
    band: Band
    activity: Activity
    maker: MakerSummary
    last_move: LastMove
    probability: float | None
    executed: bool | None
    path: tuple[PathPoint, ...]
    volume: tuple[VolumeBucket, ...]
    outcome: BranchOutcome | None


@dataclass(frozen=True)
class DecisionSummary:
    """The decision, recorded or as it would be now (see `DecisionState`).

    Attributes:
        state: `DecisionState`; label: one sentence saying which, for every rendering.
        as_of: the instant the averages are read at.
        averaged: ``A_j`` per branch (welfare units; empty for ``none``).
        best_index: the alternative with the highest average.
        margin: ``A_best − A_status quo`` (welfare units).
        threshold: ``δ``; margin_over_threshold: ``margin − δ`` (adopted iff ``> 0``).
        greedy_index: the best alternative if ``margin > δ``, else the status quo.
        distribution: ``d`` per branch.
        executed_index, explored, settles, u, seed: the draw and its seed (revealed by the
            decision; None before it).
        decided_at: when it was recorded.
    """

    state: DecisionState
    label: str
    as_of: datetime
    averaged: tuple[float, ...]
    best_index: int | None
    margin: float | None
    threshold: float | None
    margin_over_threshold: float | None
    greedy_index: int | None
    distribution: tuple[float, ...]
    executed_index: int | None
    explored: bool | None
    settles: bool | None
    u: float | None
    seed: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class SettlementSummary:
    """How the proposal ended (micro-units; welfare units).

    Attributes:
        kind: ``settled`` or ``unwound``; reason: why (empty for a plain settlement).
        measurement_id, measured_welfare: what it settled against (``settled`` only).
        executed_index: the executed branch (``settled`` only).
        traders_paid_micros, sponsor_paid_micros, deposits_micros: what was paid out and
            put in; traders_earned_micros: ``traders_paid − deposits``.
        traders: traders paid (one payout each); ipw_probability: ``d_e`` when payouts were
            scaled by ``1/d_e``.
    """

    kind: str
    reason: str
    settled_at: datetime
    measurement_id: int | None
    measured_welfare: float | None
    executed_index: int | None
    traders_paid_micros: int
    sponsor_paid_micros: int
    deposits_micros: int
    traders_earned_micros: int
    traders: int
    ipw_probability: float | None


@dataclass(frozen=True)
class Flag:
    """Something a reader should look at, with the figure behind it.

    Attributes:
        kind: `FlagKind` (each documented with its threshold in `reports.flags`).
        branch_index: the branch it concerns, or None for the whole proposal.
        figure: the measured figure; threshold: the documented limit it crossed.
        unit: what ``figure`` and ``threshold`` are in (``"× F"``, ``"share"``, the
            welfare unit).
        message: one sentence, with the numbers.
    """

    kind: FlagKind
    branch_index: int | None
    figure: float
    threshold: float
    unit: str
    message: str


@dataclass(frozen=True)
class ChartSpan:
    """The time axis the charts share.

    Attributes:
        starts_at: trading opens; ends_at: the later of ``min(now, close of trading)`` and
            ``T`` (so the decision window always shows).
        window_starts_at, decides_at: the decision window to shade (None without terms).
        max_points_per_branch: the most points a branch's path holds.
    """

    starts_at: datetime
    ends_at: datetime
    window_starts_at: datetime | None
    decides_at: datetime | None
    max_points_per_branch: int


@dataclass(frozen=True)
class PolicyReport:
    """The policy-decision report of one proposal (the root of the read model).

    Attributes:
        schema: `SCHEMA`.
        generated_at: the ``now`` the report was built at.
        title, description: the question and what it is about.
        status: the proposal's status: open, closed, decided, settled or unwound.
        trading_open: trades are accepted now (open status, inside the trading window).
        alternatives: the alternatives' names, by branch; status_quo: the status quo's name.
        subsidy_micros: ``F``, what the sponsor paid once (its worst case in each branch).
        sponsor_account_id: who paid it.
        total_trades: trades in every branch; has_trades: ``total_trades > 0``.
    """

    schema: str
    generated_at: datetime
    proposal_id: int
    title: str
    description: str
    status: str
    trading_open: bool
    asset_kind: str
    opens_at: datetime
    closes_at: datetime
    decides_at: datetime | None
    alternatives: tuple[str, ...]
    status_quo: str
    metric: MetricSummary
    rule: RuleSummary | None
    subsidy_micros: int
    sponsor_account_id: int
    branches: tuple[BranchReport, ...]
    decision: DecisionSummary
    settlement: SettlementSummary | None
    chart: ChartSpan
    flags: tuple[Flag, ...]
    total_trades: int
    has_trades: bool
