"""``futarchy backtest …``: simulation backtests of the decision rule.

`register` adds the ``backtest`` group to the `futarchy` Typer app (`api.cli`)::

    futarchy backtest run SCENARIO --out DIR [--runs N] [--engine exact|fast] [--jobs J]
                                             [--no-cache]
    futarchy backtest sweep GRID --out DIR [--jobs J] [--no-cache]
    futarchy backtest replay PROPOSAL [--window S] [--interval S] [--cap C] [--delta D]
                                      [--epsilon E] [--mode none|ipw|randomised_only]
                                      [--format text|json]

``run`` and ``sweep`` run scenarios (`sim.scenario`, `sim.grid`) on a local process pool
with a Rich progress bar per block of runs (on stderr), write ``DIR/<scenario id>.json``
(the result, `sim.backtest.merge`) and ``DIR/<scenario id>.html`` (`reports.backtest`), list
them in ``DIR/index.json``, keep
finished blocks in ``DIR/cache/`` so a rerun skips them, and end with a summary table. A
scenario or grid that does not validate is refused naming the field.

``replay`` recomputes a real proposal's averages and decision from its recorded trades
under its own rule with the given fields changed (`sim.replay`): what would another rule
have decided, and by what margin? Text is a table of each branch's recorded and replayed
average and one line each for the recorded and the replayed decision; JSON is
`sim.replay.Replay.to_dict` (every float exact).

A refusal (an unknown proposal, an override out of range, named by its option) is one line
on stderr, ``error: …``, exit 1; a command line that does not parse (a bad ``--format``, a
proposal id that is not a positive whole number, a number that is not one) exits 2, as
every ``futarchy`` command does.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from api.params import MAX_ID
from db.errors import FutarchyError
from db.session import Database
from db.settings import Settings, get_settings
from market.decision import DecisionRule, InvalidDecisionRule
from sim.backtest import manipulation_specs, sweep
from sim.grid import load_grid
from sim.replay import Overrides, Replay, replay_proposal
from sim.scenario import MAX_RUNS, Scenario, ScenarioError, load
from sim.world import blocks

backtest_app = typer.Typer(
    name="backtest",
    help=(
        "Simulation backtests: run a scenario, sweep a grid, or replay a proposal's "
        "recorded trades under another rule."
    ),
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
]

OPTION_OF: Final = {
    "window_seconds": "--window",
    "interval_seconds": "--interval",
    "cap": "--cap",
    "threshold": "--delta",
    "epsilon": "--epsilon",
    "exploration_mode": "--mode",
}
"""The command-line option of each `DecisionRule` field, to name it in a refusal."""


class Format(enum.StrEnum):
    """The renderings of a replay."""

    TEXT = "text"
    JSON = "json"


class Mode(enum.StrEnum):
    """`market.decision.ExplorationMode`, as a command-line choice."""

    NONE = "none"
    IPW = "ipw"
    RANDOMISED_ONLY = "randomised_only"


def _database(database_url: str | None) -> Database:
    settings = Settings(database_url=database_url) if database_url else get_settings()
    return Database.from_settings(settings)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {_one_line(message)}", err=True)
    return typer.Exit(1)


# --- the text rendering ---------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _num(x: float) -> str:
    return f"{x:.8g}"


def rule_line(rule: DecisionRule, rule_hash: str) -> str:
    """``window 86400 s, interval 3600 s, cap 1, δ 0, ε 0 (none); hash 3f2a…``."""
    return (
        f"window {rule.window_seconds} s, interval {rule.interval_seconds} s, "
        f"cap {_num(rule.cap)}, δ {_num(rule.threshold)}, ε {_num(rule.epsilon)} "
        f"({rule.exploration_mode}); hash {rule_hash[:12]}…"
    )


def _choice(names: tuple[str, ...], sq: int, greedy: int, margin: float, threshold: float) -> str:
    """Why the greedy choice is what it is: ``margin > δ`` adopts the best alternative."""
    if greedy != sq:
        return (
            f"branch {greedy} {names[greedy]!r}: it beats the status quo by {_num(margin)}, "
            f"above δ {_num(threshold)}"
        )
    return (
        f"the status quo, branch {sq} {names[sq]!r}: the best alternative leads it by "
        f"{_num(margin)}, not above δ {_num(threshold)}"
    )


def recorded_line(r: Replay) -> str:
    """The recorded decision, or the would-be one under the recorded rule."""
    what = "recorded decision" if r.decided else "recorded rule, as it would decide now"
    why = _choice(
        r.branch_names,
        r.status_quo_index,
        r.recorded_greedy,
        r.recorded_margin,
        r.recorded_rule.threshold,
    )
    line = f"{what}: {why}"
    if r.recorded_executed is not None:
        line += f"; executed branch {r.recorded_executed}"
    return line


def replayed_line(r: Replay) -> str:
    """The replayed decision and whether the choice changed."""
    line = (
        "replayed decision: "
        f"{_choice(r.branch_names, r.status_quo_index, r.greedy, r.margin, r.rule.threshold)}"
    )
    if r.decision is not None:
        drawn = " (drawn from d with the revealed seed)" if r.rule.epsilon > 0 else ""
        line += f"; executed branch {r.decision.executed}{drawn}"
    else:
        d = ", ".join(_num(p) for p in r.distribution)
        line += f"; d = ({d}), the draw waits for the seed the decision reveals"
    return line + ("; the choice CHANGED" if r.changed else "; the same choice")


def render_text(r: Replay, console: Console) -> None:
    """The replay as a Rich table with a header and the two decision lines."""
    state = "decided" if r.decided else r.status
    console.print(
        f"proposal {r.proposal_id} {r.title!r} ({state}): {_count(r.trades, 'trade')} and "
        f"{_count(r.cranks, 'crank')} replayed",
        markup=False,
    )
    console.print(
        f"recorded rule: {rule_line(r.recorded_rule, r.recorded_rule_hash)}", markup=False
    )
    console.print(f"replayed rule: {rule_line(r.rule, r.rule_hash)}", markup=False)
    table = Table()
    table.add_column("branch")
    table.add_column("recorded average", justify="right")
    table.add_column("replayed average", justify="right")
    for b in r.branches:
        named = b.name.casefold() == "status quo"  # the demo names its status quo so
        label = f"{b.index} {b.name}" + (" (status quo)" if b.is_status_quo and not named else "")
        table.add_row(Text(label), _num(b.recorded_average), _num(b.replayed_average))
    console.print(table)
    console.print(recorded_line(r), markup=False)
    console.print(replayed_line(r), markup=False)


# --- the commands ---------------------------------------------------------------------------


@backtest_app.command("replay")
def replay_command(
    proposal: Annotated[
        int, typer.Argument(min=1, max=MAX_ID, help="The proposal.", show_default=False)
    ],
    window: Annotated[
        int | None,
        typer.Option("--window", help="Averaging window W, seconds.", show_default=False),
    ] = None,
    interval: Annotated[
        int | None,
        typer.Option("--interval", help="Observation interval I, seconds.", show_default=False),
    ] = None,
    cap: Annotated[
        float | None,
        typer.Option("--cap", help="Cap per interval, welfare units.", show_default=False),
    ] = None,
    delta: Annotated[
        float | None,
        typer.Option("--delta", help="Threshold δ, welfare units.", show_default=False),
    ] = None,
    epsilon: Annotated[
        float | None,
        typer.Option("--epsilon", help="Exploration ε, 0 ≤ ε < 1.", show_default=False),
    ] = None,
    mode: Annotated[
        Mode | None,
        typer.Option("--mode", help="Exploration mode (with ε > 0).", show_default=False),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="text or json.")] = Format.TEXT,
    database_url: DatabaseUrl = None,
) -> None:
    """Replay a proposal's recorded trades under its rule with the given fields changed.

    Each branch's recorded and replayed average, and both decisions; a field not given
    keeps its recorded value, so with no option the replay reproduces the record.
    """
    overrides = Overrides(
        window_seconds=window,
        interval_seconds=interval,
        cap=cap,
        threshold=delta,
        epsilon=epsilon,
        exploration_mode=None if mode is None else mode.value,
    )
    database = _database(database_url)
    try:
        with database.read() as session:
            result = replay_proposal(session, proposal, overrides)
    except InvalidDecisionRule as exc:
        raise _fail(f"{OPTION_OF.get(exc.field, exc.field)}: {exc}") from None
    except FutarchyError as exc:
        raise _fail(str(exc)) from None
    finally:
        database.dispose()
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
        return
    render_text(result, Console(soft_wrap=True, highlight=False))


# --- run and sweep --------------------------------------------------------------------------


class Engine(enum.StrEnum):
    """The simulator's engines (`sim.books`)."""

    EXACT = "exact"
    FAST = "fast"


def _ci(value: Mapping[str, float] | None) -> str:
    """``mean (lo–hi)`` to 3 significant digits, or a dash."""
    if value is None:
        return "–"
    return f"{value['mean']:.3g} ({value['lo']:.3g} to {value['hi']:.3g})"


def _summary_tables(results: list[dict[str, Any]]) -> list[Table]:
    """Per scenario, one row per mechanism: P(best), regret and the maker's loss over its
    bound with their 95% intervals, and the manipulator's cost to flip when searched."""
    tables = []
    for result in results:
        manip = result.get("manipulation")
        caption = None
        if manip is not None:
            cost = manip["cost_to_flip"]
            caption = (
                "cost to flip: "
                + ("not reached" if cost is None else f"{cost:.3g} × the subsidy")
                + f" (target {result['branches'][manip['target']]})"
            )
        table = Table(
            title=f"{result['name']} · {result['scenario_id'][:12]} · {result['runs']} runs",
            caption=caption,
        )
        table.add_column("mechanism")
        for column in ("P(best)", f"regret ({result['welfare_unit'] or 'welfare'})", "loss/bound"):
            table.add_column(column, justify="right")
        for mech in result["mechanisms"].values():
            table.add_row(
                mech["label"],
                _ci(mech["p_best"]),
                _ci(mech["regret"]),
                _ci(mech.get("maker_loss_ratio")),
            )
        tables.append(table)
    return tables


def _write_results(results: list[dict[str, Any]], out: Path) -> list[Path]:
    from reports.backtest import render_backtest_html

    written = []
    for result in results:
        stem = out / result["scenario_id"]
        json_path = stem.with_suffix(".json")
        json_path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", "utf-8")
        html_path = stem.with_suffix(".html")
        html_path.write_text(render_backtest_html(result), "utf-8")
        written += [json_path, html_path]
    return written


def _run_specs(specs: list[Scenario], out: Path, jobs: int, cache: bool) -> None:
    """Run scenarios with a progress bar per block, write their results, print a summary."""
    from concurrent.futures import ProcessPoolExecutor

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"cannot create {out}: {exc}") from None
    every = specs + [t for s in specs for t in manipulation_specs(s)]
    total = sum(blocks(s) for s in {s.id: s for s in every}.values())
    console = Console(stderr=True)
    with (
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
        ProcessPoolExecutor(max_workers=jobs) as pool,
    ):
        task = progress.add_task("blocks of runs", total=total)

        def advance(spec: Scenario, block: int, cached: bool) -> None:
            progress.advance(task)

        results = sweep(specs, pool, cache=out / "cache" if cache else None, progress=advance)
    written = _write_results(results, out)
    index = [
        {"scenario_id": r["scenario_id"], "name": r["name"], "runs": r["runs"]} for r in results
    ]
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n", "utf-8")
    console = Console(width=max(Console().width, 110))
    for table in _summary_tables(results):
        console.print(table)
    for path in written:
        typer.echo(f"wrote {path}")


JobsOption = Annotated[
    int,
    typer.Option("--jobs", min=0, max=256, help="Worker processes (0: one per core)."),
]


@backtest_app.command("run")
def run_command(
    scenario: Annotated[Path, typer.Argument(help="A scenario, .toml or .json.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for results and reports.")],
    runs: Annotated[
        int | None, typer.Option("--runs", min=1, max=MAX_RUNS, help="Override the runs.")
    ] = None,
    engine: Annotated[Engine | None, typer.Option("--engine", help="Override the engine.")] = None,
    jobs: JobsOption = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rerun finished blocks.")] = False,
) -> None:
    """Run one scenario: results as JSON and an HTML report in OUT, a summary on stdout."""
    try:
        spec = load(scenario)
        changes: dict[str, Any] = {}
        if runs is not None:
            changes["runs"] = runs
        if engine is not None:
            changes["engine"] = engine.value
        if changes:
            spec = spec.with_changes(**changes)
    except ScenarioError as exc:
        raise _fail(f"{scenario}: {exc}") from None
    _run_specs([spec], out, jobs or os.cpu_count() or 1, not no_cache)


@backtest_app.command("sweep")
def sweep_command(
    grid: Annotated[Path, typer.Argument(help="A grid: a base scenario and field values.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for results and reports.")],
    jobs: JobsOption = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rerun finished blocks.")] = False,
) -> None:
    """Run every combination of a grid: a result and a report per scenario in OUT."""
    try:
        specs = load_grid(grid)
    except ScenarioError as exc:
        raise _fail(f"{grid}: {exc}") from None
    _run_specs(specs, out, jobs or os.cpu_count() or 1, not no_cache)


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` group to the `futarchy` app."""
    app.add_typer(backtest_app, name="backtest")
