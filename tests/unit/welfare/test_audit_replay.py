"""Replaying the governance stream from hand-written events: the council is rebuilt, every
decided motion recounted, and the first event that disagrees is named with what was
expected.

The council of these tests: A, B and C with populations 1, 4 and 9 million, so √-weights
1 : 2 : 3 of the default 800 Penrose seats: A 133, B 267, C 400 (quorum ½, threshold ½).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.audit_chain import (
    GOVERNANCE,
    AuditMismatch,
    Event,
    Head,
    iso_instant,
    seal,
)
from db.canonical import digest
from welfare.audit_replay import (
    ADOPT,
    APPLIED,
    CERTIFY,
    CHANGE_RULES,
    COUNCIL_ROLE,
    DEFAULT_METHOD,
    FAILED,
    MOTION_KINDS,
    NONE,
    OBSERVATION_COLUMNS,
    VOID,
    GovernanceFacts,
    GovernanceReplay,
)
from welfare.metric import parse_definition, to_dict

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=7)
AFTER = DEADLINE + timedelta(hours=1)
SEATS = [[1, 133], [2, 267], [3, 400]]
A, B, C = 1, 2, 3


class Stream:
    """A governance stream written event by event, as the services append it."""

    def __init__(self) -> None:
        self.head = Head.empty(GOVERNANCE)
        self.events: list[Event] = []

    def add(self, kind: str, /, **data: Any) -> int:
        event = seal(self.head, kind, data, T0)
        self.head = event.head
        self.events.append(event)
        return event.seq

    def replay(self) -> GovernanceFacts:
        governance = GovernanceReplay()
        for event in self.events:
            governance.apply(event)
        return governance.finish()

    def disagreement(self) -> tuple[int, str]:
        with pytest.raises(AuditMismatch) as caught:
            self.replay()
        found = caught.value.disagreement
        assert found.stream == GOVERNANCE
        return found.seq, found.message


def at(moment: datetime) -> str:
    return iso_instant(moment)


def member(
    stream: Stream, member_id: int, name: str, population: int, seats: list[list[int]]
) -> int:
    return stream.add(
        "member.created",
        member_id=member_id,
        name=name,
        constituency=name,
        population=population,
        contribution=0,
        explicit_weight=None,
        account_id=None,
        seats=seats,
    )


def council() -> Stream:
    """Accounts 1 (admin) and 2 (council); members A, B, C (A holds account 2)."""
    stream = Stream()
    stream.add("account.created", account_id=1, name="admin", role="admin")
    stream.add("account.created", account_id=2, name="a", role="council")
    stream.add(
        "member.created",
        member_id=A,
        name="A",
        constituency="A",
        population=1_000_000,
        contribution=0,
        explicit_weight=None,
        account_id=2,
        seats=[[A, 800]],
    )
    member(stream, B, "B", 4_000_000, [[A, 267], [B, 533]])
    member(stream, C, "C", 9_000_000, SEATS)
    return stream


def file(stream: Stream, motion_id: int, kind: str, payload: Mapping[str, Any]) -> int:
    return stream.add(
        "motion.filed",
        motion_id=motion_id,
        kind=kind,
        title=f"motion {motion_id}",
        payload=dict(payload),
        filed_by_member_id=A,
        filed_at=at(T0),
        deadline=at(DEADLINE),
    )


def ballot(
    stream: Stream, ballot_id: int, motion_id: int, member_id: int, choice: str, when: datetime = T0
) -> int:
    return stream.add(
        "ballot.cast",
        ballot_id=ballot_id,
        motion_id=motion_id,
        member_id=member_id,
        choice=choice,
        cast_at=at(when),
    )


def line(
    member_id: int, seats: int, by: int | None, choice: str | None, to: int | None = None
) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "seats": seats,
        "carried_by": by,
        "choice": choice,
        "delegated_to": to,
        "in_cycle": False,
    }


def decided(stream: Stream, motion_id: int = 1, **changes: Any) -> int:
    """A decision of A yes, B yes, C abstain: 400 yes of 800, passed, no effect event."""
    data: dict[str, Any] = {
        "motion_id": motion_id,
        "outcome": "passed",
        "yes_weight": 400,
        "no_weight": 0,
        "abstain_weight": 400,
        "lost_weight": 0,
        "total_weight": 800,
        "quorum": "0.5",
        "threshold": "0.5",
        "quorum_met": True,
        "breakdown": [line(A, 133, A, "yes"), line(B, 267, B, "yes"), line(C, 400, C, "abstain")],
        "effect_status": APPLIED,
        "effect_detail": "",
        "decided_by_account_id": 1,
        "decided_at": at(AFTER),
    }
    data.update(changes)
    return stream.add("motion.decided", **data)


def voted(
    stream: Stream, motion_id: int = 1, kind: str = VOID, payload: Mapping[str, Any] | None = None
) -> Stream:
    file(stream, motion_id, kind, payload or {"proposal_id": 9})
    ballot(stream, 10 * motion_id + 1, motion_id, A, "yes")
    ballot(stream, 10 * motion_id + 2, motion_id, B, "yes")
    ballot(stream, 10 * motion_id + 3, motion_id, C, "abstain")
    return stream


# --- a stream that agrees ------------------------------------------------------------------


def test_a_council_and_a_passed_declaration_replay_with_no_disagreement() -> None:
    stream = voted(council())
    seq = decided(stream)
    stream.add("cash.credit", account_id=1, amount_micros=5)  # the market side's: ignored

    facts = stream.replay()

    assert facts.motions_checked == 1
    assert dict(facts.passed_motions[1].payload) == {"proposal_id": 9}
    assert (facts.passed_motions[1].kind, facts.passed_motions[1].seq) == (VOID, seq)
    assert facts.certified == {}
    assert facts.events == 11


def test_a_passed_rules_change_is_counted_under_the_rules_before_it() -> None:
    stream = voted(council(), 1, CHANGE_RULES, {"threshold": "2/3"})
    stream.add(
        "rules.set",
        rules_id=1,
        assembly_size=800,
        method="penrose",
        quorum="0.5",
        threshold="2/3",
        set_by_account_id=None,
        set_by_motion_id=1,
        set_at=at(AFTER),
        seats=SEATS,
    )
    decided(stream, 1)  # the recorded threshold is the old one, ½
    file(stream, 2, VOID, {"proposal_id": 4})
    ballot(stream, 21, 2, A, "yes")
    ballot(stream, 22, 2, B, "yes")
    ballot(stream, 23, 2, C, "no")
    seq = decided(  # 400 : 400 is not more than 2/3
        stream,
        2,
        outcome="rejected",
        no_weight=400,
        abstain_weight=0,
        threshold="2/3",
        effect_status=NONE,
        breakdown=[line(A, 133, A, "yes"), line(B, 267, B, "yes"), line(C, 400, C, "no")],
    )

    facts = stream.replay()

    assert facts.motions_checked == 2
    assert sorted(facts.passed_motions) == [1]
    assert seq == len(stream.events)


def test_a_delegation_in_force_at_the_deadline_carries_weight_one_after_it_does_not() -> None:
    stream = council()
    stream.add("delegation.set", delegation_id=1, member_id=C, delegate_id=B, created_at=at(T0))
    # created after the deadline: not in force for motion 1
    stream.add("delegation.set", delegation_id=2, member_id=C, delegate_id=A, created_at=at(AFTER))
    file(stream, 1, VOID, {"proposal_id": 9})
    ballot(stream, 11, 1, A, "no")
    ballot(stream, 12, 1, B, "yes")
    decided(
        stream,
        1,
        yes_weight=667,
        no_weight=133,
        abstain_weight=0,
        breakdown=[line(A, 133, A, "no"), line(B, 267, B, "yes"), line(C, 400, B, "yes", B)],
    )

    assert stream.replay().motions_checked == 1


def test_a_certification_gives_the_market_its_measurement() -> None:
    stream = council()
    stream.add("indicator.created", indicator_id=1, key="score", unit="points", description="")
    definition = to_dict(
        parse_definition(
            {
                "name": "Test welfare",
                "entity": "Testland",
                "unit": "points",
                "lo": 0.0,
                "hi": 100.0,
                "components": [
                    {
                        "key": "score",
                        "indicator": "score",
                        "unit": "points",
                        "weight": 1.0,
                        "normalisation": {"kind": "goalposts", "lo": 0.0, "hi": 100.0},
                    }
                ],
            }
        )
    )
    version = digest(definition)
    stream.add(
        "metric.drafted",
        version_id=version,
        name="Test welfare",
        definition=definition,
        created_by_account_id=1,
    )
    stream.add(
        "observations.appended",
        columns=list(OBSERVATION_COLUMNS),
        rows=[[1, "score", "Testland", "2030", 70.0, None, "2031-01-01", ""]],
    )
    voted(stream, 1, ADOPT, {"version_id": version, "effective_from": "2030-01-01"})
    stream.add(
        "metric.adopted",
        version_id=version,
        effective_from="2030-01-01",
        motion_id=1,
        adopted_at=at(AFTER),
    )
    decided(stream, 1)
    stream.add(
        "measurement.taken",
        measurement_id=5,
        version_id=version,
        entity="Testland",
        period="2030",
        cutoff="2031-06-30",
        value=70.0,
        breakdown=[],
        missing={},
        monte_carlo=0,
        seed=0,
        uncertainty=None,
        computed_by_account_id=None,
        computed_at=at(AFTER),
    )
    voted(stream, 2, CERTIFY, {"measurement_id": 5})
    certified = stream.add(
        "measurement.certified",
        measurement_id=5,
        motion_id=2,
        version_id=version,
        entity="Testland",
        period="2030",
        cutoff="2031-06-30",
        value=70.0,
        certified_at=at(AFTER),
    )
    decided(stream, 2)

    facts = stream.replay()

    (measured,) = facts.certified.items()
    assert measured[0] == 5
    assert (measured[1].value, measured[1].version_id, measured[1].motion_id) == (70.0, version, 2)
    assert (measured[1].seq, measured[1].period, measured[1].cutoff) == (
        certified,
        "2030",
        "2031-06-30",
    )
    assert sorted(facts.passed_motions) == [1, 2]


# --- the first disagreement ----------------------------------------------------------------


def test_seats_that_are_not_the_apportionment_are_named() -> None:
    stream = council()
    seq = member(stream, 4, "D", 16_000_000, [[A, 133], [B, 267], [C, 400], [4, 0]])

    assert stream.disagreement() == (
        seq,
        (
            "member 1 is recorded with 133 seats; penrose apportionment of the council under the "
            "rules in force (assembly 800) gives it 80"
        ),
    )


def test_a_changed_ballot_choice_is_caught_by_the_recount() -> None:
    stream = council()
    file(stream, 1, VOID, {"proposal_id": 9})
    ballot(stream, 11, 1, A, "yes")
    ballot(stream, 12, 1, B, "yes")
    ballot(stream, 13, 1, C, "no")  # the recorded decision counted C abstaining
    seq = decided(stream, 1)

    assert stream.disagreement() == (
        seq,
        (
            "motion 1's no_weight is recorded as 0; its ballots, the delegations in force at its "
            "deadline and the seats and rules in force give 400"
        ),
    )


@pytest.mark.parametrize(
    ("when", "member_id", "message"),
    [
        (
            DEADLINE,
            B,
            (
                "ballot 12 was cast at 2026-03-08T12:00:00.000000Z; voting on motion 1 closed "
                "at its deadline, before that"
            ),
        ),
        (T0, A, "member 1 votes twice on motion 1; a ballot cannot be changed"),
        (T0, 7, "ballot 12 names member 7, which is not on the council"),
    ],
)
def test_a_ballot_the_service_would_refuse_is_named(
    when: datetime, member_id: int, message: str
) -> None:
    stream = council()
    file(stream, 1, VOID, {"proposal_id": 9})
    ballot(stream, 11, 1, A, "yes")
    seq = ballot(stream, 12, 1, member_id, "no", when)

    assert stream.disagreement() == (seq, message)


def test_a_ballot_after_the_decision_and_a_second_decision_are_named() -> None:
    late = voted(council())
    decided(late)
    seq = ballot(late, 14, 1, C, "yes")
    assert late.disagreement() == (seq, "ballot 14 is cast on motion 1, decided already")

    twice = voted(council())
    decided(twice)
    seq = decided(twice, 1)
    assert twice.disagreement() == (seq, "motion 1 was decided already; a result is recorded once")


def test_a_decision_before_the_deadline_is_named() -> None:
    stream = voted(council())
    seq = decided(stream, 1, decided_at=at(DEADLINE - timedelta(seconds=1)))

    assert stream.disagreement() == (
        seq,
        "motion 1 was decided at 2026-03-08T11:59:59.000000Z, before its deadline",
    )


def test_an_effect_must_be_followed_by_its_decision() -> None:
    stream = voted(council(), 1, CHANGE_RULES, {"quorum": "0.6"})
    effect = stream.add(
        "rules.set",
        rules_id=1,
        assembly_size=800,
        method="penrose",
        quorum="0.6",
        threshold="0.5",
        set_by_account_id=None,
        set_by_motion_id=1,
        set_at=at(AFTER),
        seats=SEATS,
    )
    with pytest.raises(AuditMismatch) as caught:
        stream.replay()
    assert (caught.value.disagreement.seq, caught.value.disagreement.message) == (
        effect,
        "the stream ends after the effect of motion 1 without its motion.decided",
    )

    seq = ballot(stream, 99, 1, C, "no")
    assert stream.disagreement() == (
        seq,
        (
            f"expected motion 1's motion.decided right after its effect (the rules.set event "
            f"#{effect}), found a ballot.cast event"
        ),
    )


def test_a_passed_motion_without_its_effect_is_named() -> None:
    stream = voted(council(), 1, CHANGE_RULES, {"quorum": "0.6"})
    seq = decided(stream, 1)

    assert stream.disagreement() == (
        seq,
        (
            "motion 1 passed and its effect could apply, but no rules.set event comes right "
            "before its decision"
        ),
    )


def test_a_passed_declaration_is_recorded_as_applied() -> None:
    stream = voted(council())
    seq = decided(stream, 1, effect_status=FAILED)

    assert stream.disagreement() == (
        seq,
        (
            "motion 1's effect is recorded as 'failed'; expected 'applied' (the passed motion is "
            "the declaration)"
        ),
    )


def test_a_metric_version_must_hash_to_its_id() -> None:
    stream = council()
    stream.add("indicator.created", indicator_id=1, key="score", unit="points", description="")
    seq = stream.add(
        "metric.drafted",
        version_id="0" * 64,
        name="x",
        definition={"name": "x"},
        created_by_account_id=None,
    )

    found, message = stream.disagreement()

    assert found == seq
    assert message.startswith("the metric.drafted event is refused: ")


def test_an_adoption_and_a_certification_need_what_they_name() -> None:
    adopt = voted(council(), 1, VOID)
    seq = adopt.add(
        "metric.adopted",
        version_id="f" * 64,
        effective_from="2030-01-01",
        motion_id=1,
        adopted_at=at(AFTER),
    )
    assert adopt.disagreement() == (
        seq,
        f"metric version {'f' * 64} is adopted but was never drafted",
    )

    certify = voted(council(), 1, VOID)
    seq = certify.add(
        "measurement.certified",
        measurement_id=5,
        motion_id=1,
        version_id="f" * 64,
        entity="X",
        period="2030",
        cutoff="2031-01-01",
        value=1.0,
        certified_at=at(AFTER),
    )
    assert certify.disagreement() == (seq, "measurement 5 is certified but was never taken")


def test_malformed_data_and_unknown_kinds_are_disagreements() -> None:
    stream = council()
    seq = stream.add("ballot.cast", ballot_id=1, motion_id=1, member_id=A, choice="yes")
    assert stream.disagreement() == (seq, "the ballot.cast event is malformed: it has no 'cast_at'")

    stream = council()
    seq = stream.add("member.deleted", member_id=A)
    assert stream.disagreement() == (seq, "'member.deleted' is not a kind of governance event")


def test_keys_are_issued_and_revoked_once() -> None:
    stream = council()
    stream.add("key.issued", key_id=1, account_id=2, role="council")
    stream.add("key.revoked", key_id=1, account_id=2, revoked_at=at(T0))
    seq = stream.add("key.revoked", key_id=1, account_id=2, revoked_at=at(T0))

    assert stream.disagreement() == (
        seq,
        "key 1 was revoked already; a revocation is recorded once",
    )


# --- the replay uses the service's own names, and is pure ----------------------------------


def test_the_replays_names_are_the_services() -> None:
    from db.identity import Role
    from welfare import members, observation_service
    from welfare.council import EffectStatus, MotionKind

    assert DEFAULT_METHOD == members.DEFAULT_METHOD
    assert {ADOPT, CHANGE_RULES, CERTIFY, VOID} == MOTION_KINDS == {k.value for k in MotionKind}
    assert {APPLIED, FAILED, NONE} == {s.value for s in EffectStatus}
    assert Role.COUNCIL.value == COUNCIL_ROLE
    assert OBSERVATION_COLUMNS == observation_service.AUDIT_COLUMNS


def test_the_replay_imports_no_database_code() -> None:
    code = (
        "import sys, welfare.audit_replay; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'fastapi'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
