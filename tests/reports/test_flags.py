"""Each flag at and beyond its documented threshold, with the figure behind it."""

from __future__ import annotations

from datetime import UTC, datetime

from reports import flags
from reports.model import Activity, Band, LastMove

UNIT = 1_000_000
F = 50 * UNIT
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def activity(volume: int, top: int, trades: int = 10, traders: int = 3) -> Activity:
    return Activity(trades, volume, traders, top, top / volume if volume else 0.0)


def move(before: float, after: float) -> LastMove:
    return LastMove(T0, T0, before, after, after - before)


def test_thresholds_are_the_documented_ones() -> None:
    assert flags.THIN_VOLUME_MULTIPLE == 1.0
    assert flags.CONCENTRATION_SHARE == 0.5
    assert flags.LARGE_MOVE_CAPS == 1.0


def test_volume_below_one_subsidy_is_thin_and_says_by_how_much() -> None:
    flag = flags.thin_liquidity(0, "Leave at 18", activity(12_500_000, 5 * UNIT), F)
    assert flag is not None
    assert (flag.kind, flag.branch_index, flag.figure, flag.threshold, flag.unit) == (
        "thin_liquidity",
        0,
        0.25,
        1.0,
        "× F",
    )
    assert "12.5, 0.25 × the subsidy F = 50" in flag.message
    assert flags.thin_liquidity(0, "x", activity(F, UNIT), F) is None  # exactly F: not thin


def test_one_trader_with_more_than_half_the_volume_dominates() -> None:
    flag = flags.concentrated_trader(1, "Status quo", activity(40 * UNIT, 30 * UNIT))
    assert flag is not None
    assert (flag.figure, flag.threshold) == (0.75, 0.5)
    assert "One trader did 75.0% of the volume in 'Status quo' (30 of 40" in flag.message
    assert flags.concentrated_trader(1, "x", activity(40 * UNIT, 20 * UNIT)) is None  # half
    assert flags.concentrated_trader(1, "x", activity(0, 0)) is None  # no trades


def test_a_last_move_beyond_the_cap_is_large() -> None:
    flag = flags.large_last_move(0, "A", move(50.0, 53.5), 2.0, "points", 3600)
    assert flag is not None
    assert (flag.figure, flag.threshold, flag.unit) == (3.5, 2.0, "points")
    assert "moved by +3.5 points (from 50 to 53.5)" in flag.message
    assert flags.large_last_move(0, "A", move(50.0, 48.0), 2.0, "points", 3600) is None


def test_a_margin_over_delta_inside_the_bands_is_flagged() -> None:
    """Margin 2 over δ = 0.5 is 1.5; bands of half-width 1 and 0.75 add up to 1.75."""
    best = ("A", Band(58.0, 60.0, "observation_range", None, None))
    sq = ("Status quo", Band(55.5, 57.0, "observation_range", None, None))
    flag = flags.margin_in_band(2.0, 0.5, best, sq, "points")
    assert flag is not None
    assert (flag.branch_index, flag.figure, flag.threshold) == (None, 1.5, 1.75)
    assert "leads the status quo 'Status quo' by +2 points, +1.5 over the threshold" in (
        flag.message
    )
    assert flags.margin_in_band(4.0, 0.5, best, sq, "points") is None  # 3.5 > 1.75


def test_flags_read_the_proposal_first_then_branch_by_branch() -> None:
    a = flags.thin_liquidity(1, "B", activity(UNIT, UNIT), F)
    b = flags.large_last_move(0, "A", move(0.0, 10.0), 1.0, "points", 3600)
    c = flags.thin_liquidity(0, "A", activity(UNIT, UNIT), F)
    d = flags.margin_in_band(
        0.0,
        0.0,
        ("A", Band(0, 1, "quantiles", 0.1, 0.9)),
        ("B", Band(0, 1, "quantiles", 0.1, 0.9)),
        "p",
    )
    assert a
    assert b
    assert c
    assert d
    assert [(f.kind, f.branch_index) for f in flags.ordered([a, b, c, d])] == [
        ("margin_in_band", None),
        ("thin_liquidity", 0),
        ("large_last_move", 0),
        ("thin_liquidity", 1),
    ]
