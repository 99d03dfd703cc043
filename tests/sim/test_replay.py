"""``futarchy backtest replay``: a real proposal's recorded trades replayed under another rule
(`sim.replay`), on SQLite and PostgreSQL, and through the command line.

The binary markets have ``F = 69.314718``, so ``b = 99.999999`` units, on ``[0, 100]``: a
branch opens at an expected welfare of 50, and 10 LONG shares lift it to
``E = 100 · e^0.1 / (1 + e^0.1) ≈ 52.4979``.

**The numbers world** (`_numbers`): a 4 h window of 1 h intervals ending at the decision
``T``, cap 1, δ 0. One buy of 10 LONG in branch 0 half an hour into the window, none in the
status quo. The observations of branch 0 climb by the cap toward ``E``::

    cap 1:     51, 52, E, E                  A₀ = (103 + 2E) / 4 ≈ 51.99896
    cap 0.25:  50.25, 50.5, 50.75, 51        A₀ = 50.625 (exactly)

and the status quo stays at 50, so the recorded margin is ``A₀ − 50 ≈ 1.99896`` and the
alternative is adopted.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from db.errors import NotFoundError
from db.session import Database
from db.types import utcnow
from market import deciding
from market.assets import ScalarAsset
from market.decision import (
    DecisionRule,
    InvalidDecisionRule,
    twap_from_path,
    uniform,
)
from market.errors import UnknownProposal
from market.proposals import RuleSpec, get_proposal
from market.settlement_models import Decision
from market.trading import Order, Side, execute, price_history
from sim.replay import (
    Overrides,
    PathPage,
    Recorded,
    RecordedBranch,
    load,
    replay,
    replay_proposal,
)
from tests.integration.trading_helpers import UNIT, World, build_world

HOUR = timedelta(hours=1)
E = 52.4979  # the welfare after 10 LONG from 50, to 4 decimals (module docstring)


@dataclass(frozen=True)
class Built:
    world: World
    decides_at: datetime
    window_start: datetime


def _build(db: Database, **spec: Any) -> Built:
    world = build_world(db, traders=1, **spec)
    with db.read() as s:
        decides_at = get_proposal(s, world.proposal_id).decides_at
    assert decides_at is not None
    with db.read() as s:
        rule = DecisionRule.from_dict(get_proposal(s, world.proposal_id).decision_rule or {})
    return Built(world, decides_at, decides_at - timedelta(seconds=rule.window_seconds))


def _buy(db: Database, b: Built, branch: int, outcome: int, shares: int, at: datetime) -> None:
    with db.write() as s:
        execute(
            s,
            b.world.traders[0],
            b.world.market_ids[branch],
            Order(outcome, Side.BUY, shares_micros=shares * UNIT),
            now=at,
        )


def _numbers(db: Database, *, decided: bool = True) -> Built:
    """The numbers world of the module docstring, decided at ``T`` unless told not to."""
    b = _build(
        db,
        closes_at=utcnow() + 4 * HOUR,
        decision=RuleSpec(window_seconds=4 * 3600, interval_seconds=3600),
    )
    _buy(db, b, 0, 0, 10, b.window_start + HOUR / 2)
    if decided:
        with db.write() as s:
            deciding.decide(s, b.world.proposal_id, None, now=b.decides_at)
    return b


def _cranked(db: Database) -> Built:
    """The default rule (24 h window, 1 h intervals, cap 1) with a crank between two trades:
    3 LONG in branch 0 at ``S + 0.5 h``, a crank of both branches at ``S + 2.5 h``, 5 SHORT
    in branch 0 at ``S + 10.5 h``; decided at ``T``."""
    b = _build(db)
    _buy(db, b, 0, 0, 3, b.window_start + HOUR / 2)
    with db.write() as s:
        deciding.crank(s, proposal_id=b.world.proposal_id, now=b.window_start + 2.5 * HOUR)
    _buy(db, b, 0, 1, 5, b.window_start + 10.5 * HOUR)
    with db.write() as s:
        deciding.decide(s, b.world.proposal_id, None, now=b.decides_at)
    return b


def _decision(db: Database, proposal_id: int) -> Decision:
    with db.read() as s:
        return deciding.get_decision(s, proposal_id)


# --- no overrides: the record, exactly ------------------------------------------------------


def test_no_overrides_reproduce_the_recorded_averages_and_decision_bit_for_bit(
    db: Database,
) -> None:
    b = _cranked(db)
    pid = b.world.proposal_id
    recorded = _decision(db, pid)
    with db.read() as s:
        r = replay_proposal(s, pid)
    assert r.replayed_averaged == r.recorded_averaged == tuple(recorded.averaged)
    assert r.margin == recorded.margin
    assert (r.best_alternative, r.greedy) == (recorded.best_index, recorded.greedy_index)
    assert r.distribution == tuple(recorded.distribution)
    assert r.decision is not None
    assert (r.decision.executed, r.decision.u) == (recorded.executed_index, recorded.draw_u)
    assert (r.recorded_greedy, r.recorded_executed, r.changed) == (
        recorded.greedy_index,
        recorded.executed_index,
        False,
    )
    assert r.rule_hash == r.recorded_rule_hash
    assert (r.decided, r.trades, r.cranks) == (True, 2, 2)
    assert [(x.trades, x.cranks) for x in r.branches] == [(2, 1), (0, 1)]


def test_the_cranks_are_replayed_because_they_move_the_last_bit(db: Database) -> None:
    """Without its crank, branch 0's average differs from the record in the last bit: the
    crank split one advance in two. So the replay reads the cranks, and must."""
    b = _cranked(db)
    recorded = _decision(db, b.world.proposal_id)
    with db.read() as s:  # a loaded path reads its pages in the session: replay inside it
        loaded = load(s, b.world.proposal_id)
        trades_only = [
            PathPage(p.times[~p.crank], p.welfare[~p.crank], p.crank[~p.crank])
            for p in loaded.branches[0].path
        ]
        stripped = dataclasses.replace(
            loaded,
            branches=(
                dataclasses.replace(loaded.branches[0], path=trades_only),
                *loaded.branches[1:],
            ),
        )
        without = replay(stripped, loaded.rule).replayed_averaged[0]
    assert without != recorded.averaged[0]
    assert without == pytest.approx(recorded.averaged[0], rel=1e-15)


def test_pages_of_one_row_replay_the_same_path(db: Database) -> None:
    b = _cranked(db)
    with db.read() as s:
        loaded = load(s, b.world.proposal_id)
        whole = replay(loaded, loaded.rule)
        one_by_one = load(s, b.world.proposal_id, page_size=1)
        pages = [len(p.times) for p in one_by_one.branches[0].path]
        paged = replay(one_by_one, one_by_one.rule)
    assert pages == [1, 1, 1]  # trade, crank, trade: one step a page
    assert paged.replayed_averaged == whole.replayed_averaged


def test_a_path_is_read_only_in_the_transaction_that_loaded_it(sqlite_db: Database) -> None:
    b = _numbers(sqlite_db)
    with sqlite_db.read() as s:
        loaded = load(s, b.world.proposal_id)
    with pytest.raises(RuntimeError, match="in the transaction that loaded it"):
        replay(loaded, loaded.rule)


def test_an_undecided_proposal_replays_to_its_would_be_averages_now(db: Database) -> None:
    b = _numbers(db, decided=False)
    now = b.window_start + 2 * HOUR  # two boundaries crossed: 51, 52; then E, E projected
    with db.read() as s:
        r = replay_proposal(s, b.world.proposal_id, now=now)
    assert r.replayed_averaged == r.recorded_averaged
    assert r.replayed_averaged[0] == pytest.approx((51 + 52 + 2 * E) / 4, abs=1e-4)
    assert r.replayed_averaged[1] == 50.0
    assert (r.decided, r.status, r.recorded_executed) == (False, "open", None)
    assert (r.greedy, r.recorded_greedy, r.changed) == (0, 0, False)
    assert r.decision is not None  # ε = 0: no draw needed
    assert r.decision.executed == 0


# --- other rules: the numbers written out ---------------------------------------------------


def test_a_threshold_above_the_recorded_margin_keeps_the_status_quo(db: Database) -> None:
    b = _numbers(db)
    with db.read() as s:
        r = replay_proposal(s, b.world.proposal_id, Overrides(threshold=2.0))
        below = replay_proposal(s, b.world.proposal_id, Overrides(threshold=1.5))
    # δ changes no average, only the choice: margin ≈ 1.99896 is not above δ = 2
    assert r.replayed_averaged == r.recorded_averaged
    assert r.margin == r.recorded_margin == pytest.approx((103 + 2 * E) / 4 - 50, abs=1e-4)
    assert (r.best_alternative, r.greedy, r.recorded_greedy, r.changed) == (0, 1, 0, True)
    assert r.recorded_executed == 0
    assert r.decision is not None
    assert r.decision.executed == 1
    assert r.rule.threshold == 2.0
    assert r.rule_hash != r.recorded_rule_hash
    # … but it is above δ = 1.5: the same choice
    assert (below.greedy, below.changed) == (0, False)


def test_a_tighter_cap_lowers_the_average_and_changes_the_choice(db: Database) -> None:
    b = _numbers(db)
    with db.read() as s:
        tight = replay_proposal(s, b.world.proposal_id, Overrides(cap=0.25, threshold=1.0))
        loose = replay_proposal(s, b.world.proposal_id, Overrides(threshold=1.0))
    # cap 0.25: 50.25, 50.5, 50.75, 51, averaging exactly 50.625; margin 0.625 < δ = 1
    assert tight.replayed_averaged == (50.625, 50.0)
    assert (tight.margin, tight.greedy, tight.changed) == (0.625, 1, True)
    # with the recorded cap 1 the margin ≈ 1.99896 clears δ = 1: the cap made the change
    assert loose.replayed_averaged == loose.recorded_averaged
    assert (loose.greedy, loose.changed) == (0, False)


def test_a_shorter_window_starts_after_the_climb(db: Database) -> None:
    b = _numbers(db)
    with db.read() as s:
        r = replay_proposal(s, b.world.proposal_id, Overrides(window_seconds=2 * 3600))
    # window [T − 2 h, T]: the buy at T − 3.5 h climbed 51, 52 before it; then E, E
    with db.read() as s:
        (point,) = price_history(s, b.world.market_ids[0])
    e = ScalarAsset(0.0, 100.0).expected_welfare(point.prices)
    assert r.replayed_averaged == (e, 50.0)
    assert e == pytest.approx(E, abs=1e-4)


def test_exploration_draws_with_the_revealed_seed_as_the_service_does(db: Database) -> None:
    b = _numbers(db)
    pid = b.world.proposal_id
    seed = bytes.fromhex(_decision(db, pid).seed_hex)
    with db.read() as s:
        r = replay_proposal(s, pid, Overrides(epsilon=0.5, exploration_mode="ipw"))
    # greedy 0; d = (1 − ε) · onehot(0) + ε / 2 = (0.75, 0.25); branch 0 iff u < 0.75
    u = uniform(seed, pid)
    assert (r.greedy, r.distribution) == (0, (0.75, 0.25))
    assert r.decision is not None
    assert r.decision.u == u
    assert r.decision.executed == (0 if u < 0.75 else 1)
    assert r.decision.explored == (r.decision.executed != 0)


def test_exploration_before_the_decision_gives_d_but_draws_nothing(db: Database) -> None:
    b = _numbers(db, decided=False)
    with db.read() as s:
        r = replay_proposal(
            s, b.world.proposal_id, Overrides(epsilon=0.5, exploration_mode="randomised_only")
        )
    assert (r.greedy, r.distribution, r.decision, r.executed) == (0, (0.75, 0.25), None, None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (Overrides(window_seconds=5400), "window_seconds"),  # not a whole number of hours
        (Overrides(interval_seconds=7 * 3600), "interval_seconds"),  # longer than the window
        (Overrides(cap=-1.0), "cap"),
        (Overrides(cap=0.0), "cap"),
        (Overrides(threshold=-0.5), "threshold"),
        (Overrides(epsilon=1.0, exploration_mode="ipw"), "epsilon"),
        (Overrides(epsilon=0.1), "exploration_mode"),  # ε > 0 needs a mode
    ],
)
def test_bad_overrides_are_refused_naming_the_field(
    sqlite_db: Database, overrides: Overrides, field: str
) -> None:
    b = _numbers(sqlite_db, decided=False)
    with sqlite_db.read() as s, pytest.raises(InvalidDecisionRule) as refused:
        replay_proposal(s, b.world.proposal_id, overrides)
    assert refused.value.field == field
    assert str(refused.value).startswith(field)


def test_an_unknown_proposal_is_not_found(db: Database) -> None:
    with db.read() as s, pytest.raises(UnknownProposal, match="no proposal with id 4242"):
        replay_proposal(s, 4242)
    assert issubclass(UnknownProposal, NotFoundError)


# --- pure: a path built by hand -------------------------------------------------------------


def test_a_hand_built_path_averages_as_the_brute_force_reference() -> None:
    rule = DecisionRule(window_seconds=4 * 3600, interval_seconds=3600, cap=1.0)
    asset = ScalarAsset(0.0, 100.0)
    decides_at = 1_800_000_000.0
    opens_at = decides_at - 5 * 3600
    times = [decides_at - 3.5 * 3600, decides_at - 1.5 * 3600]
    values = [60.0, 45.0]

    page = PathPage(np.array(times), np.array(values), np.zeros(2, dtype=np.bool_))
    branches = (
        RecordedBranch(1, 0, "Leave at 18", False, 45.0, 50.0, [page]),
        RecordedBranch(2, 1, "Status quo", True, 50.0, 50.0, []),
    )
    recorded = Recorded(
        proposal_id=1,
        title="hand-built",
        status="closed",
        rule=rule,
        terms_hash="",
        asset=asset,
        opens_at=opens_at,
        decides_at=decides_at,
        now=decides_at,
        branches=branches,
        decision=None,
    )
    r = replay(recorded, rule)
    # 51, 52 (climbing to 60), then 51, 50 (falling by 1 toward 45): A = 51
    assert r.replayed_averaged[0] == 51.0
    reference = twap_from_path(times, values, rule, opens_at, decides_at, 50.0)
    assert r.replayed_averaged[0] == reference
    assert (r.greedy, r.margin, r.trades, r.cranks) == (0, 1.0, 2, 0)


# --- the command line -------------------------------------------------------------------------


def _futarchy(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["backtest", "replay", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_command_prints_a_table_and_both_decisions(db: Database) -> None:
    b = _numbers(db)
    pid = str(b.world.proposal_id)
    code, out, err = _futarchy(pid, "--delta", "2", "--database-url", db.url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    title = "'Raise the school leaving age'"
    assert lines[0] == f"proposal {pid} {title} (decided): 1 trade and 0 cranks replayed"
    assert lines[1].startswith(
        "recorded rule: window 14400 s, interval 3600 s, cap 1, δ 0, ε 0 (none); hash "
    )
    assert lines[2].startswith(
        "replayed rule: window 14400 s, interval 3600 s, cap 1, δ 2, ε 0 (none); hash "
    )
    assert "recorded average" in out
    assert "replayed average" in out
    (row,) = [line for line in lines if "Leave at 18" in line and "│" in line]
    assert row.count("51.998959") == 2  # recorded and replayed, to 8 digits
    assert "1 Status quo" in out
    assert "(status quo)" not in out  # the name says it already
    assert lines[-2].startswith(
        "recorded decision: branch 0 'Leave at 18': it beats the status quo by 1.998959"
    )
    assert lines[-2].endswith(", above δ 0; executed branch 0")
    assert lines[-1].startswith(
        "replayed decision: the status quo, branch 1 'Status quo': the best alternative leads "
        "it by 1.998959"
    )
    assert lines[-1].endswith(", not above δ 2; executed branch 1; the choice CHANGED")


def test_the_command_writes_json_with_exact_floats(db: Database) -> None:
    b = _numbers(db)
    pid = b.world.proposal_id
    code, out, err = _futarchy(
        str(pid), "--cap", "0.25", "--delta", "1", "-f", "json", "--database-url", db.url
    )
    assert (code, err) == (0, "")
    data = json.loads(out)
    recorded = _decision(db, pid)
    assert [x["recorded_average"] for x in data["branches"]] == recorded.averaged
    assert [x["replayed_average"] for x in data["branches"]] == [50.625, 50.0]
    assert data["replayed"] == {
        "best_alternative": 0,
        "margin": 0.625,
        "threshold": 1.0,
        "greedy": 1,
        "distribution": [0.0, 1.0],
        "executed": 1,
        "explored": False,
        "settles": True,
    }
    assert data["recorded"]["greedy"] == data["recorded"]["executed"] == 0
    assert (data["changed"], data["trades"], data["cranks"]) == (True, 1, 0)
    assert data["rule"]["cap"] == 0.25
    assert data["recorded_rule"]["cap"] == 1.0


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["4242"], 1, "error: no proposal with id 4242\n"),
        (
            ["1", "--window", "5400"],
            1,
            (
                "error: --window: window_seconds (5400) must be a whole multiple of "
                "interval_seconds (3600).\n"
            ),
        ),
        (
            ["1", "--cap", "-1"],
            1,
            "error: --cap: cap must be positive and at most 1e+15, got -1.0.\n",
        ),
        (["1", "--format", "pdf"], 2, "Invalid value for '--format'"),
        (["1", "--window", "abc"], 2, "Invalid value for '--window'"),
        (["0"], 2, "Invalid value for 'proposal'"),
    ],
)
def test_a_refusal_exits_1_and_a_bad_command_line_2(
    sqlite_db: Database, args: list[str], code: int, error: str
) -> None:
    _numbers(sqlite_db)  # proposal 1 exists: only the input is wrong
    got, out, err = _futarchy(*args, "--database-url", sqlite_db.url)
    assert (got, out) == (code, "")
    if code == 1:
        assert err == error
    else:
        assert error in err
