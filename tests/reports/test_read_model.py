"""The report's read model on SQLite and PostgreSQL (`reports.read_model.build`): every
figure against the service that owns it, before trading, while open, when due, decided,
settled; and the read changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.session import Database
from db.types import utcnow
from market import deciding, settling
from market import repository as repo
from market.book import Book
from market.errors import UnknownProposal
from market.models import AssetKind, Market
from market.settlement_models import Decision
from reports import queries, render_html, render_json, render_md
from reports.read_model import build
from reports.series import MAX_PATH_POINTS
from tests.integration import test_settling as settled_world
from tests.integration.trading_helpers import F_BINARY, UNIT, build_world
from tests.reports.helpers import traded

TWAP = ("twap_observation", "twap_observed_at", "twap_cum_weighted", "twap_last_live")


def twap_rows(db: Database, proposal_id: int) -> list[tuple[float | None, ...]]:
    with db.read() as s:
        markets = s.scalars(select(Market).where(Market.proposal_id == proposal_id)).all()
        return [tuple(getattr(m, c) for c in TWAP) for m in markets]


def test_a_proposal_without_trades_says_so_and_stands_at_its_opening_price(db: Database) -> None:
    world = build_world(db, traders=1)
    now = utcnow()
    with db.read() as s:
        report = build(s, world.proposal_id, now)
    assert (report.has_trades, report.total_trades) == (False, 0)
    assert (report.status, report.trading_open) == ("open", True)
    assert report.alternatives == ("Leave at 18",)
    assert report.status_quo == "Status quo"
    assert (report.metric.unit, report.metric.lo, report.metric.hi) == ("points", 0.0, 100.0)
    assert report.metric.definition_path == f"/metric-versions/{report.metric.version_id}"
    for branch in report.branches:
        assert branch.prices == (0.5, 0.5)
        assert (branch.expected_welfare, branch.averaged_welfare) == (50.0, 50.0)
        assert (branch.band.low, branch.band.high) == (50.0, 50.0)
        assert branch.activity.trades == branch.activity.volume_micros == 0
        assert branch.last_move.change == 0.0
        assert next((p.at, p.welfare) for p in branch.path) == (report.opens_at, 50.0)
    # a tie keeps the status quo; it is what the decision would be now
    decision = report.decision
    assert (decision.state, decision.margin, decision.greedy_index) == ("would_be", 0.0, 1)
    assert decision.distribution == (0.0, 1.0)
    assert "Not decided yet" in decision.label
    kinds = [(f.kind, f.branch_index, f.figure) for f in report.flags]
    assert kinds == [
        ("margin_in_band", None, 0.0),
        ("thin_liquidity", 0, 0.0),
        ("thin_liquidity", 1, 0.0),
    ]


def test_every_figure_of_an_open_proposal_comes_from_its_owner(db: Database) -> None:
    t = traded(db)
    world = t.world
    before = twap_rows(db, world.proposal_id)
    with db.read() as s:
        report = build(s, world.proposal_id, t.now)
        markets = repo.markets_of(s, [world.proposal_id])
        books = [Book(tuple(m.q_micros), m.b_micros) for m in markets]
    assert twap_rows(db, world.proposal_id) == before  # the report wrote nothing

    a, b, c, d = t.charges
    zero, one = report.branches
    assert (zero.activity.trades, zero.activity.traders) == (3, 2)
    assert zero.activity.volume_micros == a + b + d
    assert zero.activity.top_trader_volume_micros == a + d
    assert zero.activity.top_trader_share == (a + d) / (a + b + d)
    assert (one.activity.trades, one.activity.traders, one.activity.volume_micros) == (1, 1, c)
    assert report.total_trades == 4
    for branch, book in zip(report.branches, books, strict=True):
        assert branch.prices == book.prices()
        assert branch.price == book.prices()[0]
        assert branch.expected_welfare == 100.0 * book.prices()[0]
        assert sum(v.volume_micros for v in branch.volume) == branch.activity.volume_micros
        assert sum(v.trades for v in branch.volume) == branch.activity.trades
        assert len(branch.path) <= MAX_PATH_POINTS
        assert branch.path[-1].welfare == branch.expected_welfare
        assert branch.band.low <= branch.averaged_welfare <= branch.band.high
        # the maker: F, b ln 2, and its loss if the market resolved at today's prices
        q = [int(x) for x in book.q_micros]
        assert branch.maker.subsidy_micros == F_BINARY
        assert branch.maker.worst_case_loss_micros == book.max_loss_micros == 69_314_717
        paid_in = branch.activity.volume_micros  # only buys here: Σ|cash| = Σ cash
        expected_loss = round(q[0] * book.prices()[0] + q[1] * book.prices()[1]) - paid_in
        assert branch.maker.current_loss_micros == expected_loss

    # the averages are the crank's (the same state, moved to now), but nothing was written
    with db.write() as s:
        cranked = deciding.crank(s, proposal_id=world.proposal_id, now=t.now)
    assert [b.averaged_welfare for b in report.branches] == [x.average for x in cranked.branches]
    decision = report.decision
    assert decision.state == "would_be"
    assert decision.averaged == (zero.averaged_welfare, one.averaged_welfare)
    assert decision.margin == zero.averaged_welfare - one.averaged_welfare
    assert decision.greedy_index == (0 if decision.margin > 0 else 1)
    assert decision.seed is None
    assert decision.u is None
    assert decision.executed_index is None

    # the last hour: branch 0 moved from its opening 50 to its price now
    assert (zero.last_move.before, zero.last_move.after) == (50.0, zero.expected_welfare)
    assert zero.last_move.ends_at == t.now
    assert zero.last_move.starts_at == t.now - timedelta(hours=1)
    flags = {(f.kind, f.branch_index): f for f in report.flags}
    assert flags[("concentrated_trader", 0)].figure == zero.activity.top_trader_share
    assert flags[("large_last_move", 0)].figure == abs(zero.expected_welfare - 50.0)
    assert flags[("thin_liquidity", 0)].figure == zero.activity.volume_micros / F_BINARY
    assert ("concentrated_trader", 1) in flags  # one trader is all of branch 1


def test_pages_of_two_trades_give_the_same_report_as_one_page(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = traded(db)
    with db.read() as s:
        whole = build(s, t.world.proposal_id, t.now)
    monkeypatch.setattr(queries, "PAGE", 2)
    with db.read() as s:
        paged = build(s, t.world.proposal_id, t.now)
    assert paged == whole


def test_after_the_decision_time_the_report_shows_what_the_rule_gives_then_the_decision(
    db: Database,
) -> None:
    t = traded(db)
    pid = t.world.proposal_id
    with db.read() as s:
        due_at = repo.get_proposal(s, pid).decides_at
    assert due_at is not None
    with db.read() as s:
        due = build(s, pid, due_at + timedelta(seconds=1))
    assert due.decision.state == "due"
    assert due.decision.label.startswith("Not decided yet: the decision was due at")
    with db.write() as s:
        deciding.decide(s, pid, now=due_at + timedelta(seconds=2))
    with db.read() as s:
        report = build(s, pid, due_at + timedelta(seconds=3))
        recorded = s.scalars(select(Decision).where(Decision.proposal_id == pid)).one()
    decision = report.decision
    assert decision.state == "decided"
    assert decision.averaged == tuple(recorded.averaged) == due.decision.averaged
    assert decision.greedy_index == recorded.greedy_index == due.decision.greedy_index
    assert (decision.margin, decision.executed_index) == (recorded.margin, recorded.executed_index)
    assert decision.seed == recorded.seed_hex
    assert decision.u == recorded.draw_u
    assert [b.executed for b in report.branches] == [j == recorded.executed_index for j in range(2)]
    assert report.status == "decided"
    assert not report.trading_open


def test_a_settled_proposal_shows_measured_against_predicted_and_what_traders_earned(
    db: Database,
) -> None:
    """The world of `tests.integration.test_settling`: decided on averages 0.6 and 0.5,
    branch 0 executed, W = 0.725; A is paid 57.013152 and B 45.111859 for 50 each."""
    world = settled_world.build(db)
    settled_world.decide_now(db, world)
    settled_world.certify(db, settled_world.measure_w(db, world))
    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        report = build(s, world.proposal_id)
        ended = settling.settlement_report(s, world.proposal_id)
    summary = report.settlement
    assert summary is not None
    assert (summary.kind, summary.measured_welfare, summary.executed_index) == (
        "settled",
        0.725,
        0,
    )
    assert summary.traders_paid_micros == 57_013_152 + 45_111_859
    assert summary.deposits_micros == 100 * UNIT
    assert summary.traders_earned_micros == 2_125_011
    executed, void = report.branches
    assert executed.outcome is not None
    assert void.outcome is not None
    assert executed.outcome.status == "settled"
    assert executed.outcome.predicted_welfare == 0.6
    assert executed.outcome.error == pytest.approx(0.125)
    assert executed.outcome.traders_earned_micros == 2_125_011
    assert executed.outcome.shares_paid_micros == ended.branches[0].shares_paid_micros
    assert (void.outcome.status, void.outcome.error, void.outcome.traders_earned_micros) == (
        "void",
        None,
        0,
    )
    assert void.outcome.predicted_welfare == 0.5
    assert executed.maker.realised_result_micros == ended.branches[0].maker_result_micros
    assert void.maker.realised_result_micros is None
    assert executed.maker.current_loss_micros is None  # the market has ended
    assert report.decision.state == "decided"


def test_a_binned_branch_has_the_quantile_band_of_its_distribution(db: Database) -> None:
    """Four equal bins on [0, 100] at uniform prices: the 10 % and 90 % quantiles are 10 and
    90, the expected welfare 50."""
    world = build_world(
        db,
        traders=1,
        split=0,
        asset_kind=AssetKind.BINNED,
        bin_edges=(0.0, 25.0, 50.0, 75.0, 100.0),
    )
    with db.read() as s:
        report = build(s, world.proposal_id)
    for branch in report.branches:
        assert branch.outcomes == ("[0, 25)", "[25, 50)", "[50, 75)", "[75, 100]")
        assert branch.price is None
        assert branch.averaged_price is None
        assert branch.expected_welfare == 50.0
        assert (branch.band.method, branch.band.low, branch.band.high) == ("quantiles", 10.0, 90.0)
        assert (branch.band.low_level, branch.band.high_level) == (0.1, 0.9)


def test_an_unknown_proposal_is_refused(db: Database) -> None:
    with db.read() as s, pytest.raises(UnknownProposal, match="no proposal with id 4242"):
        build(s, 4242)


def test_the_read_model_is_plain_data(db: Database) -> None:
    """No ORM object, session or lazy attribute anywhere in the tree: it compares, copies
    and pickles on its own."""
    import pickle

    t = traded(db)
    with db.read() as s:
        report = build(s, t.world.proposal_id, t.now)
    assert pickle.loads(pickle.dumps(report)) == report
    assert replace(report, title="x") != report


def test_a_proposal_unwound_before_any_decision_says_there_is_none(db: Database) -> None:
    """The council declares the settling world unmeasurable while it is open: everyone gets
    back its 50, no branch was executed, nothing was predicted or earned."""
    world = settled_world.build(db)
    motion = settled_world.council_passes(
        db, settled_world.seat(db), "void_proposal", {"proposal_id": world.proposal_id}
    )
    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        report = build(s, world.proposal_id)
    assert report.status == "unwound"
    assert report.decision.state == "none"
    assert report.decision.label == "No decision: the proposal was unwound before any decision."
    assert report.decision.averaged == ()
    summary = report.settlement
    assert summary is not None
    assert (summary.kind, summary.reason) == (
        "unwound",
        f"declared unmeasurable by council motion {motion}",
    )
    assert (summary.traders_paid_micros, summary.traders_earned_micros) == (100 * UNIT, 0)
    for branch in report.branches:
        assert branch.outcome is not None
        assert (branch.outcome.status, branch.outcome.predicted_welfare) == ("unwound", None)
        assert branch.outcome.traders_earned_micros == 0
        assert branch.probability is None
        assert branch.executed is None
    html, markdown = render_html.render(report), render_md.render(report)
    for text in (html, markdown):
        assert "No decision: the proposal was unwound before any decision." in text
        assert f"declared unmeasurable by council motion {motion}" in text
    assert render_json.render(report)
