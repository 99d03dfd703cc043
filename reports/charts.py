"""The report's charts as inline SVG (matplotlib, object API, no pyplot, no network).

Three charts, each drawn only from the read model (`reports.model.PolicyReport`):

- `price_chart`: each branch's expected welfare over time (its price path, read through
  the welfare asset; for a LONG/SHORT asset the right axis shows the LONG price), the
  averaged line ``A`` over the decision window, and the window shaded;
- `welfare_chart`: each branch's averaged expected welfare with its band, today's value,
  the bar the best alternative must clear (the status quo's average plus ``δ``) and, after
  settlement, the measured welfare;
- `volume_chart`: volume over time, stacked by branch.

**Self-contained and deterministic.** Text stays text (``svg.fonttype = none``: no glyph
outlines, no embedded or fetched font; the page's own sans-serif draws it), the metadata
carries no date or creator, and the ids matplotlib derives from ``svg.hashsalt`` are fixed
and then prefixed with the chart's own name, so several charts live in one HTML page
without clashing ids, and the same read model always gives the same bytes.

**Accessible.** Each ``<svg>`` is ``role="img"`` with a ``<title>`` and a ``<desc>`` that
say what it shows in words and numbers (`Chart.title`, `Chart.description`); the tables
of the report carry every figure the charts draw. Colours are a colour-blind-safe set,
each at least 3:1 against white (WCAG 1.4.11), and branches also differ by line style.

matplotlib's global state (``rcParams``) is only touched inside ``rc_context`` under one
lock, so concurrent requests render one chart at a time and never see each other's
settings.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any, Final

from market.book import MICROS
from reports.model import BranchReport, PolicyReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLOURS: Final = ("#0072B2", "#B35900", "#007A5E", "#A23B72", "#5E4FA2", "#806000")
"""Branch colours (Okabe–Ito hues darkened to ≥ 3:1 on white); the status quo is grey."""

STATUS_QUO_COLOUR: Final = "#444444"
LINE_STYLES: Final = ("-", "--", "-.", ":")
WINDOW_SHADE: Final = "#E8E8E8"
LABEL_LIMIT: Final = 40
"""Branch names longer than this are shortened in the charts (the tables show them whole)."""

_RC: Final[Any] = {  # Any: matplotlib types the keys as a Literal of every rc name
    "svg.fonttype": "none",
    "date.epoch": "1970-01-01T00:00:00",  # so a date is its Unix time in days (`_dates`)
    "svg.hashsalt": "futarchy-policy-report",
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_METADATA: Final[dict[str, Any]] = {"Date": None, "Creator": None, "Format": None, "Type": None}
_LOCK = threading.Lock()
_HEAD = re.compile(r"\A.*?(<svg\b[^>]*>)", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


@dataclass(frozen=True)
class Chart:
    """One rendered chart.

    Attributes:
        name: a short id (``price``, ``welfare``, ``volume``), the prefix of its SVG ids.
        title: what it shows, in one line (its ``<title>``).
        description: its figures in words (its ``<desc>``).
        svg: the ``<svg>`` element, ready to inline in HTML.
    """

    name: str
    title: str
    description: str
    svg: str


@contextmanager
def _figure(
    width: float, height: float, margins: tuple[float, float, float, float]
) -> Iterator[Figure]:
    """A figure ``width × height`` inches whose axes leave ``(left, right, top, bottom)``
    inches of margin (fixed margins: a layout engine would draw every chart twice)."""
    import matplotlib
    from matplotlib.figure import Figure

    left, right, top, bottom = margins
    with _LOCK, matplotlib.rc_context(_RC):
        figure = Figure(figsize=(width, height))
        figure.subplots_adjust(
            left=left / width,
            right=1 - right / width,
            top=1 - top / height,
            bottom=bottom / height,
        )
        yield figure


def _label(name: str) -> str:
    """A branch name safe for a matplotlib label: ``$`` would start mathtext and a leading
    ``_`` hides a legend entry; long names are shortened."""
    text = name if len(name) <= LABEL_LIMIT else name[: LABEL_LIMIT - 1] + "…"
    text = text.replace("\\", "\\\\").replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def _style(branch: BranchReport, position: int) -> tuple[str, str]:
    if branch.is_status_quo:
        return STATUS_QUO_COLOUR, "-"
    return COLOURS[position % len(COLOURS)], LINE_STYLES[position % len(LINE_STYLES)]


def _g(x: float) -> str:
    return f"{x:.4g}"


def _svg(figure: Figure, name: str, title: str, description: str) -> Chart:
    """The figure as an inline ``<svg>`` with its title and description (see the module
    docstring for what is rewritten and why)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=_METADATA)
    raw = buffer.getvalue()
    head = _HEAD.match(raw)
    if head is None:  # pragma: no cover - matplotlib always writes one <svg> element
        raise RuntimeError("matplotlib wrote no <svg> element")
    opening = head.group(1)
    tag = re.sub(r'\s(width|height)="[^"]*"', "", opening)
    tag = tag.replace(
        "<svg ",
        f'<svg class="chart" role="img" aria-labelledby="{name}-title {name}-desc" ',
        1,
    )
    body = raw[head.end() :]
    body = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', body)
    body = _REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", body)
    svg = (
        f'{tag}\n <title id="{name}-title">{escape(title)}</title>\n'
        f' <desc id="{name}-desc">{escape(description)}</desc>{body}'
    )
    return Chart(name, title, description, svg.strip() + "\n")


def _dates(values: Sequence[datetime]) -> list[float]:
    """matplotlib's date numbers: days since the ``date.epoch`` of `_RC`, the Unix epoch."""
    return [v.timestamp() / 86_400.0 for v in values]


def _time_axis(ax: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    # matplotlib.dates ships without annotations
    locator = AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
    formatter = ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def _unit(report: PolicyReport) -> str:
    return report.metric.unit or "welfare units"


def price_chart(report: PolicyReport) -> Chart:
    """Each branch's expected welfare over time, its averaged line over the decision
    window, and the window shaded (see the module docstring)."""
    unit = _unit(report)
    title = f"Expected welfare of each branch over time ({unit})"
    parts = []
    rows = -(-(len(report.branches) + 1) // 3)  # legend rows: branches and the window
    with _figure(5.2, 3.4 + 0.22 * rows, (0.75, 0.75, 0.15, 0.75 + 0.22 * rows)) as figure:
        ax = figure.add_subplot()
        span = report.chart
        if span.window_starts_at is not None and span.decides_at is not None:
            start, end = _dates([span.window_starts_at, span.decides_at])
            ax.axvspan(start, end, color=WINDOW_SHADE, zorder=0, label="decision window")
        for position, branch in enumerate(report.branches):
            colour, line = _style(branch, position)
            xs = _dates([p.at for p in branch.path])
            ys = [p.welfare for p in branch.path]
            ax.plot(
                xs,
                ys,
                drawstyle="steps-post",
                color=colour,
                linestyle=line,
                linewidth=1.6,
                label=_label(branch.name),
            )
            if span.window_starts_at is not None and span.decides_at is not None:
                start, end = _dates([span.window_starts_at, span.decides_at])
                ax.hlines(
                    branch.averaged_welfare, start, end, colors=colour, linewidth=3.0, alpha=0.55
                )
            parts.append(
                f"{branch.name}: {_g(branch.expected_welfare)} now, averaged "
                f"{_g(branch.averaged_welfare)}"
            )
        ax.set_ylim(report.metric.lo, report.metric.hi)
        ax.set_ylabel(f"expected welfare ({_label(unit)})")
        if report.asset_kind == "scalar":
            lo, width = report.metric.lo, report.metric.hi - report.metric.lo

            def to_price(w: Any) -> Any:
                return (w - lo) / width

            def to_welfare(p: Any) -> Any:
                return lo + p * width

            right = ax.secondary_yaxis("right", functions=(to_price, to_welfare))
            right.set_ylabel("LONG price")
            ax.spines["right"].set_visible(True)
        _time_axis(ax)
        if not report.has_trades:
            ax.text(
                0.5,
                0.5,
                "no trades yet",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="#333333",
            )
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, frameon=False, fontsize=9.5
        )
        description = (
            f"{title}, from {span.starts_at:%Y-%m-%d %H:%M} to {span.ends_at:%Y-%m-%d %H:%M} "
            "UTC; thick lines: each branch's averaged value over the shaded decision window. "
            + "; ".join(parts)
            + (
                "."
                if report.has_trades
                else ". No trades yet: every branch is at its opening price."
            )
        )
        return _svg(figure, "price", title, description)


def welfare_chart(report: PolicyReport) -> Chart:
    """Each branch's averaged expected welfare with its band (see the module docstring)."""
    from matplotlib.lines import Line2D

    unit = _unit(report)
    title = f"Averaged expected welfare per branch, with its band ({unit})"
    parts = []
    n = len(report.branches)
    longest = max((len(_label(b.name)) for b in report.branches), default=8)
    left = min(0.2 + 0.075 * longest, 2.6)
    key = [
        Line2D([], [], marker="o", color="#444444", linestyle="none", label="averaged"),
        Line2D(
            [],
            [],
            marker="|",
            color="#444444",
            markersize=12,
            markeredgewidth=2,
            linestyle="none",
            label="now",
        ),
        Line2D([], [], color="#444444", alpha=0.35, linewidth=7, label="band"),
    ]
    decision = report.decision
    status_quo = next((b for b in report.branches if b.is_status_quo), None)
    bar = None
    if status_quo is not None and decision.threshold is not None:
        bar = status_quo.averaged_welfare + decision.threshold
        key.append(Line2D([], [], color=STATUS_QUO_COLOUR, linestyle="--", label="to beat"))
    measured = None
    if report.settlement is not None and report.settlement.measured_welfare is not None:
        measured = report.settlement.measured_welfare
        key.append(Line2D([], [], color="#000000", linewidth=1.6, label="measured"))
    rows = -(-len(key) // 3)
    bottom = 0.55 + 0.24 * rows
    with _figure(5.2, 0.35 + 0.5 * n + bottom, (left, 0.2, 0.15, bottom)) as figure:
        ax = figure.add_subplot()
        for position, branch in enumerate(report.branches):
            colour, _ = _style(branch, position)
            y = n - 1 - position
            ax.hlines(y, branch.band.low, branch.band.high, colors=colour, linewidth=7, alpha=0.35)
            ax.plot(
                [branch.averaged_welfare],
                [y],
                marker="o",
                color=colour,
                markersize=8,
                linestyle="none",
            )
            ax.plot(
                [branch.expected_welfare],
                [y],
                marker="|",
                color=colour,
                markersize=14,
                markeredgewidth=2,
                linestyle="none",
            )
            parts.append(
                f"{branch.name}: averaged {_g(branch.averaged_welfare)}, band "
                f"{_g(branch.band.low)} to {_g(branch.band.high)}, now "
                f"{_g(branch.expected_welfare)}"
            )
        if bar is not None:
            ax.axvline(bar, color=STATUS_QUO_COLOUR, linestyle="--", linewidth=1.2)
            parts.append(f"to be adopted an alternative must average above {_g(bar)}")
        if measured is not None:
            ax.axvline(measured, color="#000000", linewidth=1.6)
            parts.append(f"measured welfare {_g(measured)}")
        ax.set_yticks(range(n), [_label(b.name) for b in reversed(report.branches)])
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlim(report.metric.lo, report.metric.hi)
        ax.set_xlabel(_label(unit))
        figure.legend(
            handles=key,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.0),
            ncols=3,
            frameon=False,
            fontsize=9.5,
        )
        description = f"{title}. " + "; ".join(parts) + "."
        return _svg(figure, "welfare", title, description)


def volume_chart(report: PolicyReport) -> Chart:
    """Volume over time, stacked by branch (see the module docstring)."""
    title = "Volume over time, stacked by branch (cash traded)"
    parts = []
    rows = -(-len(report.branches) // 3)
    with _figure(5.2, 2.8 + 0.22 * rows, (0.75, 0.2, 0.15, 0.7 + 0.22 * rows)) as figure:
        ax = figure.add_subplot()
        first = report.branches[0].volume if report.branches else ()
        lefts = _dates([b.starts_at for b in first])
        rights = _dates([b.ends_at for b in first])
        widths = [r - left for left, r in zip(lefts, rights, strict=True)]
        bottom = [0.0] * len(lefts)
        for position, branch in enumerate(report.branches):
            colour, _ = _style(branch, position)
            heights = [v.volume_micros / MICROS for v in branch.volume]
            ax.bar(
                lefts,
                heights,
                width=widths,
                bottom=bottom,
                align="edge",
                color=colour,
                label=_label(branch.name),
                linewidth=0,
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            parts.append(f"{branch.name}: {branch.activity.trades} trades")
        ax.set_ylabel("cash traded")
        _time_axis(ax)
        if not report.has_trades:
            ax.text(
                0.5,
                0.5,
                "no trades yet",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="#333333",
            )
            ax.set_ylim(0, 1)
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, frameon=False, fontsize=9.5
        )
        description = f"{title}, in {len(lefts)} equal time buckets. " + "; ".join(parts) + "."
        return _svg(figure, "volume", title, description)


def all_charts(report: PolicyReport) -> tuple[Chart, ...]:
    """The three charts, in the report's order."""
    return (price_chart(report), welfare_chart(report), volume_chart(report))
