"""Proposals for the report tests, built through the services (plain functions).

`traded` is the common world: the metric in force (scalar on [0, 100], unit ``points``),
one alternative "Leave at 18" and the status quo, ``F = 69.314718`` (``b ≈ 100``), the
default rule (24 h window, 1 h intervals, cap 1 point, δ = 0), three traders with 50
split each, and four buys at known times before ``now``:

=====  ========  ======  =========  =================
when   trader    branch  buys       (charge recorded)
=====  ========  ======  =========  =================
−50 m  0         0       10 LONG    ``charges[0]``
−30 m  1         0       5 SHORT    ``charges[1]``
−20 m  2         1       3 LONG     ``charges[2]``
−10 m  0         0       20 LONG    ``charges[3]``
=====  ========  ======  =========  =================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from db.session import Database
from db.types import utcnow
from market.trading import Order, Side, execute
from tests.integration.trading_helpers import UNIT, World, build_world

BUYS = (
    (-50, 0, 0, 0, 10),
    (-30, 1, 0, 1, 5),
    (-20, 2, 1, 0, 3),
    (-10, 0, 0, 0, 20),
)
"""(minutes before now, trader, branch, outcome, whole shares)."""


@dataclass(frozen=True)
class Traded:
    world: World
    now: datetime
    charges: tuple[int, ...]


def traded(db: Database, **spec: Any) -> Traded:
    """The world of the module docstring; ``now`` is when the report is read."""
    world = build_world(db, traders=3, **spec)
    now = utcnow()
    charges = []
    with db.write() as s:
        for minutes, trader, branch, outcome, shares in BUYS:
            result = execute(
                s,
                world.traders[trader],
                world.market_ids[branch],
                Order(outcome, Side.BUY, shares_micros=shares * UNIT),
                now=now + timedelta(minutes=minutes),
            )
            charges.append(result.cash_micros)
    return Traded(world, now, tuple(charges))
