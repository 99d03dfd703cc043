"""The report of one simulation backtest (issue 14): an HTML page and a Markdown summary.

Input: the plain, JSON-able dict the simulator's ``run_one`` returns for one scenario
(schema ``backtest-result/1``): the scenario and its seeds, each branch's true expected
welfare, and per mechanism (futarchy in its modes, and the baselines) the share of runs
that picked the best branch, the regret, and for futarchy the estimate errors, the speed
of convergence, the market maker's loss against its bound, each agent type's P&L and the
estimated effects; the mean price paths; and, when swept, the manipulation curve. Every
``{"mean", "lo", "hi"}`` is a mean over runs with its 95 % confidence interval over seeds.
Keys the report does not use (``per_run``, say) are ignored, and a missing optional key
reads as null.

`read_backtest` checks that dict and turns it into a `Backtest` (frozen dataclasses);
`backtest_charts` draws its charts with matplotlib's SVG backend exactly as
`reports.charts` does (same figure context, same id prefixing, ``<title>``/``<desc>``,
colour-blind-safe colours, branches also told apart by marker); `render_backtest_html`
writes one self-contained page (autoescaped Jinja2, ``backtest.html.j2``, the inline
styles of `reports.render_html`: no script, no link, nothing fetched);
`render_backtest_md` writes the summary as Markdown.

Every figure is written by `num` (3 significant digits), `signed`, `prob` (3 decimals),
`ci` and `prob_ci`, the same in the page, its charts' descriptions and the Markdown, so
one input gives the same text everywhere, and the same bytes every time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined

from db import canonical
from db.errors import InvalidInputError
from reports.charts import COLOURS, STATUS_QUO_COLOUR, Chart, _figure, _label, _svg
from reports.render_html import CSS
from reports.render_md import escape_md

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SCHEMA: Final = "backtest-result/1"
"""The only input schema this module reads."""

KINDS: Final = ("futarchy", "baseline")
AGENT_TYPES: Final = ("informed", "insider", "noise", "manipulator")
"""The agent types in the order the report lists them (others follow, sorted)."""

MARKERS: Final = ("o", "s", "^", "D", "v", "P")
"""Per-branch markers, so branches differ by shape as well as colour."""

FUTARCHY_COLOUR: Final = COLOURS[0]
BASELINE_COLOUR: Final = STATUS_QUO_COLOUR

LIMITS: Final = (
    (
        "This is a stylised model, so read its figures as how the mechanisms behave if the "
        "world were like this scenario, not as a forecast of how they would do in the real one."
    ),
    (
        "The traders' signals are drawn from the scenario, not from the world: the simulator "
        "knows every branch's true welfare, and the agents see only what the scenario's model "
        "of information gives them."
    ),
    (
        "Agents follow fixed rules (informed, insiders, noise traders, a manipulator): they do not "
        "learn, adapt or collude beyond what the scenario scripts."
    ),
    (
        "The confidence intervals are over seeds only: they measure the simulation's own sampling "
        "noise for this one scenario, not uncertainty about the scenario's parameters. Another "
        "scenario can rank the mechanisms differently."
    ),
)
"""The "what this cannot tell you" paragraph, sentence by sentence (HTML and Markdown)."""

EXTRA_CSS: Final = """
details { margin: 0.75rem 0; }
summary { cursor: pointer; font-weight: 600; }
pre.json { white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-all;
  font-size: 0.8rem; background: #f5f5f5; padding: 0.5rem; }
td ul.plain { list-style: none; padding-left: 0; }
""".strip()


# --- figures -------------------------------------------------------------------------------


def num(x: float | None) -> str:
    """A figure to 3 significant digits, fixed-point for ``1e-4 ≤ |x| < 1e6``.

    ``55 → "55.0"``, ``0.4 → "0.400"``, ``-0.0123 → "-0.0123"``, ``1234.5 → "1234"`` (a
    number with more integer digits keeps them), ``9.996 → "10.0"``, ``0 → "0"``; outside that
    range in exponent form, ``1.23e+07``. None → ``"—"``, NaN → ``"n/a"``.
    """
    if x is None:
        return "—"
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    rounded = float(f"{x:.2e}")  # to 3 significant digits first: 9.996 carries to 10.0
    if rounded == 0:
        return "0"
    exponent = math.floor(math.log10(abs(rounded)))
    if exponent < -4 or exponent >= 6:
        return f"{rounded:.2e}"
    return f"{x:.{max(0, 2 - exponent)}f}"


def signed(x: float | None) -> str:
    """`num` with an explicit ``+`` on a positive figure: ``0.5 → "+0.500"``."""
    text = num(x)
    return "+" + text if x is not None and x > 0 and text != "0" else text


def prob(p: float | None) -> str:
    """A probability, share or fraction to 3 decimals: ``0.91 → "0.910"``; None → ``"—"``."""
    if p is None:
        return "—"
    return "n/a" if math.isnan(p) else f"{p:.3f}"


@dataclass(frozen=True)
class Estimate:
    """A mean over runs with its 95 % confidence interval over seeds (``lo ≤ mean ≤ hi``
    when the simulator computed it; the report draws whatever it is given)."""

    mean: float
    lo: float
    hi: float


def ci(e: Estimate | None) -> str:
    """``"mean [lo, hi]"`` with `num`: ``"0.400 [0.200, 0.600]"``; None → ``"—"``."""
    return "—" if e is None else f"{num(e.mean)} [{num(e.lo)}, {num(e.hi)}]"


def signed_ci(e: Estimate | None) -> str:
    """``"mean [lo, hi]"`` with `signed`: ``"+0.100 [-0.200, +0.400]"``; None → ``"—"``."""
    return "—" if e is None else f"{signed(e.mean)} [{signed(e.lo)}, {signed(e.hi)}]"


def prob_ci(e: Estimate | None) -> str:
    """``"mean [lo, hi]"`` with `prob`: ``"0.910 [0.870, 0.940]"``; None → ``"—"``."""
    return "—" if e is None else f"{prob(e.mean)} [{prob(e.lo)}, {prob(e.hi)}]"


FILTERS: Final[dict[str, Callable[..., str]]] = {
    "num": num,
    "signed": signed,
    "prob": prob,
    "ci": ci,
    "signed_ci": signed_ci,
    "prob_ci": prob_ci,
}
"""The Jinja2 filters of the backtest template."""


# --- the read model ------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """One estimated causal effect: adopting ``branch`` instead of the status quo.

    Attributes:
        branch: the branch index.
        estimate: the estimated effect (welfare units).
        truth: the true effect, ``true_welfare[branch] − true_welfare[status quo]``.
        sign_agreement: the share of runs whose estimate has the true effect's sign.
    """

    branch: int
    estimate: Estimate
    truth: float
    sign_agreement: Estimate | None


@dataclass(frozen=True)
class Mechanism:
    """One decision mechanism's results (the ``mechanisms`` entry named ``key``).

    Attributes:
        key: its key in the input (``futarchy``, ``majority``, …).
        label: its name for people.
        kind: ``futarchy`` or ``baseline``.
        p_best: the share of runs that chose the best branch (probability).
        regret: the best branch's true welfare minus the chosen one's (welfare units).
        chosen_share: per branch, the share of runs that chose it (sums to 1), or None.
        estimate_error: per branch, estimate − truth (welfare units), or None.
        convergence: per branch, the fraction of trading time until the price settled.
        maker_loss_ratio: the market maker's realised loss over its bound ``b ln n``.
        pnl: each agent type's P&L per agent (cash units), in `AGENT_TYPES` order.
        effects: the estimated effects (`Effect`), or None.
    """

    key: str
    label: str
    kind: str
    p_best: Estimate
    regret: Estimate
    chosen_share: tuple[float, ...] | None
    estimate_error: tuple[Estimate, ...] | None
    convergence: tuple[Estimate, ...] | None
    maker_loss_ratio: Estimate | None
    pnl: tuple[tuple[str, Estimate], ...] | None
    effects: tuple[Effect, ...] | None

    @property
    def is_futarchy(self) -> bool:
        """Whether it is a futarchy mode (markets decide) rather than a baseline."""
        return self.kind == "futarchy"


@dataclass(frozen=True)
class PricePath:
    """The mean price path of one futarchy mechanism, read as expected welfare.

    Attributes:
        key: the mechanism's key.
        label: the mechanism's label.
        times: fractions of the trading time, ``0 ≤ t ≤ 1``.
        mean: per branch, per time, the mean expected welfare over runs (welfare units).
        lo: the same, the low edge of its band, or None.
        hi: the same, the high edge, or None.
    """

    key: str
    label: str
    times: tuple[float, ...]
    mean: tuple[tuple[float, ...], ...]
    lo: tuple[tuple[float, ...], ...] | None
    hi: tuple[tuple[float, ...], ...] | None


@dataclass(frozen=True)
class Manipulation:
    """The manipulation sweep: how often a manipulator flips the decision, by budget.

    Attributes:
        target: the branch the manipulator pushes.
        budgets: its budgets, in ``unit``.
        unit: what a budget is measured in (``multiple of the subsidy``).
        flip_rate: per budget, the share of runs whose decision it flipped.
        cost_to_flip: the budget at which it flips the decision, or None if never.
    """

    target: int
    budgets: tuple[float, ...]
    unit: str
    flip_rate: tuple[float, ...]
    cost_to_flip: float | None


@dataclass(frozen=True)
class Backtest:
    """One backtest result, checked and ready to render.

    Attributes:
        scenario_id: the scenario's content hash (64 hex digits).
        name: the scenario's name.
        scenario_json: the scenario as canonical JSON (`db.canonical.encode`).
        scenario_digest: SHA-256 of that text.
        runs: the number of runs.
        engine: ``exact`` or ``fast``.
        entropy: the root seed entropy, as text (an integer or a list of them).
        blocks: the seed blocks, ``(block, first_run, runs)``.
        branches: the branch names.
        status_quo_index: the status quo's index.
        true_welfare: each branch's causal expected welfare (welfare units).
        best_branch: the index of the best branch.
        unit: the welfare unit (``"welfare units"`` when the input has none).
        mechanisms: the mechanisms, in the input's order.
        price_paths: the futarchy mechanisms' mean price paths, in the input's order.
        manipulation: the manipulation sweep, or None.
    """

    scenario_id: str
    name: str
    scenario_json: str
    scenario_digest: str
    runs: int
    engine: str
    entropy: str
    blocks: tuple[tuple[int, int, int], ...]
    branches: tuple[str, ...]
    status_quo_index: int
    true_welfare: tuple[float, ...]
    best_branch: int
    unit: str
    mechanisms: tuple[Mechanism, ...]
    price_paths: tuple[PricePath, ...]
    manipulation: Manipulation | None

    @property
    def short_id(self) -> str:
        """The scenario id's first 12 hex digits."""
        return self.scenario_id[:12]

    @property
    def effects(self) -> tuple[Mechanism, ...]:
        """The mechanisms that estimated effects (the confounding section)."""
        return tuple(m for m in self.mechanisms if m.effects)

    @property
    def with_estimates(self) -> tuple[Mechanism, ...]:
        """The mechanisms with estimate errors or convergence figures."""
        return tuple(
            m for m in self.mechanisms if m.estimate_error is not None or m.convergence is not None
        )


def _bad(where: str, what: str) -> InvalidInputError:
    return InvalidInputError(f"backtest result: {where} {what}")


def _required(m: Mapping[str, Any], key: str, where: str) -> Any:
    value = m.get(key)
    if value is None:
        raise _bad(f"{where}.{key}", "is missing")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(where, "must be an object")
    return value


def _list(value: Any, where: str, length: int | None = None) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _bad(where, "must be a list")
    if length is not None and len(value) != length:
        raise _bad(where, f"must have {length} items, not {len(value)}")
    return value


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(where, f"must be a number, not {value!r}")
    return float(value)


def _int(value: Any, where: str, below: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, f"must be an integer, not {value!r}")
    if value < 0 or (below is not None and value >= below):
        raise _bad(where, f"is out of range: {value}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, "must be text")
    return value


def _floats(value: Any, where: str, length: int | None = None) -> tuple[float, ...]:
    items = _list(value, where, length)
    return tuple(_float(x, f"{where}[{i}]") for i, x in enumerate(items))


def _estimate(value: Any, where: str) -> Estimate:
    m = _mapping(value, where)
    return Estimate(
        _float(m.get("mean"), f"{where}.mean"),
        _float(m.get("lo"), f"{where}.lo"),
        _float(m.get("hi"), f"{where}.hi"),
    )


def _optional_estimate(value: Any, where: str) -> Estimate | None:
    return None if value is None else _estimate(value, where)


def _estimates(value: Any, where: str, n: int) -> tuple[Estimate, ...] | None:
    if value is None:
        return None
    items = _list(value, where, n)
    return tuple(_estimate(x, f"{where}[{j}]") for j, x in enumerate(items))


def _pnl(value: Any, where: str) -> tuple[tuple[str, Estimate], ...] | None:
    if value is None:
        return None
    m = _mapping(value, where)
    known = [k for k in AGENT_TYPES if m.get(k) is not None]
    others = sorted(k for k in m if k not in AGENT_TYPES and m[k] is not None)
    return tuple((k, _estimate(m[k], f"{where}.{k}")) for k in known + others)


def _effects(value: Any, where: str, n: int) -> tuple[Effect, ...] | None:
    if value is None:
        return None
    effects = []
    for i, item in enumerate(_list(value, where)):
        here = f"{where}[{i}]"
        e = _mapping(item, here)
        effects.append(
            Effect(
                branch=_int(_required(e, "branch", here), f"{here}.branch", n),
                estimate=_estimate(_required(e, "estimate", here), f"{here}.estimate"),
                truth=_float(_required(e, "true", here), f"{here}.true"),
                sign_agreement=_optional_estimate(
                    e.get("sign_agreement"), f"{here}.sign_agreement"
                ),
            )
        )
    return tuple(effects)


def _mechanism(key: str, value: Any, n: int) -> Mechanism:
    where = f"mechanisms.{key}"
    m = _mapping(value, where)
    kind = _text(_required(m, "kind", where), f"{where}.kind")
    if kind not in KINDS:
        raise _bad(f"{where}.kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    shares = m.get("chosen_share")
    return Mechanism(
        key=key,
        label=_text(m.get("label") or key, f"{where}.label"),
        kind=kind,
        p_best=_estimate(_required(m, "p_best", where), f"{where}.p_best"),
        regret=_estimate(_required(m, "regret", where), f"{where}.regret"),
        chosen_share=None if shares is None else _floats(shares, f"{where}.chosen_share", n),
        estimate_error=_estimates(m.get("estimate_error"), f"{where}.estimate_error", n),
        convergence=_estimates(m.get("convergence"), f"{where}.convergence", n),
        maker_loss_ratio=_optional_estimate(m.get("maker_loss_ratio"), f"{where}.maker_loss_ratio"),
        pnl=_pnl(m.get("pnl_by_type"), f"{where}.pnl_by_type"),
        effects=_effects(m.get("effect_estimate"), f"{where}.effect_estimate", n),
    )


def _per_branch(value: Any, where: str, times: int, n: int) -> tuple[tuple[float, ...], ...]:
    """``[time][branch]`` in the input → ``[branch][time]``."""
    rows = _list(value, where, times)
    table = [_floats(row, f"{where}[{t}]", n) for t, row in enumerate(rows)]
    return tuple(tuple(row[j] for row in table) for j in range(n))


def _price_path(key: str, value: Any, n: int, labels: Mapping[str, str]) -> PricePath:
    where = f"price_paths.{key}"
    m = _mapping(value, where)
    times = _floats(_required(m, "times", where), f"{where}.times")
    lo, hi = m.get("lo"), m.get("hi")
    return PricePath(
        key=key,
        label=labels.get(key, key),
        times=times,
        mean=_per_branch(_required(m, "mean", where), f"{where}.mean", len(times), n),
        lo=None if lo is None else _per_branch(lo, f"{where}.lo", len(times), n),
        hi=None if hi is None else _per_branch(hi, f"{where}.hi", len(times), n),
    )


def _manipulation(value: Any, n: int) -> Manipulation | None:
    if value is None:
        return None
    where = "manipulation"
    m = _mapping(value, where)
    budgets = _floats(_required(m, "budgets", where), f"{where}.budgets")
    cost = m.get("cost_to_flip")
    return Manipulation(
        target=_int(_required(m, "target", where), f"{where}.target", n),
        budgets=budgets,
        unit=_text(m.get("unit") or "", f"{where}.unit"),
        flip_rate=_floats(_required(m, "flip_rate", where), f"{where}.flip_rate", len(budgets)),
        cost_to_flip=None if cost is None else _float(cost, f"{where}.cost_to_flip"),
    )


def _block(value: Any, where: str) -> tuple[int, int, int]:
    m = _mapping(value, where)
    return (
        _int(_required(m, "block", where), f"{where}.block"),
        _int(_required(m, "first_run", where), f"{where}.first_run"),
        _int(_required(m, "runs", where), f"{where}.runs"),
    )


def _entropy(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(_int(x, f"seeds.entropy[{i}]")) for i, x in enumerate(value))
    return str(_int(value, "seeds.entropy"))


def read_backtest(result: Mapping[str, Any]) -> Backtest:
    """Check a ``backtest-result/1`` dict and turn it into a `Backtest`.

    Invariants checked: every per-branch list has one item per branch; indices (status
    quo, best branch, effect branches, manipulation target) name a branch; every
    ``{"mean", "lo", "hi"}`` holds three numbers; the price paths have one row per time.

    Raises:
        InvalidInputError: the schema is not ``backtest-result/1`` or the dict breaks the
            contract (the message names the key).
    """
    result = _mapping(result, "the result")
    schema = result.get("schema")
    if schema != SCHEMA:
        raise _bad("schema", f"must be {SCHEMA!r}, not {schema!r}")
    here = "result"
    branches = tuple(
        _text(b, f"branches[{j}]")
        for j, b in enumerate(_list(_required(result, "branches", here), "branches"))
    )
    n = len(branches)
    if n < 2:
        raise _bad("branches", "must name at least two branches")
    scenario_id = _text(_required(result, "scenario_id", here), "scenario_id")
    scenario = result.get("scenario")
    scenario_json = canonical.encode(scenario if scenario is not None else {})
    seeds = _mapping(_required(result, "seeds", here), "seeds")
    blocks = tuple(
        _block(b, f"seeds.blocks[{i}]")
        for i, b in enumerate(_list(seeds.get("blocks") or [], "seeds.blocks"))
    )
    mechanisms_in = _mapping(_required(result, "mechanisms", here), "mechanisms")
    mechanisms = tuple(_mechanism(str(k), v, n) for k, v in mechanisms_in.items())
    labels = {m.key: m.label for m in mechanisms}
    paths_in = _mapping(result.get("price_paths") or {}, "price_paths")
    return Backtest(
        scenario_id=scenario_id,
        name=_text(result.get("name") or "", "name"),
        scenario_json=scenario_json,
        scenario_digest=canonical.digest(scenario if scenario is not None else {}),
        runs=_int(_required(result, "runs", here), "runs"),
        engine=_text(_required(result, "engine", here), "engine"),
        entropy=_entropy(_required(seeds, "entropy", "seeds")),
        blocks=blocks,
        branches=branches,
        status_quo_index=_int(_required(result, "status_quo_index", here), "status_quo_index", n),
        true_welfare=_floats(_required(result, "true_welfare", here), "true_welfare", n),
        best_branch=_int(_required(result, "best_branch", here), "best_branch", n),
        unit=_text(result.get("welfare_unit") or "", "welfare_unit") or "welfare units",
        mechanisms=mechanisms,
        price_paths=tuple(
            _price_path(str(k), v, n, labels) for k, v in paths_in.items() if v is not None
        ),
        manipulation=_manipulation(result.get("manipulation"), n),
    )


# --- charts --------------------------------------------------------------------------------


def _branch_style(bt: Backtest, j: int) -> tuple[str, str]:
    """A branch's colour and marker: the status quo grey, the others the report's colours."""
    if j == bt.status_quo_index:
        return STATUS_QUO_COLOUR, MARKERS[j % len(MARKERS)]
    return COLOURS[j % len(COLOURS)], MARKERS[j % len(MARKERS)]


def _errors(estimates: Sequence[Estimate]) -> list[list[float]]:
    """matplotlib's asymmetric error bars: distances below and above the mean (never
    negative, which matplotlib refuses, if an interval does not contain its mean)."""
    return [
        [max(0.0, e.mean - e.lo) for e in estimates],
        [max(0.0, e.hi - e.mean) for e in estimates],
    ]


def _left_margin(labels: Sequence[str]) -> float:
    """Inches for the longest row label (about 0.085 in a character at 10.5 pt)."""
    longest = max((len(_label(s)) for s in labels), default=8)
    return 0.3 + 0.085 * longest


def _width(left: float) -> float:
    """A figure wide enough to keep 3.4 inches of plot beside its row labels."""
    return max(5.2, left + 3.65)


def _legend_below(ax: Axes, rows: int) -> None:
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16 - 0.02 * rows),
        ncols=3,
        frameon=False,
        fontsize=9.5,
    )


def _interval_chart(
    bt: Backtest,
    name: str,
    title: str,
    axis_label: str,
    pick: Callable[[Mechanism], Estimate],
    write: Callable[[Estimate | None], str],
    bounds: tuple[float, float] | None,
) -> Chart:
    """One point with its interval per mechanism, futarchy modes in blue circles and
    baselines in grey squares, mechanisms top to bottom in the input's order."""
    from matplotlib.lines import Line2D

    mechanisms = bt.mechanisms
    n = len(mechanisms)
    left = _left_margin([m.label for m in mechanisms])
    bottom = 0.85
    with _figure(_width(left), 0.4 + 0.38 * n + bottom, (left, 0.25, 0.15, bottom)) as figure:
        ax = figure.add_subplot()
        for is_futarchy, colour, marker in (
            (True, FUTARCHY_COLOUR, "o"),
            (False, BASELINE_COLOUR, "s"),
        ):
            rows = [(i, m) for i, m in enumerate(mechanisms) if m.is_futarchy == is_futarchy]
            if not rows:
                continue
            estimates = [pick(m) for _, m in rows]
            ax.errorbar(
                [e.mean for e in estimates],
                [n - 1 - i for i, _ in rows],
                xerr=_errors(estimates),
                fmt=marker,
                color=colour,
                ecolor=colour,
                elinewidth=1.6,
                capsize=4,
                markersize=7,
            )
        ax.set_yticks(range(n), [_label(m.label) for m in reversed(mechanisms)])
        ax.set_ylim(-0.6, n - 0.4)
        if bounds is not None:
            ax.set_xlim(*bounds)
        ax.set_xlabel(_label(axis_label))
        ax.grid(axis="x", color="#DDDDDD", linewidth=0.8)
        ax.set_axisbelow(True)
        key = [
            Line2D([], [], marker="o", color=FUTARCHY_COLOUR, linestyle="none", label="futarchy"),
            Line2D([], [], marker="s", color=BASELINE_COLOUR, linestyle="none", label="baseline"),
        ]
        figure.legend(
            handles=key,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.0),
            ncols=2,
            frameon=False,
            fontsize=9.5,
        )
        parts = [f"{m.label}: {write(pick(m))}" for m in mechanisms]
        description = f"{title}, mean [95 % CI]. " + "; ".join(parts) + "."
        return _svg(figure, name, title, description)


def p_best_chart(bt: Backtest) -> Chart:
    """Chart 1: each mechanism's probability of choosing the best branch, with its CI."""
    best = bt.branches[bt.best_branch]
    return _interval_chart(
        bt,
        "pbest",
        f"Probability of choosing the best branch ({best}) per mechanism",
        "P(best branch)",
        lambda m: m.p_best,
        prob_ci,
        (-0.02, 1.02),
    )


def regret_chart(bt: Backtest) -> Chart:
    """Chart 2: each mechanism's mean regret (welfare units), with its CI."""
    top = max((max(m.regret.hi, m.regret.mean) for m in bt.mechanisms), default=0.0)
    low = min((min(m.regret.lo, m.regret.mean) for m in bt.mechanisms), default=0.0)
    span = max(top - min(low, 0.0), 1e-9)
    return _interval_chart(
        bt,
        "regret",
        f"Mean regret per mechanism ({bt.unit})",
        f"regret ({bt.unit})",
        lambda m: m.regret,
        ci,
        (min(low, 0.0) - 0.04 * span, top + 0.06 * span),
    )


def price_path_chart(bt: Backtest, path: PricePath, position: int) -> Chart:
    """Chart 3 (one per futarchy mechanism): each branch's mean expected welfare over the
    trading time, its band lo..hi shaded, and its true expected welfare dashed."""
    title = f"Mean expected welfare per branch over trading time: {path.label} ({bt.unit})"
    n = len(bt.branches)
    rows = -(-n // 3)
    parts = []
    with _figure(5.2, 3.1 + 0.22 * rows, (0.8, 0.2, 0.15, 0.6 + 0.22 * rows)) as figure:
        ax = figure.add_subplot()
        every = max(1, len(path.times) // 6)
        for j, branch in enumerate(bt.branches):
            colour, marker = _branch_style(bt, j)
            if path.lo is not None and path.hi is not None:
                ax.fill_between(
                    path.times, path.lo[j], path.hi[j], color=colour, alpha=0.15, linewidth=0
                )
            ax.plot(
                path.times,
                path.mean[j],
                color=colour,
                linewidth=1.6,
                marker=marker,
                markevery=every,
                markersize=5,
                label=_label(branch),
            )
            ax.axhline(bt.true_welfare[j], color=colour, linestyle="--", linewidth=1.1)
            if path.times:
                band = ""
                if path.lo is not None and path.hi is not None:
                    band = f" (band {num(path.lo[j][-1])} to {num(path.hi[j][-1])})"
                parts.append(
                    f"{branch}: from {num(path.mean[j][0])} to {num(path.mean[j][-1])}{band}, "
                    f"true {num(bt.true_welfare[j])}"
                )
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("fraction of the trading time")
        ax.set_ylabel(f"expected welfare ({_label(bt.unit)})")
        _legend_below(ax, rows)
        description = (
            f"{title}. Solid lines: the mean over runs, shaded: its band; dashed: the true "
            "expected welfare. " + "; ".join(parts) + "."
        )
        return _svg(figure, f"path{position}", title, description)


def estimate_error_chart(bt: Backtest) -> Chart | None:
    """Chart 4: each futarchy mechanism's estimate − truth per branch, with its CI (None
    when no mechanism has estimates)."""
    mechanisms = [m for m in bt.mechanisms if m.estimate_error is not None]
    if not mechanisms:
        return None
    title = f"Estimate error (estimate − truth) per branch and mechanism ({bt.unit})"
    n, count = len(bt.branches), len(mechanisms)
    rows = -(-n // 3)
    left = _left_margin([m.label for m in mechanisms])
    bottom = 0.6 + 0.22 * rows
    step = 0.7 / n
    parts = []
    height = 0.4 + 0.25 * n * count + 0.2 * count + bottom
    with _figure(_width(left), height, (left, 0.25, 0.15, bottom)) as figure:
        ax = figure.add_subplot()
        for j, branch in enumerate(bt.branches):
            colour, marker = _branch_style(bt, j)
            estimates = [m.estimate_error[j] for m in mechanisms if m.estimate_error is not None]
            ys = [count - 1 - i + (n - 1 - 2 * j) * step / 2 for i in range(count)]
            ax.errorbar(
                [e.mean for e in estimates],
                ys,
                xerr=_errors(estimates),
                fmt=marker,
                color=colour,
                ecolor=colour,
                elinewidth=1.4,
                capsize=3,
                markersize=6,
                label=_label(branch),
            )
        for m in mechanisms:
            assert m.estimate_error is not None  # narrowing: picked above
            parts.append(
                f"{m.label}: "
                + ", ".join(
                    f"{branch} {signed_ci(e)}"
                    for branch, e in zip(bt.branches, m.estimate_error, strict=True)
                )
            )
        ax.axvline(0.0, color="#000000", linewidth=1.0)
        ax.set_yticks(range(count), [_label(m.label) for m in reversed(mechanisms)])
        ax.set_ylim(-0.6, count - 0.4)
        ax.set_xlabel(f"estimate − truth ({_label(bt.unit)})")
        ax.grid(axis="x", color="#DDDDDD", linewidth=0.8)
        ax.set_axisbelow(True)
        figure.legend(
            loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=3, frameon=False, fontsize=9.5
        )
        description = (
            f"{title}, mean [95 % CI]; zero is a perfect estimate. " + "; ".join(parts) + "."
        )
        return _svg(figure, "error", title, description)


def manipulation_chart(bt: Backtest) -> Chart | None:
    """Chart 5: the share of runs whose decision a manipulator flipped, against its budget,
    the cost to flip marked (None without a manipulation sweep)."""
    sweep = bt.manipulation
    if sweep is None:
        return None
    target = bt.branches[sweep.target]
    unit = sweep.unit or "cash"
    title = f"Flip rate against the manipulator's budget (target: {target})"
    with _figure(5.2, 3.2, (0.8, 0.25, 0.15, 0.7)) as figure:
        ax = figure.add_subplot()
        ax.plot(sweep.budgets, sweep.flip_rate, color=COLOURS[3], marker="o", linewidth=1.8)
        cost = ""
        if sweep.cost_to_flip is not None:
            ax.axvline(sweep.cost_to_flip, color="#000000", linestyle="--", linewidth=1.2)
            # the label sits at the top, on the side of the line with more room
            budgets = sweep.budgets or (0.0,)
            right = sweep.cost_to_flip > (min(budgets) + max(budgets)) / 2
            label = f"cost to flip {num(sweep.cost_to_flip)}"
            ax.text(
                sweep.cost_to_flip,
                1.0,
                f"{label}  " if right else f"  {label}",
                color="#000000",
                fontsize=9.5,
                va="top",
                ha="right" if right else "left",
            )
            cost = f" The cost to flip is {num(sweep.cost_to_flip)} ({unit})."
        else:
            cost = " No budget in the sweep flipped the decision."
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"budget ({_label(unit)})")
        ax.set_ylabel("flip rate")
        ax.grid(color="#DDDDDD", linewidth=0.8)
        ax.set_axisbelow(True)
        points = "; ".join(
            f"budget {num(b)}: {prob(f)}"
            for b, f in zip(sweep.budgets, sweep.flip_rate, strict=True)
        )
        description = f"{title}, budget in {unit}. {points}.{cost}"
        return _svg(figure, "manipulation", title, description)


def backtest_charts(bt: Backtest) -> tuple[Chart, ...]:
    """The report's charts in its order: P(best), regret, one price-path chart per futarchy
    mechanism that has one, estimate error (if any), manipulation (if swept)."""
    charts = [p_best_chart(bt), regret_chart(bt)]
    charts += [price_path_chart(bt, p, i) for i, p in enumerate(bt.price_paths, start=1)]
    charts += [c for c in (estimate_error_chart(bt), manipulation_chart(bt)) if c is not None]
    return tuple(charts)


# --- renderings ----------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render_backtest_html(result: Mapping[str, Any]) -> str:
    """The backtest result as one self-contained HTML page (see the module docstring).

    Deterministic: the same result gives the same bytes.

    Raises:
        InvalidInputError: the result breaks the ``backtest-result/1`` contract.
    """
    bt = read_backtest(result)
    template = _environment().get_template("backtest.html.j2")
    return template.render(
        bt=bt,
        charts=backtest_charts(bt),
        limits=LIMITS,
        css=CSS + "\n" + EXTRA_CSS,
        schema=SCHEMA,
    )


def _summary_cells(bt: Backtest, m: Mechanism) -> list[str]:
    """One summary row's cells after the label (plain text, as both renderings write)."""
    pnl = "; ".join(f"{kind} {ci(e)}" for kind, e in m.pnl) if m.pnl else "—"
    return [
        m.kind,
        prob_ci(m.p_best),
        ci(m.regret),
        ci(m.maker_loss_ratio) if m.is_futarchy else "—",
        pnl if m.is_futarchy else "—",
    ]


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_backtest_md(result: Mapping[str, Any]) -> str:
    """The backtest result as a Markdown summary: the branches, one row per mechanism
    (P(best), regret, maker loss over bound, P&L by agent type, each with its CI), the
    manipulation sweep and the estimated effects when present, and the model's limits.
    People's text goes through `reports.render_md.escape_md`.

    Raises:
        InvalidInputError: the result breaks the ``backtest-result/1`` contract.
    """
    bt = read_backtest(result)
    unit = escape_md(bt.unit)
    lines = [
        f"# Backtest: {escape_md(bt.name)}",
        "",
        (
            f"Scenario `{bt.short_id}` · {bt.runs} runs · engine {escape_md(bt.engine)} · "
            f"seed entropy {bt.entropy}"
        ),
        "",
        "## Branches",
        "",
        _md_row(["Branch", f"True expected welfare ({unit})"]),
        "|---|---:|",
    ]
    for j, branch in enumerate(bt.branches):
        tags = (" (status quo)" if j == bt.status_quo_index else "") + (
            " (best)" if j == bt.best_branch else ""
        )
        lines.append(_md_row([escape_md(branch) + tags, num(bt.true_welfare[j])]))
    lines += [
        "",
        "## Results per mechanism",
        "",
        "Mean over runs [95 % confidence interval over seeds].",
        "",
        _md_row(
            [
                "Mechanism",
                "Kind",
                "P(best)",
                f"Mean regret ({unit})",
                "Maker loss / bound",
                "P&L by agent type (cash)",
            ]
        ),
        "|---|---|---:|---:|---:|---|",
    ]
    lines += [_md_row([escape_md(m.label), *_summary_cells(bt, m)]) for m in bt.mechanisms]
    if bt.manipulation is not None:
        sweep = bt.manipulation
        budget_unit = escape_md(sweep.unit or "cash")
        cost = "never flipped" if sweep.cost_to_flip is None else num(sweep.cost_to_flip)
        target = escape_md(bt.branches[sweep.target])
        lines += [
            "",
            "## Manipulation",
            "",
            f"Target: {target}. Cost to flip: {cost} ({budget_unit}).",
            "",
            _md_row([f"Budget ({budget_unit})", "Flip rate"]),
            "|---:|---:|",
        ]
        lines += [
            _md_row([num(b), prob(f)]) for b, f in zip(sweep.budgets, sweep.flip_rate, strict=True)
        ]
    if bt.effects:
        lines += [
            "",
            "## Confounding: estimated against true effects",
            "",
            _md_row(
                [
                    "Mechanism",
                    "Branch",
                    f"Estimated effect ({unit})",
                    "True effect",
                    "Sign agreement",
                ]
            ),
            "|---|---|---:|---:|---:|",
        ]
        for m in bt.effects:
            for e in m.effects or ():
                lines.append(
                    _md_row(
                        [
                            escape_md(m.label),
                            escape_md(bt.branches[e.branch]),
                            signed_ci(e.estimate),
                            signed(e.truth),
                            prob_ci(e.sign_agreement),
                        ]
                    )
                )
    lines += ["", "## What this cannot tell you", "", " ".join(LIMITS), ""]
    return "\n".join(lines)
