"""Council on SQLite and PostgreSQL: members and seats, rules, motions, ballots, delegations,
decisions and their effects, append-only records, and the demo council."""

from __future__ import annotations

import functools
import sys
import threading
import types
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.base import Base
from db.identity import create_account
from db.session import Database
from welfare import members as council
from welfare import motions
from welfare.council import (
    Ballot,
    CouncilMember,
    CouncilRules,
    Delegation,
    Motion,
    MotionKind,
    MotionResult,
    MotionStatus,
)
from welfare.council_seed import seed_demo_council
from welfare.errors import (
    AlreadyDecided,
    AlreadyVoted,
    AppendOnlyViolation,
    DuplicateMember,
    InvalidWelfareInput,
    MotionNotDue,
    NotACouncilMember,
    UnknownMeasurement,
    UnknownMember,
    UnknownMetricVersion,
    UnknownMotion,
    VersionImmutable,
    VotingClosed,
)
from welfare.records import Measurement, MetricVersion
from welfare.seats import SeatMethod
from welfare.tally import Choice

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=7)
AFTER = DEADLINE + timedelta(hours=1)


def seat(session: Session, name: str, population: int, **extra: int) -> CouncilMember:
    """A member with its own council account."""
    account = create_account(session, f"acct-{name}", "council")
    return council.create_member(
        session,
        name=name,
        constituency=f"{name} constituency",
        population=population,
        account_id=account.id,
        **extra,
    )


def three_members(db: Database) -> tuple[int, int, int]:
    """Populations 1, 4 and 9 million: √ weights 1 : 2 : 3 of 800 seats → 133, 267, 400."""
    with db.write() as s:
        a = seat(s, "A", 1_000_000)
        b = seat(s, "B", 4_000_000)
        c = seat(s, "C", 9_000_000)
        return a.id, b.id, c.id


def counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (CouncilMember, CouncilRules, Motion, Ballot, Delegation, MotionResult)
    }


def file_rules_motion(db: Database, member_id: int, **payload: str) -> int:
    with db.write() as s:
        motion = motions.file_motion(
            s,
            council.get_member(s, member_id),
            kind=MotionKind.CHANGE_RULES,
            title="Raise the threshold",
            payload=payload or {"threshold": "2/3"},
            deadline=DEADLINE,
            now=T0,
        )
        return motion.id


def vote(db: Database, member_id: int, motion_id: int, choice: str, at: datetime = T0) -> None:
    with db.write() as s:
        motions.cast_ballot(s, council.get_member(s, member_id), motion_id, choice, now=at)


# --- members and seats --------------------------------------------------------------------


def test_members_get_penrose_seats_summing_to_the_assembly(db: Database) -> None:
    three_members(db)
    with db.read() as s:
        seats = {m.name: m.seats for m in council.list_members(s)}
        assert seats == {"A": 133, "B": 267, "C": 400}
        rules = council.current_rules(s)
        assert (rules.assembly_size, rules.method, rules.version_id) == (800, "penrose", None)


def test_rules_changes_reapportion_and_are_kept_as_history(db: Database) -> None:
    _a, _b, _c = three_members(db)
    with db.write() as s:
        admin = create_account(s, "root", "admin")
        council.set_rules(s, assembly_size=12, account_id=admin.id, now=T0)
        council.set_rules(s, method="equal", quorum="0.6", now=T0 + timedelta(days=1))
    with db.read() as s:
        assert [m.seats for m in council.list_members(s)] == [1, 1, 1]
        rules = council.current_rules(s)
        assert (rules.assembly_size, rules.method, rules.quorum) == (12, "equal", Fraction(3, 5))
        history = council.rules_history(s)
        assert [(r.assembly_size, r.method, r.quorum, r.threshold) for r in history] == [
            (12, "penrose", "0.5", "0.5"),
            (12, "equal", "0.6", "0.5"),
        ]
        assert history[0].set_by_account_id == admin.id
    with db.write() as s:
        council.set_rules(s, method=SeatMethod.PENROSE)
    with db.read() as s:
        assert [m.seats for m in council.list_members(s)] == [2, 4, 6]  # 12 seats, 1 : 2 : 3


def test_explicit_weights_and_two_factor(db: Database) -> None:
    with db.write() as s:
        for name, pop, weight, contribution in [
            ("FR", 45, 4, 9),
            ("DE", 55, 4, 16),
            ("LU", 1, 1, 0),
        ]:
            seat(s, name, pop, explicit_weight=weight, contribution=contribution)
        council.set_rules(s, method="explicit")
        assert [m.seats for m in council.list_members(s)] == [4, 4, 1]
        council.set_rules(s, method="two_factor", assembly_size=10)
        # population half 5 seats by √45 : √55 : √1 → 2, 2, 1; contribution half 5 seats
        # by √9 : √16 : √0 = 3 : 4 : 0 → 2, 3, 0
        assert [m.seats for m in council.list_members(s)] == [4, 5, 1]


def test_refused_member_changes_change_nothing(db: Database) -> None:
    three_members(db)
    with db.read() as s:
        before = counts(s)
    with db.write() as s:
        trader = create_account(s, "trader-1", "trader")
        seated = council.list_members(s)[0].account_id
    attempts: list[tuple[type[Exception], str, dict[str, object]]] = [
        (DuplicateMember, "named 'A' exists already", {"name": "A"}),
        (InvalidWelfareInput, "has the trader role", {"name": "D", "account_id": trader.id}),
        (DuplicateMember, "already holds the seat", {"name": "D", "account_id": seated}),
        (InvalidWelfareInput, "population must be a whole number", {"name": "D", "population": -1}),
        (InvalidWelfareInput, "member name is empty", {"name": "  "}),
    ]
    for error, message, overrides in attempts:
        kwargs: dict[str, object] = {"name": "D", "constituency": "D", "population": 5}
        kwargs.update(overrides)
        with pytest.raises(error, match=message), db.write() as s:
            council.create_member(s, **kwargs)  # type: ignore[arg-type]
    with db.write() as s:
        council.set_rules(s, assembly_size=3)
    with pytest.raises(InvalidWelfareInput, match="at least 4 seats"), db.write() as s:
        council.create_member(s, name="D", constituency="D", population=5)
    with pytest.raises(InvalidWelfareInput, match="weight for every member"), db.write() as s:
        council.set_rules(s, method="explicit")
    with db.read() as s:
        after = counts(s)
        assert after == {**before, "council_rules": 1}
        assert [m.seats for m in council.list_members(s)] == [1, 1, 1]
        assert council.current_rules(s).method == "penrose"


def test_the_council_is_bounded_at_200_members_and_4000_seats(db: Database) -> None:
    with db.write() as s:
        for i in range(200):
            s.add(CouncilMember(name=f"M{i:03}", constituency="c", population=i + 1, seats=0))
        s.flush()
        council.reapportion(s)
        assert sum(m.seats for m in council.list_members(s)) == 800
    with pytest.raises(InvalidWelfareInput, match="would have 201"), db.write() as s:
        council.create_member(s, name="One too many", constituency="", population=1)
    for size, message in [(4_001, "from 1 to 4000"), (10**9, "from 1 to 4000")]:
        with pytest.raises(InvalidWelfareInput, match=message), db.write() as s:
            council.set_rules(s, assembly_size=size)
    with db.write() as s:
        council.set_rules(s, assembly_size=4_000)
    with db.read() as s:
        assert len(council.list_members(s)) == 200
        assert sum(m.seats for m in council.list_members(s)) == 4_000
        assert [m.id for m in council.members_page(s, after_id=198, limit=5)] == [199, 200]


def test_names_are_normalised_and_unique_once_normalised(db: Database) -> None:
    with db.write() as s:
        france = council.create_member(
            s, name="  Ｆｒａｎｃｅ ", constituency="Ｒéｐｕｂｌｉｑｕｅ", population=67
        )
        assert (france.name, france.constituency) == ("France", "République")
        other = council.create_member(s, name="Other", constituency="", population=1)
        assert other.constituency == "Other"
    for name in ("France", "Ｆｒａｎｃｅ", "France\u200b"):
        error = DuplicateMember if "\u200b" not in name else InvalidWelfareInput
        with pytest.raises(error), db.write() as s:
            council.create_member(s, name=name, constituency="", population=1)
        with pytest.raises(error), db.write() as s:
            council.update_member(s, other.id, name=name)
    with pytest.raises(InvalidWelfareInput, match="U\\+202E"), db.write() as s:
        council.update_member(s, other.id, constituency="\u202eecnarF")
    with db.read() as s:
        assert [m.name for m in council.list_members(s)] == ["France", "Other"]


def test_update_member_relinks_account_and_reapportions(db: Database) -> None:
    a, _b, _c = three_members(db)
    with db.write() as s:
        council.update_member(s, a, population=9_000_000, account_id=None)
        assert [m.seats for m in council.list_members(s)] == [300, 200, 300]
        with pytest.raises(NotACouncilMember, match="holds no council seat"):
            council.member_for_account(s, create_account(s, "nobody", "council").id)
    with pytest.raises(UnknownMember, match="no council member with id 99"), db.write() as s:
        council.update_member(s, 99, population=1)


def test_power_table_of_the_council(db: Database) -> None:
    with db.write() as s:
        for name, w in zip(["FR", "DE", "IT", "BE", "NL", "LU"], [4, 4, 4, 2, 2, 1], strict=True):
            seat(s, name, 10**6, explicit_weight=w)
        council.set_rules(s, method="explicit")
    with db.read() as s:
        # threshold 2/3 of 17 seats: quota ⌊34/3⌋ + 1 = 12, the EEC 1958 game
        power = council.council_power(s, Fraction(2, 3))
        assert (power.quota, power.total_seats) == (12, 17)
        assert [r.banzhaf for r in power.rows] == [Fraction(k, 21) for k in (5, 5, 5, 3, 3, 0)]
        assert [r.shapley_shubik for r in power.rows] == [
            Fraction(k, 60) for k in (14, 14, 14, 9, 9, 0)
        ]
        assert power.jagiellonian_threshold == pytest.approx(0.5 * (1 + 1 / 6**0.5))
        default = council.council_power(s)
        assert (default.threshold, default.quota) == (Fraction(1, 2), 9)


# --- motions ------------------------------------------------------------------------------


def test_a_passed_change_rules_motion_changes_the_rules(db: Database) -> None:
    a, b, c = three_members(db)
    motion_id = file_rules_motion(db, a, quorum="0.75", threshold="2/3")
    vote(db, c, motion_id, "yes")
    vote(db, a, motion_id, "no")
    with db.write() as s:
        motions.delegate(s, council.get_member(s, b), c, now=T0)
    with db.read() as s:
        motion = motions.get_motion(s, motion_id)
        assert motion.payload == {"quorum": "0.75", "threshold": "2/3"}
        assert motions.status_of(motion, None, T0) is MotionStatus.OPEN
        assert motions.status_of(motion, None, AFTER) is MotionStatus.AWAITING_DECISION
    with db.write() as s:
        admin = create_account(s, "root", "admin")
        decision = motions.decide(s, motion_id, account_id=admin.id, now=AFTER)
        result = decision.result
        assert (result.outcome, result.yes_weight, result.no_weight) == ("passed", 667, 133)
        assert (result.abstain_weight, result.lost_weight, result.total_weight) == (0, 0, 800)
        assert (result.quorum, result.threshold, result.quorum_met) == ("0.5", "0.5", True)
        assert result.effect_status == "applied"
        assert result.effect_detail == "rules now: quorum 0.75, threshold 2/3"
        assert result.breakdown[1] == {
            "member_id": b,
            "seats": 267,
            "carried_by": c,
            "choice": "yes",
            "delegated_to": c,
            "in_cycle": False,
        }
    with db.read() as s:
        rules = council.current_rules(s)
        assert (rules.quorum, rules.threshold) == (Fraction(3, 4), Fraction(2, 3))
        assert rules.set_by_motion_id == motion_id
        stored = motions.result_of(s, motion_id)
        assert stored is not None
        assert motions.status_of(motions.get_motion(s, motion_id), stored, AFTER) == "passed"


def test_a_rejected_motion_has_no_effect(db: Database) -> None:
    a, _b, _c = three_members(db)
    motion_id = file_rules_motion(db, a)
    vote(db, a, motion_id, "yes")  # 133 of 800 take part: below the 0.5 quorum
    with db.write() as s:
        result = motions.decide(s, motion_id, account_id=1, now=AFTER).result
        assert (result.outcome, result.quorum_met, result.lost_weight) == ("rejected", False, 667)
        assert result.effect_status == "none"
    with db.read() as s:
        assert council.current_rules(s).version_id is None


def test_a_tie_is_rejected_and_abstentions_count_only_for_quorum(db: Database) -> None:
    with db.write() as s:
        ids = [seat(s, n, 10**6).id for n in "WXYZ"]  # 200 seats each
    motion_id = file_rules_motion(db, ids[0])
    for member_id, choice in zip(ids, ["yes", "no", "abstain", "abstain"], strict=True):
        vote(db, member_id, motion_id, choice)
    with db.write() as s:
        result = motions.decide(s, motion_id, account_id=1, now=AFTER).result
        assert (result.yes_weight, result.no_weight, result.abstain_weight) == (200, 200, 400)
        assert result.quorum_met
        assert result.outcome == "rejected"


def test_ballot_refusals(db: Database) -> None:
    a, b, _c = three_members(db)
    motion_id = file_rules_motion(db, a)
    vote(db, a, motion_id, "yes")
    with pytest.raises(AlreadyVoted, match="A has voted on motion 1 already"):
        vote(db, a, motion_id, "no")
    with pytest.raises(VotingClosed, match="closed at 2026-03-08T12:00:00"):
        vote(db, b, motion_id, "yes", at=DEADLINE)
    with pytest.raises(InvalidWelfareInput, match="yes, no or abstain"):
        vote(db, b, motion_id, "maybe")
    with pytest.raises(UnknownMotion, match="no motion with id 42"):
        vote(db, b, 42, "yes")
    with (
        pytest.raises(MotionNotDue, match="can be decided only after its deadline"),
        db.write() as s,
    ):
        motions.decide(s, motion_id, account_id=1, now=DEADLINE - timedelta(seconds=1))
    with db.write() as s:
        motions.decide(s, motion_id, account_id=1, now=DEADLINE)
    with pytest.raises(AlreadyDecided, match="decided already"), db.write() as s:
        motions.decide(s, motion_id, account_id=1, now=AFTER)
    with pytest.raises(VotingClosed, match="has been decided"):
        vote(db, b, motion_id, "yes")
    with db.read() as s:
        assert counts(s)["ballot"] == 1
        assert counts(s)["motion_result"] == 1


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("change_rules", {}, "must change quorum or threshold"),
        ("change_rules", {"threshold": "0.4"}, "at least 0.5 and below 1"),
        ("change_rules", {"quorum": "lots"}, "decimal like"),
        ("change_rules", {"quorum": "0.5", "colour": "red"}, "unknown: colour"),
        ("change_rules", ["quorum"], "must be a JSON object"),
        ("change_rules", {"quorum": True}, "must be a string"),
        ("adopt_metric_version", {"effective_from": "2027-01-01"}, "needs a version_id"),
        ("certify_measurement", {"measurement_id": "7"}, "integer measurement_id"),
        ("veto", {}, "kind must be one of"),
    ],
)
def test_malformed_motions_are_refused(
    db: Database, kind: str, payload: object, message: str
) -> None:
    a, _, _ = three_members(db)
    with pytest.raises(InvalidWelfareInput, match=message), db.write() as s:
        motions.file_motion(
            s,
            council.get_member(s, a),
            kind=kind,
            title="t",
            payload=payload,
            deadline=DEADLINE,
            now=T0,
        )
    with db.read() as s:
        assert counts(s)["motion"] == 0


def test_deadline_must_be_in_the_future(db: Database) -> None:
    a, _, _ = three_members(db)
    with pytest.raises(InvalidWelfareInput, match="is not in the future"), db.write() as s:
        motions.file_motion(
            s,
            council.get_member(s, a),
            kind="change_rules",
            title="late",
            payload={"quorum": "0.6"},
            deadline=T0,
            now=T0,
        )


# --- delegation ---------------------------------------------------------------------------


def test_delegations_count_as_of_the_deadline_and_cycles_are_lost(db: Database) -> None:
    with db.write() as s:
        ids = [seat(s, n, 10**6).id for n in "PQRS"]  # 200 seats each
    p, q, r, t = ids
    motion_id = file_rules_motion(db, p)
    with db.write() as s:
        m = {i: council.get_member(s, i) for i in ids}
        motions.delegate(s, m[q], r, now=T0)
        motions.delegate(s, m[r], q, now=T0)  # q ↔ r: a cycle
        motions.delegate(s, m[t], p, now=T0)
        motions.delegate(s, m[t], None, now=T0 + timedelta(hours=1))  # t revokes
        motions.delegate(s, m[t], p, now=T0 + timedelta(hours=2))  # and delegates again
        motions.delegate(s, m[r], p, now=AFTER - timedelta(minutes=1))  # too late to count
        with pytest.raises(InvalidWelfareInput, match="cannot delegate to itself"):
            motions.delegate(s, m[p], p)
        with pytest.raises(UnknownMember):
            motions.delegate(s, m[p], 999)
    vote(db, p, motion_id, "yes")
    with db.read() as s:
        assert motions.delegations_in_force(s, DEADLINE) == {q: r, r: q, t: p}
        assert motions.delegations_in_force(s) == {q: r, r: p, t: p}
    with db.write() as s:
        result = motions.decide(s, motion_id, account_id=1, now=AFTER).result
        assert (result.yes_weight, result.lost_weight) == (400, 400)
        assert [row["in_cycle"] for row in result.breakdown] == [False, True, True, False]
        assert result.outcome == "passed"  # 400 of 800 participate: quorum 0.5 met


def test_a_direct_vote_overrides_the_voters_own_delegation(db: Database) -> None:
    a, _b, c = three_members(db)
    motion_id = file_rules_motion(db, a)
    with db.write() as s:
        motions.delegate(s, council.get_member(s, c), a, now=T0)
    vote(db, a, motion_id, "yes")
    vote(db, c, motion_id, "no")
    with db.write() as s:
        result = motions.decide(s, motion_id, account_id=1, now=AFTER).result
        assert (result.yes_weight, result.no_weight, result.outcome) == (133, 400, "rejected")


# --- concurrency --------------------------------------------------------------------------


def race(threads: int, action: Callable[[], object]) -> tuple[int, list[BaseException]]:
    """Run ``action`` on ``threads`` threads released together: (successes, errors)."""
    start = threading.Barrier(threads)
    lock = threading.Lock()
    done: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            outcome = action()
        except BaseException as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)
        else:
            with lock:
                done.append(outcome)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(done), errors


def test_racing_ballots_and_decisions_are_recorded_once(db: Database) -> None:
    a, _b, c = three_members(db)
    motion_id = file_rules_motion(db, a)

    ok, errors = race(6, lambda: vote(db, c, motion_id, "yes"))
    assert ok == 1
    assert all(isinstance(e, AlreadyVoted) for e in errors), errors

    def decide() -> object:
        with db.write() as s:
            return motions.decide(s, motion_id, account_id=1, now=AFTER).result.id

    ok, errors = race(6, decide)
    assert ok == 1
    assert all(isinstance(e, AlreadyDecided) for e in errors), errors
    with db.read() as s:
        assert counts(s)["ballot"] == 1
        assert counts(s)["motion_result"] == 1
        assert len(council.rules_history(s)) == 1  # the effect applied once


# --- append-only --------------------------------------------------------------------------


def first(session: Session, model: type[Base]) -> Base:
    row = session.scalars(select(model)).first()
    assert row is not None
    return row


def delete_first(session: Session, model: type[Base]) -> None:
    session.delete(first(session, model))


def change_and_flush(db: Database, change: Callable[[Session], object]) -> None:
    with db.write() as s:
        change(s)
        s.flush()


def test_ballots_results_delegations_and_rules_are_append_only(db: Database) -> None:
    a, b, c = three_members(db)
    motion_id = file_rules_motion(db, a)
    vote(db, a, motion_id, "yes")
    with db.write() as s:
        motions.delegate(s, council.get_member(s, b), a, now=T0)
    vote(db, c, motion_id, "yes")
    with db.write() as s:
        motions.decide(s, motion_id, account_id=1, now=AFTER)
    models: tuple[type[Base], ...] = (Ballot, MotionResult, Delegation, CouncilRules, Motion)
    for model in models:
        with pytest.raises(AppendOnlyViolation, match="append-only"):
            change_and_flush(db, functools.partial(delete_first, model=model))
    with pytest.raises(AppendOnlyViolation, match="cannot be updated"):
        change_and_flush(db, lambda s: setattr(first(s, Ballot), "choice", Choice.NO.value))
    with db.read() as s:
        assert [b.choice for b in motions.ballots_of(s, motion_id)] == ["yes", "yes"]


# --- metric effects -----------------------------------------------------------------------


def test_unknown_metric_targets_are_404_at_filing(db: Database) -> None:
    pytest.importorskip("welfare.metric_service", reason="W-METRIC's services not merged yet")
    pytest.importorskip("welfare.measurement_service", reason="W-METRIC's services not merged")
    a, _, _ = three_members(db)
    cases = [
        ("adopt_metric_version", {"version_id": "f" * 64, "effective_from": "2027-01-01"}),
        ("certify_measurement", {"measurement_id": 12345}),
    ]
    for (kind, payload), error in zip(
        cases, [UnknownMetricVersion, UnknownMeasurement], strict=True
    ):
        with pytest.raises(error), db.write() as s:
            motions.file_motion(
                s,
                council.get_member(s, a),
                kind=kind,
                title="t",
                payload=payload,
                deadline=DEADLINE,
                now=T0,
            )


class FakeMetricSide:
    """Stands in for W-METRIC's services with their contract's signatures: records calls,
    refuses unknown targets (404) and a second adoption (409)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, object]] = []

    def get_version(self, _session: Session, version_id: str) -> object:
        if version_id != "v" * 64:
            raise UnknownMetricVersion(f"no metric version {version_id}")
        return object()

    def adopt_version(
        self, _session: Session, version_id: str, effective_from: date, motion_id: int
    ) -> None:
        if any(call[0] == "adopt" for call in self.calls):
            raise VersionImmutable(f"metric version {version_id[:8]}… is adopted already")
        self.calls.append(("adopt", (version_id, effective_from), motion_id))

    def get_measurement(self, _session: Session, measurement_id: int) -> object:
        if measurement_id != 7:
            raise UnknownMeasurement(f"no measurement with id {measurement_id}")
        return object()

    def certify_measurement(self, _session: Session, measurement_id: int, motion_id: int) -> None:
        self.calls.append(("certify", measurement_id, motion_id))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        metric = types.ModuleType("welfare.metric_service")
        metric.get_version = self.get_version  # type: ignore[attr-defined]
        metric.adopt_version = self.adopt_version  # type: ignore[attr-defined]
        measurement = types.ModuleType("welfare.measurement_service")
        measurement.get_measurement = self.get_measurement  # type: ignore[attr-defined]
        measurement.certify_measurement = self.certify_measurement  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "welfare.metric_service", metric)
        monkeypatch.setitem(sys.modules, "welfare.measurement_service", measurement)


def test_metric_effects_are_wired_to_the_metric_services_and_refusals_recorded(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring by contract, independent of the metric side's storage (the real services
    are exercised below once they exist)."""
    fake = FakeMetricSide()
    fake.install(monkeypatch)
    a, _, c = three_members(db)
    with db.write() as s:  # the rows the motions reference by foreign key
        s.add(MetricVersion(version_id="v" * 64, name="stand-in", canonical="{}"))
        s.flush()
        s.add(
            Measurement(
                id=7,
                version_id="v" * 64,
                entity="X",
                period="2007",
                cutoff=date(2008, 1, 1),
                value=0.0,
                breakdown=[],
                missing={},
            )
        )
    filings = [
        ("adopt_metric_version", {"version_id": "v" * 64, "effective_from": "2027-01-01"}),
        ("certify_measurement", {"measurement_id": 7}),
        ("adopt_metric_version", {"version_id": "v" * 64, "effective_from": "2028-01-01"}),
    ]
    ids = []
    with db.write() as s:
        for kind, payload in filings:
            motion = motions.file_motion(
                s,
                council.get_member(s, a),
                kind=kind,
                title=kind,
                payload=payload,
                deadline=DEADLINE,
                now=T0,
            )
            ids.append(motion.id)
        for kind, payload, error in [
            (
                "adopt_metric_version",
                {"version_id": "x", "effective_from": "2027-01-01"},
                UnknownMetricVersion,
            ),
            ("certify_measurement", {"measurement_id": 8}, UnknownMeasurement),
        ]:
            with pytest.raises(error):
                motions.file_motion(
                    s,
                    council.get_member(s, a),
                    kind=kind,
                    title="t",
                    payload=payload,
                    deadline=DEADLINE,
                    now=T0,
                )
        with pytest.raises(InvalidWelfareInput, match="not a calendar date"):
            motions.file_motion(
                s,
                council.get_member(s, a),
                kind="adopt_metric_version",
                title="t",
                payload={"version_id": "v" * 64, "effective_from": "2027-02-30"},
                deadline=DEADLINE,
                now=T0,
            )
    for motion_id in ids:
        vote(db, c, motion_id, "yes")
    with db.write() as s:
        results = [motions.decide(s, i, account_id=1, now=AFTER).result for i in ids]
    assert [r.outcome for r in results] == ["passed"] * 3
    assert [r.effect_status for r in results] == ["applied", "applied", "failed"]
    assert results[0].effect_detail == "metric version " + "v" * 64 + " adopted from 2027-01-01"
    assert results[1].effect_detail == "measurement 7 certified"
    assert results[2].effect_detail.startswith("the effect was refused: metric version vvvvvvvv")
    assert fake.calls == [
        ("adopt", ("v" * 64, date(2027, 1, 1)), ids[0]),
        ("certify", 7, ids[1]),
    ]


# --- the demo council ---------------------------------------------------------------------


def test_demo_council_is_idempotent_and_seats_800(db: Database) -> None:
    countries = [("China", 1_318_683_096), ("Iceland", 301_931), ("Nigeria", 135_031_164)]
    with db.write() as s:
        seeded = seed_demo_council(s, countries)
        assert sum(m.seats for m in seeded) == 800
        assert min(m.seats for m in seeded) >= 1
        first = {m.name: m.seats for m in seeded}
    with db.write() as s:
        again = seed_demo_council(s, countries)
        assert {m.name: m.seats for m in again} == first
        assert len(council.rules_history(s)) == 0  # penrose at 800 is the default
    with db.write() as s:
        smaller = seed_demo_council(s, countries, seats=30)
        assert sum(m.seats for m in smaller) == 30
    with pytest.raises(InvalidWelfareInput, match="only once"), db.write() as s:
        seed_demo_council(s, [("X", 1), ("X", 2)])
