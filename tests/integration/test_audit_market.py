"""The market streams of the audit log, on SQLite and PostgreSQL: a whole lifecycle
replays from its events alone, the replay equals the database, and a changed amount is
caught by the replay even when every hash was recomputed.

The world: a metric version with tradable bounds ``[0, 1]`` measuring Testland; a sponsor
with ``F = 69.314718`` (``b = 99.999999``) opens a binary proposal (branch 0 "Leave at
18", branch 1 the status quo) that settles on Testland 2030 at `CUTOFF`. Traders A, B and C
are credited 100 each and split 50, 50 and 30 into it, then trade:

====  ======  ======  ======================================
when  trader  branch  order
====  ======  ======  ======================================
+5m   A       0       buy 40 LONG
+10m  B       0       spend 10 on SHORT
+15m  C       1       buy 20 SHORT
+20m  A       0       sell 10 LONG
+25m  B       1       buy 5 LONG
====  ======  ======  ======================================

B merges 5 back, C debits 20, the proposal is cranked at +1h and decided at +2h (branch
0 leads, so it is executed); the certified measurement ``W = 0.725`` settles it. A second
proposal (sponsored again) takes A's split of 10 and a buy of 5 LONG, is closed and then
declared unmeasurable by a council motion, so it is unwound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, update
from sqlalchemy.orm import Session

from api.seed import seed_demo
from db import audit
from db.audit_chain import (
    GOVERNANCE,
    AuditMismatch,
    ChainCheck,
    body_hash,
    market_of_stream,
    market_stream,
)
from db.canonical import encode
from db.identity import create_account
from db.session import Database
from db.types import utcnow
from market import audit_trail, deciding, funding, settling
from market import repository as repo
from market.audit_replay import MarketReplay, ReplayedState
from market.decision import commitment
from market.errors import InsufficientFunds, InsufficientShares, MarketClosed
from market.models import AssetKind, Market
from market.proposals import ProposalSpec, SettlesOnSpec, close_proposal, create_proposal
from market.trading import Order, Side, execute
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import F_BINARY, UNIT, build_world, new_account
from welfare import members, motions
from welfare.audit_replay import (
    CertifiedMeasurement,
    GovernanceFacts,
    GovernanceReplay,
    PassedMotion,
)
from welfare.measurement_service import certify_measurement, measure
from welfare.observation_service import ObservationInput, append_observations
from welfare.records import Measurement

W = 0.725
CUTOFF = date(2031, 6, 30)
SEED = bytes(range(32))


# --- governance facts, built by hand from what the test did ---------------------------------
#
# `welfare.audit_replay.GovernanceReplay` derives these from the governance stream; this test
# adopts its metric and certifies its measurement with stand-in motion ids
# (`tests.helpers.adopt_metric`), so it states the facts itself, from the stored rows.


def facts_of(db: Database, measurement_id: int, motion_id: int, unwound: int) -> GovernanceFacts:
    with db.read() as s:
        measured = s.get(Measurement, measurement_id)
        assert measured is not None
        certified = CertifiedMeasurement(
            value=measured.value,
            version_id=measured.version_id,
            motion_id=1,
            seq=0,
            entity=measured.entity,
            period=measured.period,
            cutoff=measured.cutoff.isoformat(),
        )
    passed = PassedMotion("void_proposal", {"proposal_id": unwound}, 0)
    return GovernanceFacts({measurement_id: certified}, {motion_id: passed}, 0, 0)


# --- the world ----------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    traders: dict[str, int]
    sponsor: int
    settled: int  # the proposal that settles
    settled_markets: tuple[int, ...]
    unwound: int  # the proposal that is unwound
    unwound_markets: tuple[int, ...]
    facts: GovernanceFacts


def _spec(t0: datetime, title: str) -> ProposalSpec:
    return ProposalSpec(
        title=title,
        alternatives=("Leave at 18",),
        asset_kind=AssetKind.SCALAR,
        opens_at=t0 - timedelta(hours=1),
        closes_at=t0 + timedelta(days=1),
        decides_at=t0 + timedelta(hours=2),
        subsidy_micros=F_BINARY,
        seed=SEED,
        settles_on=SettlesOnSpec(period="2030", cutoff=CUTOFF),
    )


def _buy(shares: int) -> Order:
    return Order(0, Side.BUY, shares_micros=shares * UNIT)


def build(db: Database) -> World:
    """The lifecycle of the module docstring, through the services only."""
    t0 = utcnow()
    with db.write() as s:
        version = adopt_metric(s, lo=0.0, hi=1.0)
        sponsor = new_account(s, "sponsor", "admin", F_BINARY)
        p1 = create_proposal(s, sponsor, _spec(t0, "Raise the school leaving age"), now=t0)
        m1 = tuple(m.id for m in repo.markets_of(s, [p1.id]))
        traders = {n: new_account(s, n, cash=100 * UNIT) for n in ("A", "B", "C")}
        for name, amount in (("A", 50), ("B", 50), ("C", 30)):
            funding.split(s, traders[name], p1.id, amount * UNIT)
    orders = (
        (5, "A", m1[0], _buy(40)),
        (10, "B", m1[0], Order(1, Side.BUY, spend_micros=10 * UNIT)),
        (15, "C", m1[1], Order(1, Side.BUY, shares_micros=20 * UNIT)),
        (20, "A", m1[0], Order(0, Side.SELL, shares_micros=10 * UNIT)),
        (25, "B", m1[1], _buy(5)),
    )
    for minutes, name, market, order in orders:
        with db.write() as s:
            execute(s, traders[name], market, order, now=t0 + timedelta(minutes=minutes))
    with db.write() as s:
        funding.merge(s, traders["B"], p1.id, 5 * UNIT)
        funding.debit(s, traders["C"], 20 * UNIT)
    with db.write() as s:
        deciding.crank(s, proposal_id=p1.id, now=t0 + timedelta(hours=1))
    with db.write() as s:
        decided = deciding.decide(s, p1.id, traders["A"], now=t0 + timedelta(hours=2, seconds=1))
        assert (decided.executed_index, decided.settles) == (0, True)
    with db.write() as s:
        append_observations(s, "score", [ObservationInput("Testland", 2030, W, date(2031, 1, 1))])
        measurement = measure(s, version, 2030, CUTOFF)
        certify_measurement(s, measurement.id, 1)
        measurement_id = measurement.id
    with db.write() as s:
        assert settling.settle(s, p1.id).kind == "settled"

    with db.write() as s:
        funding.credit(s, sponsor, F_BINARY)
        p2 = create_proposal(s, sponsor, _spec(t0, "Lower the voting age"), now=t0)
        m2 = tuple(m.id for m in repo.markets_of(s, [p2.id]))
        funding.split(s, traders["A"], p2.id, 10 * UNIT)
    with db.write() as s:
        execute(s, traders["A"], m2[0], _buy(5), now=t0 + timedelta(minutes=30))
    with db.write() as s:
        close_proposal(s, p2.id)
    motion_id = _council_voids(db, p2.id)
    with db.write() as s:
        assert settling.settle(s, p2.id).kind == "unwound"
    facts = facts_of(db, measurement_id, motion_id, p2.id)
    return World(traders, sponsor, p1.id, m1, p2.id, m2, facts)


def _council_voids(db: Database, proposal_id: int) -> int:
    """One council member holding every seat files a void_proposal motion, votes yes and
    decides it after its deadline; returns the motion's id."""
    t0 = utcnow()
    deadline = t0 + timedelta(days=1)
    with db.write() as s:
        account = create_account(s, "council-solo", "council")
        member = members.create_member(
            s, name="Solo", constituency="All", population=1_000, account_id=account.id
        )
        motion = motions.file_motion(
            s,
            member,
            kind="void_proposal",
            title="Testland cannot be measured",
            payload={"proposal_id": proposal_id},
            deadline=deadline,
            now=t0,
        )
        motions.cast_ballot(s, member, motion.id, "yes", now=t0)
        motion_id, account_id = motion.id, account.id
    with db.write() as s:
        result = motions.decide(
            s, motion_id, account_id=account_id, now=deadline + timedelta(seconds=1)
        ).result
        assert (result.outcome, result.effect_status) == ("passed", "applied")
    return motion_id


# --- replaying the database's streams -------------------------------------------------------


def stored(s: Session, stream: str, after: int = 0) -> Iterator[audit.StoredEvent]:
    """Every stored event of ``stream`` after ``after``, a page at a time."""
    while page := audit.events_page(s, stream, after=after):
        yield from page
        after = page[-1].seq


def replay(db: Database, facts: GovernanceFacts) -> ReplayedState:
    """Every chain checked, then the governance stream and every market stream (by market
    id) fed to the market replay, as the verifier does."""
    with db.read() as s:
        heads = audit_trail.stream_heads(s)
        assert heads[0].stream == GOVERNANCE
        replayer = MarketReplay(facts)
        for head in heads:
            chain = ChainCheck(head.stream)
            feed = replayer.governance_event if head.stream == GOVERNANCE else replayer.market_event
            for event in stored(s, head.stream):
                feed(chain.line(event.body, event.hash))
            chain.finish(head)
        return replayer.finish()


def events_of(db: Database, stream: str) -> list[dict[str, Any]]:
    with db.read() as s:
        return [json.loads(event.body) for event in stored(s, stream)]


def test_a_whole_lifecycle_replays_from_its_events_and_equals_the_database(
    db: Database,
) -> None:
    world = build(db)
    state = replay(db, world.facts)
    assert (state.trades_checked, state.decisions_checked, state.settlements_checked) == (6, 1, 2)
    with db.read() as s:
        audit_trail.compare_with_database(s, state)

    # each branch stream tells its market's story in order
    kinds = [e["kind"] for e in events_of(db, market_stream(world.settled_markets[0]))]
    assert kinds == [
        "market.opened",
        "split",
        "split",
        "split",
        "trade",
        "trade",
        "trade",
        "merge",
        "crank",
        "decision",
        "settlement",
    ]
    kinds = [e["kind"] for e in events_of(db, market_stream(world.unwound_markets[1]))]
    assert kinds == ["market.opened", "split", "proposal.closed", "settlement"]

    # the governance stream carries the credits, debits and proposals
    ours = {"cash.credit", "cash.debit", "proposal.created"}
    governance = [
        (e["kind"], e["data"].get("amount_micros"))
        for e in events_of(db, GOVERNANCE)
        if e["kind"] in ours
    ]
    assert governance == [
        ("cash.credit", F_BINARY),
        ("proposal.created", None),
        ("cash.credit", 100 * UNIT),
        ("cash.credit", 100 * UNIT),
        ("cash.credit", 100 * UNIT),
        ("cash.debit", 20 * UNIT),
        ("cash.credit", F_BINARY),
        ("proposal.created", None),
    ]

    # the replayed balances, written out: everything paid out, nothing left in either
    a, b, c = (world.traders[n] for n in ("A", "B", "C"))
    with db.read() as s:
        stored = {n: repo.cash_of(s, t) for n, t in world.traders.items()}
        stored["sponsor"] = repo.cash_of(s, world.sponsor)
    assert {"A": state.cash[a], "B": state.cash[b], "C": state.cash[c]} == {
        n: stored[n] for n in ("A", "B", "C")
    }
    assert state.cash[world.sponsor] == stored["sponsor"]
    # A gets its 10 back from the unwound proposal; C debited 20 of its 70
    assert sum(state.cash.values()) == 3 * 100 * UNIT + 2 * F_BINARY - 20 * UNIT
    assert state.branch_cash == {}
    assert state.positions == {}
    assert state.collateral == {}
    assert {m: s.status for m, s in state.markets.items()} == {
        world.settled_markets[0]: "settled",
        world.settled_markets[1]: "void",
        world.unwound_markets[0]: "unwound",
        world.unwound_markets[1]: "unwound",
    }
    assert state.stakes == {
        (a, world.settled): 50 * UNIT,
        (b, world.settled): 45 * UNIT,
        (c, world.settled): 30 * UNIT,
        (a, world.unwound): 10 * UNIT,
    }


def test_a_trade_event_carries_the_order_and_what_the_trade_stored(db: Database) -> None:
    world = build(db)
    stream = market_stream(world.settled_markets[0])
    spend = next(e for e in events_of(db, stream) if e["kind"] == "trade" and e["seq"] == 6)
    data = spend["data"]
    assert (data["side"], data["outcome"], data["spend_micros"]) == ("buy", 1, 10 * UNIT)
    assert 0 < data["cash_micros"] <= 10 * UNIT  # the most shares 10 pays for
    assert data["branch_cash_micros"] == 50 * UNIT - data["cash_micros"]
    assert data["position_micros"] == data["shares_micros"]
    assert data["trade_count"] == 2
    with db.read() as s:
        trade = s.execute(select(repo.TRADE).where(repo.TRADE.c.id == data["trade_id"])).one()
    assert (trade.account_id, trade.shares_micros, trade.cash_micros) == (
        world.traders["B"],
        data["shares_micros"],
        data["cash_micros"],
    )


def test_the_decision_event_reveals_the_committed_seed(db: Database) -> None:
    world = build(db)
    decision = next(
        e["data"]
        for e in events_of(db, market_stream(world.settled_markets[1]))
        if e["kind"] == "decision"
    )
    assert decision["seed_hex"] == SEED.hex()
    created = next(
        e["data"]
        for e in events_of(db, GOVERNANCE)
        if e["kind"] == "proposal.created" and e["data"]["proposal_id"] == world.settled
    )
    assert created["terms"]["seed_commitment"] == commitment(SEED)
    assert decision["decision"]["executed"] == 0
    assert decision["decided_by"] == world.traders["A"]


# --- tampering ----------------------------------------------------------------------------


def rewrite(db: Database, stream: str, seq: int, change: Any) -> None:
    """Change event ``seq``'s data with ``change(data)`` and recompute its hash and every
    later link of the stream, and the head on the market row, as an attacker with write
    access to the database would: the chains still check."""
    with db.write() as s:
        prev = None
        table = audit.AuditEvent.__table__
        for event in list(stored(s, stream, seq - 1)):
            number = event.seq
            record = json.loads(event.body)
            if number == seq:
                change(record["data"])
            if prev is not None:
                record["prev"] = prev
            text = encode(record)
            prev = body_hash(text)
            s.execute(
                update(table)
                .where(table.c.stream == stream, table.c.seq == number)
                .values(body=text, hash=prev)
            )
        market_id = market_of_stream(stream)
        s.execute(update(Market).where(Market.id == market_id).values(audit_hash=prev))


def test_a_changed_trade_amount_is_caught_by_the_replay_not_the_chain(db: Database) -> None:
    world = build(db)
    stream = market_stream(world.settled_markets[0])
    # the first trade (A buys 40 LONG) is event 5: charge it one micro-unit less
    rewrite(db, stream, 5, lambda data: data.update(cash_micros=data["cash_micros"] - 1))
    with pytest.raises(AuditMismatch) as caught:
        replay(db, world.facts)
    found = caught.value.disagreement
    assert (found.stream, found.seq) == (stream, 5)
    assert "moved 21.986807 of cash, but the book quotes 21.986808 for buying 40 shares" in (
        found.message
    )


def test_a_changed_payout_is_caught_by_the_replay(db: Database) -> None:
    world = build(db)
    executed = market_stream(world.settled_markets[0])
    last = len(events_of(db, executed))

    def richer(data: dict[str, Any]) -> None:
        data["payouts"][0]["paid_micros"] += 1
        data["paid_micros"] += 1
        data["sponsor_paid_micros"] -= 1

    # the same change in both branch streams, so the streams still agree with each other
    rewrite(db, executed, last, richer)
    void = market_stream(world.settled_markets[1])
    rewrite(db, void, len(events_of(db, void)), richer)
    with pytest.raises(AuditMismatch) as caught:
        replay(db, world.facts)
    found = caught.value.disagreement
    assert (found.stream, found.seq) == (executed, last)
    assert f"the payout to account {world.traders['A']} is recorded as" in found.message


def test_a_split_missing_from_one_branch_stream_is_caught(db: Database) -> None:
    world = build(db)
    void = market_stream(world.settled_markets[1])
    # B's split (event 3) now claims to be C's in the second branch only
    rewrite(db, void, 3, lambda data: data.update(account=world.traders["C"]))
    with pytest.raises(AuditMismatch) as caught:
        replay(db, world.facts)
    found = caught.value.disagreement
    assert (found.stream, found.seq) == (void, 3)


def test_a_balance_changed_behind_the_log_is_named(db: Database) -> None:
    world = build(db)
    state = replay(db, world.facts)
    with db.write() as s:
        s.execute(
            update(repo.CASH)
            .where(repo.CASH.c.account_id == world.traders["B"])
            .values(cash_micros=repo.CASH.c.cash_micros + 1)
        )
    with db.read() as s, pytest.raises(AuditMismatch) as caught:
        audit_trail.compare_with_database(s, state)
    found = caught.value.disagreement
    assert (found.stream, found.seq) == (GOVERNANCE, 0)
    assert f"account {world.traders['B']}'s cash is stored as" in found.message


# --- heads ----------------------------------------------------------------------------------


def test_every_market_stream_head_is_on_its_row(db: Database) -> None:
    world = build(db)
    with db.read() as s:
        heads = audit_trail.stream_heads(s)
        assert [h.stream for h in heads] == [GOVERNANCE] + [
            market_stream(m) for m in world.settled_markets + world.unwound_markets
        ]
        for head in heads[1:]:
            last = audit.stored_event(s, head.stream, head.seq)
            assert last is not None
            assert last[1] == head.hash
        page = audit_trail.market_heads(s, world.settled_markets[1], 1)
        assert [h.stream for h in page] == [market_stream(world.unwound_markets[0])]


# --- the trade path, and refusals -----------------------------------------------------------


def test_a_trade_appends_its_event_with_one_insert_and_no_extra_read(db: Database) -> None:
    world = build_world(db, traders=1, split=50 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    statements: list[str] = []

    def capture(_conn: Connection, _cursor: object, sql: str, *_: object) -> None:
        statements.append(" ".join(sql.split()).lower())

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.write() as s:
            statements.clear()
            execute(s, trader, market, _buy(1))
            done = [q for q in statements if not q.startswith("begin")]
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    # lock, branch cash, position, trade, market, the event, ledger
    assert len(done) == 7, done
    assert [q for q in done if q.startswith("select")] == [done[0]]
    assert "market.audit_seq, market.audit_hash" in done[0]  # the head comes with the lock
    (market_update,) = [q for q in done if q.startswith("update market")]
    assert "audit_seq=" in market_update.replace(" ", "")
    assert sum(q.startswith("insert into audit_event") for q in done) == 1
    with db.read() as s:
        (head,) = [h for h in audit_trail.stream_heads(s) if h.stream == market_stream(market)]
        row = s.get(Market, market)
        assert row is not None
        assert (head.seq, head.hash) == (row.audit_seq, row.audit_hash)
        assert head.seq == 3  # opened, the split, the trade


def test_a_refused_change_appends_nothing(db: Database) -> None:
    world = build_world(db, traders=2, split=10 * UNIT)
    poor, other = world.traders
    with db.read() as s:
        before = audit_trail.stream_heads(s)
    with pytest.raises(InsufficientFunds), db.write() as s:
        execute(s, poor, world.market_ids[0], _buy(1_000))
    with pytest.raises(InsufficientShares), db.write() as s:
        execute(s, poor, world.market_ids[0], Order(0, Side.SELL, shares_micros=UNIT))
    with pytest.raises(InsufficientFunds), db.write() as s:
        funding.merge(s, poor, world.proposal_id, 11 * UNIT)
    with pytest.raises(InsufficientFunds), db.write() as s:
        funding.debit(s, other, 1_000 * UNIT)
    with db.read() as s:
        assert audit_trail.stream_heads(s) == before
    with db.write() as s:
        close_proposal(s, world.proposal_id)
    with db.read() as s:
        after_close = audit_trail.stream_heads(s)
    with pytest.raises(MarketClosed), db.write() as s:
        funding.split(s, poor, world.proposal_id, UNIT)
    with db.write() as s:
        close_proposal(s, world.proposal_id)  # already closed: nothing changes
    with db.read() as s:
        assert audit_trail.stream_heads(s) == after_close
    assert [h.seq for h in after_close[1:]] == [h.seq + 1 for h in before[1:]]


def test_the_demo_replays_against_the_governance_streams_own_facts(db: Database) -> None:
    """The demo seed (`api.seed`) certifies its measurement and adopts its metric by real
    council motions, so here the governance replay itself supplies the facts."""
    with db.write() as s:
        report = seed_demo(s)
    with db.read() as s:
        governance = GovernanceReplay()
        chain = ChainCheck(GOVERNANCE)
        events = [chain.line(e.body, e.hash) for e in stored(s, GOVERNANCE)]
        for e in events:
            governance.apply(e)
        facts = governance.finish()
    assert len(facts.certified) == 1
    state = replay(db, facts)
    # the finished proposal: its trades, its decision and its settlement, all recomputed
    assert (state.decisions_checked, state.settlements_checked) == (1, 1)
    assert state.trades_checked > 0
    finished = report.finished_proposal_id
    assert {s.status for s in state.markets.values() if s.proposal_id == finished} == {
        "settled",
        "void",
    }
    with db.read() as s:
        audit_trail.compare_with_database(s, state)
