"""Settling and unwinding on SQLite and PostgreSQL (`market.settling`), with the numbers
written out.

The world: a metric version with tradable bounds ``[0, 1]`` measuring Testland; a binary
proposal (branch 0 "Leave at 18", branch 1 the status quo) with ``F = 69.314718``
(``b = 99.999999``); traders A and B each split 50 of their 100 into it and buy:

=========  ======  ==========  =========================================
trader     branch  buys        charge (micro-units, ⌈60-digit cost⌉)
=========  ======  ==========  =========================================
A          0       40 LONG     21_986_808
B          0       30 SHORT    13_138_141
A          1       10 SHORT     5_124_948
B          1       20 LONG     10_000_000
=========  ======  ==========  =========================================

The certified measurement is ``W = 0.725``: ``x`` is the float's exact rational
(0.72499999999999997779…), so a LONG share pays ``⌊x·1e6⌋ = 724_999`` and a SHORT share
``⌊(1−x)·1e6⌋ = 275_000`` micro-units. Every payout is also recomputed here from
`fractions.Fraction` (the reference), independently of `market.settlement`.
"""

from __future__ import annotations

import math
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from db.identity import create_account
from db.session import Database
from db.types import utcnow
from market import funding, settling
from market import repository as repo
from market.book import Book
from market.conservation import check_conservation
from market.decision import DecisionRule, decide, uniform
from market.errors import MarketClosed, UnknownProposal
from market.ledger import LedgerEntry
from market.models import Market, Proposal
from market.proposal_rule import SettlesOn, terms
from market.proposals import create_proposal, markets_of
from market.settlement_models import Decision, Payout, Settlement, Stake
from market.trading import Order, Side, execute
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import F_BINARY, UNIT, new_account, spec
from tests.unit.market.exact import exact_trade_cost
from welfare import members, motions
from welfare.errors import InvalidWelfareInput
from welfare.measurement_service import certify_measurement, measure
from welfare.observation_service import ObservationInput, append_observations

W = 0.725
ENTITY, PERIOD, CUTOFF = "Testland", "2030", date(2031, 6, 30)
RELEASED = date(2031, 1, 1)
DEPOSIT = 50 * UNIT
CASH = 100 * UNIT
COLLATERAL = F_BINARY + 2 * DEPOSIT  # 169_314_718
B_MICROS = 99_999_999
BOUND = Book((0, 0), B_MICROS).max_loss_micros  # b ln 2 = 69_314_717

Trade = tuple[str, int, int, int, int]
"""(trader, branch, outcome, whole shares bought, the charge in micro-units), in order."""

TRADES: tuple[Trade, ...] = (
    ("A", 0, 0, 40, 21_986_808),
    ("B", 0, 1, 30, 13_138_141),
    ("A", 1, 1, 10, 5_124_948),
    ("B", 1, 0, 20, 10_000_000),
)
CHARGES = tuple(t[4] for t in TRADES)

LONG_PAYS, SHORT_PAYS = 724_999, 275_000

# settled in branch 0 at W = 0.725 (no exploration)
PAID_IN_0 = {"A": 57_013_152, "B": 45_111_859}
SPONSOR_IN_0 = 67_189_707


@dataclass(frozen=True)
class World:
    version_id: str
    sponsor: int
    proposal_id: int
    market_ids: tuple[int, ...]
    traders: dict[str, int]


def build(
    db: Database,
    rule: DecisionRule | None = None,
    seed: bytes = b"\x00" * 32,
    trades: tuple[Trade, ...] = TRADES,
    b_micros: int = B_MICROS,
) -> World:
    """The world of the module docstring; the proposal's terms settle on Testland 2030 at
    `CUTOFF`, under ``rule`` (default: the default rule) with ``seed``; each market's
    liquidity is ``b_micros``; then ``trades``, each charge checked against the 60-digit
    exact cost."""
    proposal_spec = spec()
    with db.write() as s:
        version = adopt_metric(s, lo=0.0, hi=1.0)
        sponsor = new_account(s, "sponsor", "admin", F_BINARY)
        proposal = create_proposal(s, sponsor, proposal_spec)
        given = rule or DecisionRule.from_dict(proposal.decision_rule or {})
        t = terms(given, proposal.closes_at, seed, SettlesOn(ENTITY, PERIOD, CUTOFF))
        proposal.decision_rule = t.rule.to_dict()
        proposal.decision_rule_hash = t.rule_hash
        proposal.seed_hex, proposal.seed_commitment = t.seed_hex, t.seed_commitment
        proposal.settle_entity, proposal.settle_period = ENTITY, PERIOD
        proposal.settle_cutoff = CUTOFF
        traders = {name: new_account(s, name, cash=CASH) for name in ("A", "B")}
        for trader in traders.values():
            funding.split(s, trader, proposal.id, DEPOSIT)
        market_ids = tuple(m.id for m in markets_of(s, proposal.id))
        s.execute(update(Market).where(Market.proposal_id == proposal.id).values(b_micros=b_micros))
        for name, branch, outcome, shares, charge in trades:
            market = market_ids[branch]
            q = tuple(repo.get_market(s, market).q_micros)
            delta = [0, 0]
            delta[outcome] = shares * UNIT
            exact = exact_trade_cost(q, delta, b_micros)
            result = execute(
                s, traders[name], market, Order(outcome, Side.BUY, shares_micros=shares * UNIT)
            )
            # the charge is the exact cost rounded up
            assert result.cash_micros == charge
            assert charge - 1 < exact <= charge
            s.expire_all()
        return World(version, sponsor, proposal.id, market_ids, traders)


def decide_now(db: Database, world: World, averaged: tuple[float, float] = (0.6, 0.5)) -> Decision:
    """Record the decision from the averages with the pure rule (what `market.deciding`
    does), closing trading; the status quo is branch 1."""
    with db.write() as s:
        proposal = s.get(Proposal, world.proposal_id)
        assert proposal is not None
        assert proposal.seed_hex is not None
        rule = DecisionRule.from_dict(proposal.decision_rule or {})
        d = decide(rule, averaged, 1, bytes.fromhex(proposal.seed_hex), proposal.id)
        row = Decision(
            proposal_id=proposal.id,
            rule_hash=proposal.decision_rule_hash or "",
            averaged=list(d.averaged),
            best_index=d.best_alternative,
            margin=d.margin,
            greedy_index=d.greedy,
            distribution=list(d.distribution),
            seed_hex=proposal.seed_hex,
            draw_u=d.u,
            executed_index=d.executed,
            explored=d.explored,
            settles=d.settles,
        )
        s.add(row)
        proposal.status = "decided"
        s.execute(update(Market).where(Market.proposal_id == proposal.id).values(status="closed"))
        s.flush()
        return row


def measure_w(db: Database, world: World, value: float = W) -> int:
    """Store the observation and an (uncertified) measurement of Testland 2030 at
    `CUTOFF`; returns its id."""
    with db.write() as s:
        append_observations(s, "score", [ObservationInput(ENTITY, 2030, value, RELEASED)])
        return measure(s, world.version_id, 2030, CUTOFF).id


def certify(db: Database, measurement_id: int) -> None:
    """Certify as a passed motion does (the council's own wiring is tested below)."""
    with db.write() as s:
        certify_measurement(s, measurement_id, 1)


def seat(db: Database) -> tuple[int, int]:
    """One council member holding every seat: ``(member id, its account id)``."""
    with db.write() as s:
        account = create_account(s, "council-solo", "council")
        member = members.create_member(
            s, name="Solo", constituency="All", population=1_000, account_id=account.id
        )
        return member.id, account.id


def council_passes(db: Database, member: tuple[int, int], kind: str, payload: Any) -> int:
    """File a motion, vote yes with every seat, decide it after its deadline; its id."""
    member_id, account_id = member
    t0 = utcnow()
    deadline = t0 + timedelta(days=1)
    with db.write() as s:
        filer = members.get_member(s, member_id)
        motion = motions.file_motion(
            s, filer, kind=kind, title=kind, payload=payload, deadline=deadline, now=t0
        )
        motions.cast_ballot(s, filer, motion.id, "yes", now=t0)
        motion_id = motion.id
    with db.write() as s:
        result = motions.decide(
            s, motion_id, account_id=account_id, now=deadline + timedelta(seconds=1)
        ).result
        assert (result.outcome, result.effect_status) == ("passed", "applied")
    return motion_id


def cash(db: Database, world: World) -> dict[str, int]:
    with db.read() as s:
        out = {name: repo.cash_of(s, a) for name, a in world.traders.items()}
        out["sponsor"] = repo.cash_of(s, world.sponsor)
        return out


def payouts(db: Database, world: World) -> dict[str, tuple[int, int]]:
    names = {a: name for name, a in world.traders.items()}
    with db.read() as s:
        rows = s.scalars(select(Payout).where(Payout.proposal_id == world.proposal_id)).all()
        return {names[r.account_id]: (r.deposit_micros, r.paid_micros) for r in rows}


def assert_conserved(db: Database) -> None:
    with db.read() as s:
        report = check_conservation(s)
    assert report.ok, report.problems


def assert_emptied(db: Database, world: World, statuses: list[str], status: str) -> None:
    """Nothing is left in the proposal: collateral, branch cash, positions, maker cash."""
    with db.read() as s:
        proposal = s.get(Proposal, world.proposal_id)
        assert proposal is not None
        assert (proposal.status, proposal.collateral_micros) == (status, 0)
        ms = markets_of(s, world.proposal_id)
        assert [m.status for m in ms] == statuses
        assert [m.maker_cash_micros for m in ms] == [0, 0]
        bc, pos = repo.BRANCH_CASH.c, repo.POSITION.c
        assert s.scalar(select(func.sum(bc.cash_micros)).where(bc.proposal_id == proposal.id)) == 0
        held = select(func.sum(pos.shares_micros)).where(pos.market_id.in_(world.market_ids))
        assert s.scalar(held) == 0


# --- the exact reference ---------------------------------------------------------------------


def per_share(w: float, lo: float = 0.0, hi: float = 1.0) -> tuple[int, int]:
    """``(⌊x·1e6⌋, ⌊(1−x)·1e6⌋)`` with ``x = (W − lo)/(hi − lo)`` on exact rationals."""
    x: Fraction = (Fraction(w) - Fraction(lo)) / (Fraction(hi) - Fraction(lo))
    x = min(max(x, Fraction(0)), Fraction(1))
    return math.floor(x * UNIT), math.floor((1 - x) * UNIT)


def reference_value(trader: str, branch: int, w: float, trades: tuple[Trade, ...] = TRADES) -> int:
    """``D − Σ charges in the branch + Σ ⌊s · π_k / 1e6⌋``: deposit plus net profit."""
    pays = per_share(w)
    value = DEPOSIT
    for name, b, outcome, shares, charge in trades:
        if name == trader and b == branch:
            value += math.floor(Fraction(shares * UNIT * pays[outcome], UNIT)) - charge
    return value


# --- settling ------------------------------------------------------------------------------


def test_settlement_pays_each_trader_its_deposit_plus_its_net_profit(db: Database) -> None:
    world = build(db)
    decision = decide_now(db, world)
    assert (decision.executed_index, decision.settles, decision.explored) == (0, True, False)
    certify(db, measure_w(db, world))
    assert per_share(W) == (LONG_PAYS, SHORT_PAYS)

    with db.write() as s:
        row = settling.settle(s, world.proposal_id)
        assert (row.kind, row.executed_index, row.welfare_value, row.reason) == (
            "settled",
            0,
            W,
            "",
        )
        assert (row.paid_micros, row.sponsor_paid_micros) == (102_125_011, SPONSOR_IN_0)

    # A: 50 − 21.986808 + 40 × 0.724999 = 57.013152; B: 50 − 13.138141 + 30 × 0.275
    assert {t: reference_value(t, 0, W) for t in ("A", "B")} == PAID_IN_0
    assert payouts(db, world) == {t: (DEPOSIT, PAID_IN_0[t]) for t in ("A", "B")}
    assert cash(db, world) == {
        "A": CASH - DEPOSIT + 57_013_152,  # 107.013152: a profit of 7.013152
        "B": CASH - DEPOSIT + 45_111_859,  # 95.111859: a loss of 4.888141
        "sponsor": SPONSOR_IN_0,
    }
    # the sponsor gets the rest: the maker's cash in branch 0 less what the shares paid
    maker_cash = F_BINARY + CHARGES[0] + CHARGES[1]  # 104_439_667
    shares_paid = 40 * LONG_PAYS + 30 * SHORT_PAYS  # 37_249_960
    assert SPONSOR_IN_0 == COLLATERAL - sum(PAID_IN_0.values()) == maker_cash - shares_paid
    maker_result = maker_cash - shares_paid - F_BINARY
    assert maker_result == -2_125_011
    assert -maker_result <= BOUND  # the maker's realised loss is within b ln n

    with db.read() as s:
        report = settling.settlement_report(s, world.proposal_id)
        executed, void = report.branches
        assert (executed.status, executed.traders_cash_micros, executed.maker_cash_micros) == (
            "settled",
            (DEPOSIT - CHARGES[0]) + (DEPOSIT - CHARGES[1]),
            maker_cash,
        )
        assert (executed.shares_paid_micros, executed.maker_result_micros) == (
            shares_paid,
            maker_result,
        )
        assert executed.maker_loss_bound_micros == BOUND
        assert (void.status, void.traders_cash_micros, void.maker_cash_micros) == (
            "void",
            (DEPOSIT - CHARGES[2]) + (DEPOSIT - CHARGES[3]),
            F_BINARY + CHARGES[2] + CHARGES[3],
        )
        assert (void.shares_paid_micros, void.maker_result_micros) == (0, None)
        assert (report.traders, report.traders_paid, report.deposits_micros) == (2, 2, 2 * DEPOSIT)
        assert report.measurement is not None
        assert report.measurement.value == W
        assert report.ipw_probability is None
    assert_emptied(db, world, ["settled", "void"], "settled")
    assert_conserved(db)


def test_a_second_settle_returns_the_first_and_pays_nothing_more(db: Database) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    with db.write() as s:
        first = settling.settle(s, world.proposal_id)
        first_id, first_at = first.id, first.settled_at
    with db.write() as s:
        again = settling.settle(s, world.proposal_id)
        assert (again.id, again.settled_at) == (first_id, first_at)
    assert cash(db, world) == {
        "A": 107_013_152,
        "B": 95_111_859,
        "sponsor": SPONSOR_IN_0,
    }
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 1
        assert s.scalar(select(func.count()).select_from(Payout)) == 2
    assert_conserved(db)


def test_nothing_can_be_traded_split_or_merged_after_settlement(db: Database) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with pytest.raises(MarketClosed, match="is settled"), db.write() as s:
        execute(s, world.traders["A"], world.market_ids[0], Order(0, Side.BUY, shares_micros=UNIT))
    with pytest.raises(MarketClosed, match="can no longer be merged"), db.write() as s:
        funding.merge(s, world.traders["A"], world.proposal_id, UNIT)


IPW = DecisionRule(
    window_seconds=3600, interval_seconds=3600, cap=0.01, epsilon=0.2, exploration_mode="ipw"
)
"""ε = 0.2 over two branches: d_min = 0.1, so b = ⌊⌊F · 0.1⌋ / ln 2⌋ and every buy must
leave 1/d_min − 1 = 9 times its net spend in the branch (the trade-time margin)."""

IPW_B = Book.from_subsidy(2, math.floor(F_BINARY * 0.1)).b_micros  # 9_999_998
IPW_TRADES: tuple[Trade, ...] = (
    ("A", 0, 0, 4, 2_198_681),
    ("B", 0, 1, 3, 1_313_815),
    ("A", 1, 1, 2, 1_049_917),
    ("B", 1, 0, 5, 2_562_164),
)


def test_ipw_scales_each_net_profit_by_one_over_d(db: Database) -> None:
    """d = (0.9, 0.1) around the greedy branch 0; a seed whose draw executes the status quo
    (u ≥ 0.9) scales the net profits there by 1/0.1."""
    assert IPW_B == 9_999_998
    world = build(db, IPW, seed_where(1, lambda u: u >= 0.9), IPW_TRADES, IPW_B)
    decision = decide_now(db, world)
    assert (decision.greedy_index, decision.executed_index, decision.explored) == (0, 1, True)
    assert decision.distribution == [0.9, 0.1]
    certify(db, measure_w(db, world))
    with db.write() as s:
        row = settling.settle(s, world.proposal_id)
        assert (row.kind, row.executed_index) == ("settled", 1)
        assert row.reason == (
            "ipw: each trader's net profit in the executed branch is scaled by 1/d = 1/0.1"
        )

    # in the status quo A keeps 48.950083 and 2 SHORT pay 0.55: V = 49.500083, a loss of
    # 0.499917; B keeps 47.437836 and 5 LONG pay 3.624995: V = 51.062831, a profit of 1.062831
    value = {t: reference_value(t, 1, W, IPW_TRADES) for t in ("A", "B")}
    assert value == {"A": 49_500_083, "B": 51_062_831}
    d = Fraction(0.1)  # the float's exact rational, a little above 1/10
    reference = {t: max(0, DEPOSIT + math.floor((v - DEPOSIT) / d)) for t, v in value.items()}
    assert reference == {"A": 45_000_830, "B": 60_628_309}  # −4.99917 and +10.628309
    assert payouts(db, world) == {t: (DEPOSIT, reference[t]) for t in ("A", "B")}
    sponsor = COLLATERAL - sum(reference.values())
    assert sponsor == 63_685_579
    assert cash(db, world) == {"A": 95_000_830, "B": 110_628_309, "sponsor": sponsor}
    with db.read() as s:
        report = settling.settlement_report(s, world.proposal_id)
        assert report.ipw_probability == 0.1
        sq = report.branches[1]
        assert (sq.shares_paid_micros, sq.maker_result_micros) == (4_174_995, -562_914)
        # the maker's unscaled loss is within b ln 2, and scaled by 1/d within F
        assert sq.maker_loss_bound_micros == 6_931_470
        loss = -(sq.maker_result_micros or 0)
        assert loss <= sq.maker_loss_bound_micros
        assert Fraction(loss) / d <= F_BINARY
    assert_emptied(db, world, ["void", "settled"], "settled")
    assert_conserved(db)


def seed_where(proposal_id: int, wanted: Callable[[float], bool]) -> bytes:
    """The first seed ``bytes([i]) * 32`` whose public uniform number satisfies ``wanted``."""
    return next(
        seed for seed in (bytes([i]) * 32 for i in range(256)) if wanted(uniform(seed, proposal_id))
    )


RANDOMISED = DecisionRule(
    window_seconds=3600,
    interval_seconds=3600,
    cap=0.01,
    epsilon=0.2,
    exploration_mode="randomised_only",
)


def test_randomised_only_settles_when_the_draw_explored(db: Database) -> None:
    """u < ε/2 = 0.1: the coin explored and picked branch 0 uniformly, independent of the
    prices; the markets settle there with no scaling: the same payouts as a plain settle."""
    world = build(db, RANDOMISED, seed_where(1, lambda u: u < 0.1))
    decision = decide_now(db, world)
    assert (decision.executed_index, decision.explored, decision.settles) == (0, True, True)
    certify(db, measure_w(db, world))
    with db.write() as s:
        row = settling.settle(s, world.proposal_id)
        assert (row.kind, row.reason) == ("settled", "")
    assert payouts(db, world) == {t: (DEPOSIT, PAID_IN_0[t]) for t in ("A", "B")}
    assert cash(db, world)["sponsor"] == SPONSOR_IN_0
    assert_conserved(db)


def test_randomised_only_unwinds_when_the_draw_did_not_explore(db: Database) -> None:
    """u ≥ ε: the greedy branch is executed and every bet is unwound, with no measurement
    needed: each trader gets back exactly its 50, the sponsor its F."""
    world = build(db, RANDOMISED, seed_where(1, lambda u: u >= 0.2))
    decision = decide_now(db, world)
    assert (decision.executed_index, decision.explored, decision.settles) == (0, False, False)
    with db.write() as s:
        row = settling.settle(s, world.proposal_id)
        assert (row.kind, row.executed_index, row.measurement_id) == ("unwound", None, None)
        assert row.reason.startswith(
            f"the randomised_only draw did not explore (u = {decision.draw_u!r}): branch 0 was"
        )
        assert (row.paid_micros, row.sponsor_paid_micros) == (2 * DEPOSIT, F_BINARY)
    assert payouts(db, world) == {"A": (DEPOSIT, DEPOSIT), "B": (DEPOSIT, DEPOSIT)}
    assert cash(db, world) == {"A": CASH, "B": CASH, "sponsor": F_BINARY}
    assert_emptied(db, world, ["unwound", "unwound"], "unwound")
    assert_conserved(db)


def test_a_proposal_the_council_declares_unmeasurable_is_unwound_while_open(
    db: Database,
) -> None:
    world = build(db)
    member = seat(db)
    motion_id = council_passes(db, member, "void_proposal", {"proposal_id": world.proposal_id})
    with db.read() as s:
        assert settling.void_motion_of(s, world.proposal_id) == motion_id
        assert settling.due_proposals(s) == [world.proposal_id]
    with db.write() as s:
        row = settling.settle(s, world.proposal_id)
        assert (row.kind, row.reason) == (
            "unwound",
            f"declared unmeasurable by council motion {motion_id}",
        )
    assert payouts(db, world) == {"A": (DEPOSIT, DEPOSIT), "B": (DEPOSIT, DEPOSIT)}
    assert cash(db, world) == {"A": CASH, "B": CASH, "sponsor": F_BINARY}
    assert_emptied(db, world, ["unwound", "unwound"], "unwound")
    with pytest.raises(MarketClosed, match="is unwound"), db.write() as s:
        execute(s, world.traders["B"], world.market_ids[1], Order(0, Side.BUY, shares_micros=UNIT))
    with db.read() as s:
        assert settling.due_proposals(s) == []
        report = settling.settlement_report(s, world.proposal_id)
        assert report.void_motion_id == motion_id
        assert report.decision is None
        assert [b.traders_cash_micros for b in report.branches] == [
            2 * DEPOSIT - CHARGES[0] - CHARGES[1],
            2 * DEPOSIT - CHARGES[2] - CHARGES[3],
        ]
    assert_conserved(db)


def test_a_declaration_unwinds_a_decided_proposal_whose_measurement_is_certified(
    db: Database,
) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    council_passes(db, seat(db), "void_proposal", {"proposal_id": world.proposal_id})
    with db.write() as s:
        assert settling.settle(s, world.proposal_id).kind == "unwound"
    assert cash(db, world) == {"A": CASH, "B": CASH, "sponsor": F_BINARY}


def test_void_proposal_motions_are_checked_and_record_the_declaration_only(
    db: Database,
) -> None:
    member = seat(db)
    member_id = member[0]
    deadline = utcnow() + timedelta(days=1)
    with db.write() as s:
        filer = members.get_member(s, member_id)
        for payload, message in [
            ({"proposal_id": 0}, "must be from 1 to 2147483647, not 0"),
            ({"proposal_id": 2**31}, "must be from 1 to 2147483647"),
            ({"proposal_id": True}, "needs an integer proposal_id"),
            ({"proposal_id": "1"}, "needs an integer proposal_id"),
            ({}, "needs an integer proposal_id, not None"),
            ({"proposal_id": 1, "why": "x"}, "takes only proposal_id; unknown: why"),
        ]:
            with pytest.raises(InvalidWelfareInput, match=message):
                motions.file_motion(
                    s, filer, kind="void_proposal", title="t", payload=payload, deadline=deadline
                )
    motion_id = council_passes(db, member, "void_proposal", {"proposal_id": 7})
    with db.read() as s:
        result = motions.result_of(s, motion_id)
        assert result is not None
        assert result.effect_detail == (
            "proposal 7 declared unmeasurable: settling it (POST /proposals/7/settle) unwinds "
            "it, giving every trader back what they put in"
        )
        # the declaration names no existing proposal: nothing is voided, nothing breaks
        assert settling.void_motion_of(s, 7) == motion_id
        assert settling.due_proposals(s) == []


def test_motions_reference_what_they_adopt_or_certify(db: Database) -> None:
    world = build(db)
    mid = measure_w(db, world)
    member = seat(db)
    motion_id = council_passes(db, member, "certify_measurement", {"measurement_id": mid})
    with db.read() as s:
        motion = motions.get_motion(s, motion_id)
        assert (motion.measurement_id, motion.metric_version_id) == (mid, None)


def test_settling_before_the_measurement_is_certified_says_what_is_missing(
    db: Database,
) -> None:
    world = build(db)
    with pytest.raises(settling.CannotSettleYet) as refused, db.write() as s:
        settling.settle(s, world.proposal_id)
    assert str(refused.value).startswith(
        "proposal 1 is open: it settles only once decided (POST /proposals/1/decide, due at "
    )
    decide_now(db, world)
    missing = (
        f"proposal {world.proposal_id} cannot settle yet: no certified measurement of version "
        f"{world.version_id}, entity Testland, period 2030 yet: compute one with the data "
        "known at 2031-06-30 (POST /measurements) and certify it by council motion"
    )
    with pytest.raises(settling.CannotSettleYet) as refused, db.write() as s:
        settling.settle(s, world.proposal_id)
    assert str(refused.value) == missing
    mid = measure_w(db, world)  # computed, not yet certified
    with pytest.raises(settling.CannotSettleYet) as refused, db.write() as s:
        settling.settle(s, world.proposal_id)
    assert str(refused.value) == missing
    with db.read() as s:
        assert settling.due_proposals(s) == []
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0
    council_passes(db, seat(db), "certify_measurement", {"measurement_id": mid})
    with db.read() as s:
        assert settling.due_proposals(s) == [world.proposal_id]
    with db.write() as s:
        assert settling.settle(s, world.proposal_id).kind == "settled"
    assert payouts(db, world) == {t: (DEPOSIT, PAID_IN_0[t]) for t in ("A", "B")}


def test_a_certified_measurement_at_another_cutoff_does_not_settle(db: Database) -> None:
    world = build(db)
    decide_now(db, world)
    with db.write() as s:
        append_observations(s, "score", [ObservationInput(ENTITY, 2030, W, RELEASED)])
        mid = measure(s, world.version_id, 2030, date(2031, 3, 1)).id
        certify_measurement(s, mid, 1)
    refusal = pytest.raises(settling.CannotSettleYet, match="but the certified one")
    with refusal as refused, db.write() as s:
        settling.settle(s, world.proposal_id)
    assert f"(measurement {mid}) used the data known at 2031-03-01" in str(refused.value)


def test_an_unknown_proposal_is_refused(db: Database) -> None:
    with pytest.raises(UnknownProposal, match="no proposal with id 99"), db.write() as s:
        settling.settle(s, 99)
    with pytest.raises(UnknownProposal), db.read() as s:
        settling.settlement_report(s, 99)


@pytest.mark.slow
def test_two_settles_at_once_make_one_settlement(db: Database) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    start = threading.Barrier(4)
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        try:
            with db.write() as s:
                row = settling.settle(s, world.proposal_id)
            with lock:
                ids.append(row.id)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == 4
    assert len(set(ids)) == 1
    assert cash(db, world) == {"A": 107_013_152, "B": 95_111_859, "sponsor": SPONSOR_IN_0}
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 1
        assert s.scalar(select(func.count()).select_from(Payout)) == 2
    assert_conserved(db)


def _state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the settlement writes to (ids aside), to compare runs."""
    queries = {
        "cash": "SELECT account_id, cash_micros FROM cash_balance",
        "branch_cash": "SELECT account_id, market_id, cash_micros FROM branch_cash",
        "position": "SELECT account_id, market_id, outcome, shares_micros FROM position",
        "market": "SELECT id, status, maker_cash_micros FROM market",
        "proposal": "SELECT id, status, collateral_micros FROM proposal",
        "payout": "SELECT proposal_id, account_id, deposit_micros, paid_micros FROM payout",
        "settlement": "SELECT proposal_id, kind, paid_micros, sponsor_paid_micros FROM settlement",
        "ledger": (
            "SELECT kind, holder, market_id, account_id, amount_micros FROM ledger_entry "
            "WHERE kind IN ('settle', 'unwind')"
        ),
    }
    return {
        k: sorted((tuple(r) for r in session.execute(text(q))), key=repr)
        for k, q in queries.items()
    }


def test_an_interrupted_settlement_rerun_gives_the_result_of_one_clean_run(
    db: Database, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path, tmp_path: Path
) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    with db.read() as s:
        before = _state(s)

    def crash(session: Session, *_args: Any) -> None:
        # the payouts and the ledger operation are written by now
        assert session.scalar(select(func.count()).select_from(Payout)) == 2
        raise RuntimeError("the machine stopped")

    monkeypatch.setattr(settling, "_zero_holdings", crash)
    with pytest.raises(RuntimeError, match="the machine stopped"), db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        assert _state(s) == before  # rolled back: nothing was paid
    monkeypatch.undo()

    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        rerun = _state(s)
    assert rerun["payout"] == [
        (world.proposal_id, world.traders["A"], DEPOSIT, 57_013_152),
        (world.proposal_id, world.traders["B"], DEPOSIT, 45_111_859),
    ]
    assert cash(db, world) == {"A": 107_013_152, "B": 95_111_859, "sponsor": SPONSOR_IN_0}
    assert_conserved(db)

    # one clean run of the same world in a fresh database writes the same rows
    shutil.copyfile(sqlite_template, tmp_path / "clean.db")
    clean = Database(f"sqlite:///{tmp_path / 'clean.db'}")
    try:
        again = build(clean)
        decide_now(clean, again)
        certify(clean, measure_w(clean, again))
        with clean.write() as s:
            settling.settle(s, again.proposal_id)
        with clean.read() as s:
            assert _state(s) == rerun
    finally:
        clean.dispose()


def test_the_ledger_holds_one_balanced_settle_operation(db: Database) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        rows = s.execute(
            select(
                LedgerEntry.operation, LedgerEntry.market_id, func.sum(LedgerEntry.amount_micros)
            )
            .where(LedgerEntry.kind == "settle")
            .group_by(LedgerEntry.operation, LedgerEntry.market_id)
        ).all()
        assert len({r[0] for r in rows}) == 1
        assert {r[1]: r[2] for r in rows} == {
            None: 0,
            world.market_ids[0]: 0,
            world.market_ids[1]: 0,
        }
        stakes = s.scalars(select(Stake).where(Stake.proposal_id == world.proposal_id)).all()
        assert sorted(st.deposit_micros for st in stakes) == [DEPOSIT, DEPOSIT]  # kept


def test_what_each_account_was_paid_is_listed_by_proposal(db: Database) -> None:
    world = build(db)
    decide_now(db, world)
    certify(db, measure_w(db, world))
    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        (a,) = settling.settlements_of_account(s, world.traders["A"])
        assert (a.kind, a.deposit_micros, a.paid_micros, a.profit_micros, a.traded) == (
            "settled",
            DEPOSIT,
            57_013_152,
            7_013_152,
            True,
        )
        assert a.sponsor_subsidy_micros is None
        (sp,) = settling.settlements_of_account(s, world.sponsor)
        assert (sp.traded, sp.paid_micros, sp.sponsor_subsidy_micros, sp.sponsor_paid_micros) == (
            False,
            0,
            F_BINARY,
            SPONSOR_IN_0,
        )
        assert (
            settling.settlements_of_account(s, world.traders["A"], after_id=world.proposal_id) == []
        )
