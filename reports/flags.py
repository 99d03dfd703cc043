"""Flags worth a reader's attention, each with the figure behind it and its threshold (pure).

Every flag compares one figure of the read model with one documented threshold:

================== ======================================== ==============================
flag               figure                                   raised when
================== ======================================== ==============================
thin_liquidity     the branch's volume ``Σ |cash|`` as a     ``volume < 1 × F``
                   multiple of the subsidy ``F``             (`THIN_VOLUME_MULTIPLE`)
concentrated_      the largest single trader's share of     ``share > 0.5``
trader             the branch's volume                      (`CONCENTRATION_SHARE`)
large_last_move    ``|ΔE[W]|`` over the last observation    ``|Δ| > c``, the rule's cap
                   interval (welfare units)                 (`LARGE_MOVE_CAPS` × c)
margin_in_band     ``|margin − δ|`` (welfare units)         ``≤`` the half-widths of the
                                                            best alternative's and the
                                                            status quo's bands, summed
================== ======================================== ==============================

Why these limits:

- Below ``1 × F`` of trading, the maker's opening price (the sponsor's money) still weighs
  as much as everything traders put in: the price says little about their beliefs.
- Over half of a branch's volume from one account means one view (or one manipulator) set
  the price.
- The decision rule lets an interval's observation move by at most ``c``; a move larger
  than ``c`` in the last interval is one the average did not (yet) follow, and a late move
  is the classic shape of an attempt to push a decision.
- A margin over ``δ`` smaller than the branches' own uncertainty (their bands overlapping
  once shifted by ``δ``) is a decision the markets did not make clearly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from market.book import format_micros
from reports.model import Activity, Band, Flag, LastMove

THIN_VOLUME_MULTIPLE: Final = 1.0
"""A branch whose volume is below this multiple of the subsidy ``F`` is thin."""

CONCENTRATION_SHARE: Final = 0.5
"""A branch where one account did more than this share of the volume is concentrated."""

LARGE_MOVE_CAPS: Final = 1.0
"""A last-interval move beyond this many caps ``c`` is large."""


def _g(x: float) -> str:
    return f"{x:.6g}"


def thin_liquidity(index: int, name: str, activity: Activity, subsidy_micros: int) -> Flag | None:
    """`thin_liquidity` for one branch, or None (see the module table)."""
    multiple = activity.volume_micros / subsidy_micros
    if multiple >= THIN_VOLUME_MULTIPLE:
        return None
    return Flag(
        kind="thin_liquidity",
        branch_index=index,
        figure=multiple,
        threshold=THIN_VOLUME_MULTIPLE,
        unit="× F",
        message=(
            f"Thin liquidity in {name!r}: {activity.trades} trades by {activity.traders} "
            f"traders moved {format_micros(activity.volume_micros)}, {multiple:.3g} × the "
            f"subsidy F = {format_micros(subsidy_micros)} (flagged below "
            f"{THIN_VOLUME_MULTIPLE:g} × F); its price still leans on the market maker's "
            "opening price."
        ),
    )


def concentrated_trader(index: int, name: str, activity: Activity) -> Flag | None:
    """`concentrated_trader` for one branch, or None (see the module table)."""
    if activity.volume_micros == 0 or activity.top_trader_share <= CONCENTRATION_SHARE:
        return None
    share = activity.top_trader_share
    return Flag(
        kind="concentrated_trader",
        branch_index=index,
        figure=share,
        threshold=CONCENTRATION_SHARE,
        unit="share",
        message=(
            f"One trader did {share:.1%} of the volume in {name!r} "
            f"({format_micros(activity.top_trader_volume_micros)} of "
            f"{format_micros(activity.volume_micros)}; flagged above "
            f"{CONCENTRATION_SHARE:.0%}): its price is largely one account's view."
        ),
    )


def large_last_move(
    index: int, name: str, move: LastMove, cap: float, unit: str, interval_seconds: int
) -> Flag | None:
    """`large_last_move` for one branch, or None (see the module table)."""
    limit = LARGE_MOVE_CAPS * cap
    size = abs(move.change)
    if size <= limit:
        return None
    return Flag(
        kind="large_last_move",
        branch_index=index,
        figure=size,
        threshold=limit,
        unit=unit,
        message=(
            f"The expected welfare of {name!r} moved by {move.change:+.6g} {unit} "
            f"(from {_g(move.before)} to {_g(move.after)}) in the last "
            f"{interval_seconds} s observation interval, more than the rule's cap "
            f"c = {_g(limit)} per interval: the average follows it only slowly, and a late "
            "move may be an attempt to push the decision."
        ),
    )


def margin_in_band(
    margin: float,
    threshold: float,
    best: tuple[str, Band],
    status_quo: tuple[str, Band],
    unit: str,
) -> Flag | None:
    """`margin_in_band` for the decision, or None (see the module table).

    Args:
        margin: ``A_best − A_status quo`` (welfare units).
        threshold: ``δ``.
        best, status_quo: each branch's name and band.
    """
    over = margin - threshold
    spread = best[1].half_width + status_quo[1].half_width
    if abs(over) > spread:
        return None
    return Flag(
        kind="margin_in_band",
        branch_index=None,
        figure=abs(over),
        threshold=spread,
        unit=unit,
        message=(
            f"The decision margin is inside the band: {best[0]!r} leads the status quo "
            f"{status_quo[0]!r} by {margin:+.6g} {unit}, {over:+.6g} over the threshold "
            f"δ = {_g(threshold)}, while the two branches' bands add up to ±{_g(spread)} "
            f"{unit}; the markets did not separate them clearly."
        ),
    )


def branch_flags(
    index: int,
    name: str,
    activity: Activity,
    move: LastMove,
    subsidy_micros: int,
    cap: float | None,
    unit: str,
    interval_seconds: int | None,
) -> list[Flag]:
    """Every per-branch flag raised for one branch, in the module table's order."""
    found = [
        thin_liquidity(index, name, activity, subsidy_micros),
        concentrated_trader(index, name, activity),
    ]
    if cap is not None and interval_seconds is not None:
        found.append(large_last_move(index, name, move, cap, unit, interval_seconds))
    return [f for f in found if f is not None]


def ordered(flags: Sequence[Flag]) -> tuple[Flag, ...]:
    """Flags in reading order: the proposal's first, then by branch, each in table order."""
    kinds = ("margin_in_band", "thin_liquidity", "concentrated_trader", "large_last_move")
    return tuple(
        sorted(
            flags,
            key=lambda f: (f.branch_index is not None, f.branch_index or 0, kinds.index(f.kind)),
        )
    )
