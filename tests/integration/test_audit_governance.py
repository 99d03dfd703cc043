"""The governance stream on SQLite and PostgreSQL: a council's whole life is in the audit log,
and replaying the log alone recounts every motion and finds nothing amiss; a record edited
afterwards (with every hash and link after it recomputed, so the chain still holds) is
caught by the recount, at the first event that disagrees.

The council of this life: A, B, C (each with a council account) and D (no account), with
populations 1, 4, 9 and 16 million, so √-weights 1 : 2 : 3 : 4 of a 100-seat assembly:
A 10, B 20, C 30 and D 40 seats. D delegates to B.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db import audit, canonical
from db.audit import AuditEvent, AuditHead
from db.audit_chain import GOVERNANCE, AuditMismatch, ChainCheck, Event, body_hash
from db.identity import create_account, issue_key, revoke_api_key
from db.session import Database
from tests.integration.metric_helpers import CUTOFF, definition, indicators, world_2007
from welfare import members, motions
from welfare.audit_replay import GovernanceFacts, GovernanceReplay
from welfare.council import MotionKind
from welfare.measurement_service import measure
from welfare.metric_service import create_version
from welfare.observation_service import import_csv

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


# --- reading and rewriting the stream -----------------------------------------------------


def governance_events(db: Database) -> list[Event]:
    """The governance stream as stored, each event chain-checked."""
    chain = ChainCheck(GOVERNANCE)
    events: list[Event] = []
    with db.read() as s:
        while page := audit.events_page(s, GOVERNANCE, after=chain.head.seq):
            events.extend(chain.line(stored.body, stored.hash) for stored in page)
        chain.finish(audit.governance_head(s))
    return events


def replay(db: Database) -> GovernanceFacts:
    """Chain-check and replay the stored governance stream."""
    governance = GovernanceReplay()
    for event in governance_events(db):
        governance.apply(event)
    return governance.finish()


def first_disagreement(db: Database) -> tuple[int, str]:
    """``(seq, message)`` of the first disagreement the replay finds."""
    with pytest.raises(AuditMismatch) as caught:
        replay(db)
    found = caught.value.disagreement
    assert found.stream == GOVERNANCE
    return found.seq, found.message


def find(db: Database, kind: str, **fields: Any) -> Event:
    """The first governance event of ``kind`` whose data has these fields."""
    for event in governance_events(db):
        if event.kind == kind and all(event.data.get(k) == v for k, v in fields.items()):
            return event
    raise AssertionError(f"no {kind} event with {fields}")


def rewrite(db: Database, seq: int, change: dict[str, Any]) -> None:
    """Edit event ``seq``'s data as an attacker with write access would: re-encode it, then
    recompute its hash and every later event's link and hash, and move the head, so every
    chain check still passes."""
    with db.write() as s:
        rows = s.execute(
            select(AuditEvent.seq, AuditEvent.body)
            .where(AuditEvent.stream == GOVERNANCE, AuditEvent.seq >= seq)
            .order_by(AuditEvent.seq)
        ).all()
        previous = s.scalar(
            select(AuditEvent.hash).where(
                AuditEvent.stream == GOVERNANCE, AuditEvent.seq == seq - 1
            )
        )
        for number, body in rows:
            record = json.loads(body)
            if number == seq:
                record["data"].update(change)
            record["prev"] = previous
            text = canonical.encode(record)
            previous = body_hash(text)
            s.execute(
                update(AuditEvent)
                .where(AuditEvent.stream == GOVERNANCE, AuditEvent.seq == number)
                .values(body=text, hash=previous)
            )
        s.execute(update(AuditHead).where(AuditHead.stream == GOVERNANCE).values(hash=previous))


# --- a council's life ---------------------------------------------------------------------


def motion(
    s: Session, filer: int, kind: MotionKind, payload: dict[str, Any], filed: datetime
) -> int:
    return motions.file_motion(
        s,
        members.get_member(s, filer),
        kind=kind,
        title=f"{kind.value} motion",
        payload=payload,
        deadline=filed + WEEK,
        now=filed,
    ).id


def votes(s: Session, motion_id: int, filed: datetime, **choices: str) -> None:
    for name, choice in choices.items():
        member = next(m for m in members.list_members(s) if m.name == name)
        motions.cast_ballot(s, member, motion_id, choice, now=filed + timedelta(hours=1))


def decide(s: Session, motion_id: int, filed: datetime, account: int) -> motions.Decision:
    return motions.decide(s, motion_id, account_id=account, now=filed + WEEK + timedelta(hours=1))


CSV_ROWS = 2_500
"""Observations the life imports by CSV: three ``observations.appended`` events."""


def council_life(db: Database) -> dict[str, Any]:
    """Accounts and keys, members, rules, a delegation, a metric drafted and adopted,
    observations appended and imported, a measurement taken and certified, and motions of
    every kind passed and rejected, one with an effect its service refuses. Returns the ids."""
    ids: dict[str, Any] = {}
    with db.write() as s:
        admin = create_account(s, "admin", "admin")
        issue_key(s, admin)
        accounts = {name: create_account(s, f"council-{name}", "council") for name in "ABC"}
        trader = create_account(s, "trader", "trader")
        spare = issue_key(s, trader)
        issue_key(s, trader)
        revoke_api_key(s, trader.id, spare.id)
        ids["admin"] = admin.id
        for name, population in (("A", 1_000_000), ("B", 4_000_000), ("C", 9_000_000)):
            member = members.create_member(
                s,
                name=name,
                constituency=f"{name} district",
                population=population,
                account_id=accounts[name].id,
            )
            ids[name] = member.id
        d = members.create_member(s, name="D", constituency="", population=15_000_000)
        members.update_member(s, d.id, population=16_000_000, contribution=3)
        ids["D"] = d.id
        members.set_rules(s, assembly_size=100, threshold="0.6", account_id=admin.id, now=T0)
        motions.delegate(s, d, ids["B"], now=T0 - timedelta(days=1))
    with db.write() as s:
        indicators(s)
        world_2007(s, se=0.5)
        lines = "".join(
            f"lifeExp,Region {i},2007,{60 + i % 20},2009-01-01\n" for i in range(CSV_ROWS)
        )
        import_csv(s, "indicator,entity,period,value,release_date\n" + lines)
        ids["version"] = create_version(s, definition(), created_by=admin.id).version_id

    t1, t2, t3, t4 = (T0 + k * 2 * WEEK for k in range(1, 5))
    with db.write() as s:  # passes 70 : 30
        adopt = motion(
            s,
            ids["A"],
            MotionKind.ADOPT_METRIC_VERSION,
            {"version_id": ids["version"], "effective_from": "2008-01-01"},
            t1,
        )
        votes(s, adopt, t1, A="yes", B="yes", C="no")
        assert decide(s, adopt, t1, admin.id).result.outcome == "passed"
        ids["adopt"] = adopt
    with db.write() as s:  # passes 30 : 10 with 60 abstaining: the threshold becomes 2/3
        rules = motion(s, ids["C"], MotionKind.CHANGE_RULES, {"threshold": "2/3"}, t2)
        votes(s, rules, t2, A="no", B="abstain", C="yes")
        assert decide(s, rules, t2, admin.id).result.outcome == "passed"
        void = motion(s, ids["A"], MotionKind.VOID_PROPOSAL, {"proposal_id": 42}, t2)
        votes(s, void, t2, A="yes", B="no", C="yes")  # 40 : 60
        assert decide(s, void, t2, admin.id).result.outcome == "rejected"
        ids["rules"], ids["void"] = rules, void
    with db.write() as s:
        taken = measure(s, ids["version"], 2007, CUTOFF)
        ids["measurement"], ids["value"] = measured, _ = taken.id, taken.value
        measure(s, ids["version"], 2007, CUTOFF, monte_carlo=50, seed=7)
        certify = motion(
            s, ids["B"], MotionKind.CERTIFY_MEASUREMENT, {"measurement_id": measured}, t3
        )
        again = motion(
            s, ids["C"], MotionKind.CERTIFY_MEASUREMENT, {"measurement_id": measured}, t3
        )
        votes(s, certify, t3, A="yes", B="yes", C="yes")
        votes(s, again, t3, A="yes", B="yes", C="no")  # 70 : 30 > 2/3
        decided = decide(s, certify, t3, ids["B"])
        assert decided.result.effect_status == "applied"
        refused = decide(s, again, t3, admin.id)
        assert (refused.result.outcome, refused.result.effect_status) == ("passed", "failed")
        ids["certify"], ids["again"] = certify, again
    with db.write() as s:  # D revokes: its 40 seats are lost, the quorum of 50 is not met
        motions.delegate(s, members.get_member(s, ids["D"]), None, now=t4 - timedelta(days=1))
        quorum = motion(s, ids["A"], MotionKind.VOID_PROPOSAL, {"proposal_id": 7}, t4)
        votes(s, quorum, t4, B="yes", C="no")  # 20 + 30 = 50 of 100 seats vote
        result = decide(s, quorum, t4, admin.id).result
        assert (result.quorum_met, result.lost_weight, result.outcome) == (True, 50, "rejected")
        ids["quorum"] = quorum
    return ids


def test_a_councils_whole_life_replays_with_no_disagreement(db: Database) -> None:
    ids = council_life(db)
    facts = replay(db)

    assert facts.motions_checked == 6
    assert sorted(facts.passed_motions) == sorted(
        [ids["adopt"], ids["rules"], ids["certify"], ids["again"]]
    )
    assert facts.passed_motions[ids["rules"]].kind == "change_rules"
    assert dict(facts.passed_motions[ids["rules"]].payload) == {"threshold": "2/3"}
    certified = facts.certified[ids["measurement"]]
    assert (certified.version_id, certified.motion_id) == (ids["version"], ids["certify"])
    assert certified.value == ids["value"]
    assert certified.seq == find(db, "measurement.certified").seq
    assert (certified.entity, certified.period, certified.cutoff) == ("World", "2007", "2010-01-01")
    assert facts.events == len(governance_events(db))


def test_the_stream_records_each_change_with_what_the_service_stored(db: Database) -> None:
    ids = council_life(db)
    kinds = [e.kind for e in governance_events(db)]
    assert kinds.count("account.created") == 5
    assert kinds.count("key.issued") == 3
    assert kinds.count("key.revoked") == 1
    assert kinds.count("member.created") == 4
    assert kinds.count("observations.appended") == 2 + 3  # two small batches; 2 500 in 1 000s
    assert kinds.count("measurement.taken") == 2
    assert kinds.count("motion.decided") == 6

    issued = find(db, "key.issued")
    assert set(issued.data) == {"key_id", "account_id", "role"}  # never the key, nor its hash
    d = find(db, "member.updated", member_id=ids["D"])
    assert (d.data["population"], d.data["contribution"]) == (16_000_000, 3)
    rules = find(db, "rules.set", set_by_motion_id=None)
    assert rules.data["seats"] == [[ids["A"], 10], [ids["B"], 20], [ids["C"], 30], [ids["D"], 40]]
    adopted = find(db, "motion.decided", motion_id=ids["adopt"])
    assert (adopted.data["yes_weight"], adopted.data["no_weight"]) == (70, 30)
    assert adopted.data["threshold"] == "0.6"
    # an effect's event comes right before its motion's decision
    assert find(db, "metric.adopted").seq == adopted.seq - 1
    assert (
        find(db, "rules.set", set_by_motion_id=ids["rules"]).seq + 1
        == find(db, "motion.decided", motion_id=ids["rules"]).seq
    )
    imported = [e for e in governance_events(db) if e.kind == "observations.appended"][2:]
    assert [len(e.data["rows"]) for e in imported] == [1_000, 1_000, 500]
    assert imported[0].data["rows"][0][1:] == [
        "lifeExp",
        "Region 0",
        "2007",
        60.0,
        None,
        "2009-01-01",
        "",
    ]


def test_a_changed_ballot_is_caught_at_its_motions_decision(db: Database) -> None:
    ids = council_life(db)
    ballot = find(db, "ballot.cast", motion_id=ids["adopt"], member_id=ids["C"])
    assert ballot.data["choice"] == "no"
    rewrite(db, ballot.seq, {"choice": "yes"})
    governance_events(db)  # every link and hash still checks

    seq, message = first_disagreement(db)

    assert seq == find(db, "motion.decided", motion_id=ids["adopt"]).seq
    assert message == (
        f"motion {ids['adopt']}'s yes_weight is recorded as 70; its ballots, the delegations "
        "in force at its deadline and the seats and rules in force give 100"
    )


def test_a_changed_rules_threshold_is_caught_where_it_first_counts(db: Database) -> None:
    ids = council_life(db)
    admins = find(db, "rules.set", set_by_motion_id=None)
    rewrite(db, admins.seq, {"threshold": "0.5"})

    seq, message = first_disagreement(db)

    assert seq == find(db, "motion.decided", motion_id=ids["adopt"]).seq
    assert "threshold is recorded as '0.6'" in message
    assert message.endswith("give '0.5'")


def test_rules_that_differ_from_their_motion_are_caught_at_once(db: Database) -> None:
    ids = council_life(db)
    by_motion = find(db, "rules.set", set_by_motion_id=ids["rules"])
    rewrite(db, by_motion.seq, {"threshold": "0.7"})

    seq, message = first_disagreement(db)

    assert seq == by_motion.seq
    assert message == (
        f"motion {ids['rules']} sets the threshold to 2/3; the rules it set have 0.7"
    )


def test_a_certification_without_its_motion_is_caught(db: Database) -> None:
    ids = council_life(db)
    certified = find(db, "measurement.certified")
    rewrite(db, certified.seq, {"motion_id": ids["void"]})

    seq, message = first_disagreement(db)

    assert seq == certified.seq
    assert message == (
        "a measurement.certified event is the effect of a certify_measurement motion; "
        f"motion {ids['void']} is a void_proposal motion"
    )


def test_a_metric_version_whose_id_is_not_its_hash_is_caught(db: Database) -> None:
    council_life(db)
    drafted = find(db, "metric.drafted")
    changed = dict(drafted.data["definition"], hi=2.0)
    rewrite(db, drafted.seq, {"definition": changed})

    seq, message = first_disagreement(db)

    assert seq == drafted.seq
    assert message.startswith(
        f"metric version {drafted.data['version_id']} is recorded with a definition whose "
        "SHA-256 is "
    )


def test_the_seeded_demo_replays_with_no_disagreement(db: Database) -> None:
    """The demo `make run` seeds: 142 countries seated in blocs, the gapminder data, the
    metric adopted and a measurement certified by the demo council's motions."""
    from api.seed import seed_demo

    with db.write() as s:
        report = seed_demo(s)
        seeded = audit.governance_head(s)
    with db.write() as s:
        seed_demo(s)
        assert audit.governance_head(s) == seeded  # a restart changes nothing, records nothing
    facts = replay(db)

    events = governance_events(db)
    assert [e.kind for e in events].count("member.created") == 142
    observed = sum(len(e.data["rows"]) for e in events if e.kind == "observations.appended")
    assert observed == 3 * (142 + 1) * 12  # three indicators, 142 countries and the World
    assert facts.motions_checked == 2  # the adoption and the certification
    assert [m.kind for m in facts.passed_motions.values()] == [
        "adopt_metric_version",
        "certify_measurement",
    ]
    (certified,) = facts.certified.values()
    assert certified.version_id == report.metric_version_id
    assert (certified.entity, certified.period) == ("World", "2007")
