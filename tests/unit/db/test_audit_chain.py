"""The audit record format and the chain check (db/audit_chain.py, docs/audit.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from db import canonical
from db.audit_chain import (
    GENESIS,
    AuditMismatch,
    ChainCheck,
    Event,
    Head,
    check_published,
    market_of_stream,
    market_stream,
    seal,
    seal_many,
)

T0 = datetime(2026, 12, 3, 17, 40, 0, 123456, tzinfo=UTC)


def stream_of(n: int, name: str = "market-12") -> list[Event]:
    return seal_many(
        Head.empty(name),
        [("trade", {"account": i, "cash": 1_000 * i}) for i in range(1, n + 1)],
        T0,
    )


def test_the_record_byte_for_byte() -> None:
    event = seal(Head.empty("market-12"), "trade", {"cash": 5, "account": 3}, T0)
    assert event.body == (
        '{"at":"2026-12-03T17:40:00.123456Z","data":{"account":3,"cash":5},"kind":"trade",'
        '"prev":"' + "0" * 64 + '","seq":1,"stream":"market-12"}'
    )
    assert event.hash == hashlib.sha256(event.body.encode()).hexdigest()
    assert event.head == Head("market-12", 1, event.hash)


def test_instants_always_have_six_decimals_in_utc() -> None:
    plus_two = datetime(2026, 12, 3, 19, 40, tzinfo=UTC).astimezone(
        datetime.now().astimezone().tzinfo
    )
    event = seal(Head.empty("governance"), "x", {}, plus_two)
    assert event.at == "2026-12-03T19:40:00.000000Z"
    assert event.instant == datetime(2026, 12, 3, 19, 40, tzinfo=UTC)


def test_each_event_links_to_the_previous_hash() -> None:
    events = stream_of(3)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev == GENESIS
    assert events[1].prev == events[0].hash
    assert events[2].prev == events[1].hash


def test_stream_names() -> None:
    assert market_stream(12) == "market-12"
    assert market_of_stream("market-12") == 12
    assert market_of_stream("governance") is None
    assert market_of_stream("market-012") is None


def check(events: list[Event], name: str = "market-12", claimed: Head | None = None) -> Head:
    chain = ChainCheck(name)
    for event in events:
        chain.line(event.body, event.hash)
    return chain.finish(claimed)


def test_an_intact_stream_checks_to_its_head() -> None:
    events = stream_of(5)
    assert check(events, claimed=events[-1].head) == events[-1].head


@pytest.fixture(params=["line", "link"])
def method(request: pytest.FixtureRequest) -> str:
    """Both checks: `ChainCheck.line` (every record parsed) and `ChainCheck.link` (links)."""
    return str(request.param)


def first_fault(
    events: list[Event], bodies: list[str], claimed: Head | None = None, method: str = "line"
) -> str:
    def run() -> None:
        chain = ChainCheck("market-12")
        for body in bodies:
            getattr(chain, method)(body)
        chain.finish(claimed)

    with pytest.raises(AuditMismatch) as caught:
        run()
    return str(caught.value)


def test_a_changed_amount_breaks_the_next_link(method: str) -> None:
    events = stream_of(4)
    bodies = [e.body for e in events]
    bodies[1] = bodies[1].replace('"cash":2000', '"cash":2001')
    assert first_fault(events, bodies, method=method) == (
        "market-12 #3: the link to the previous event is broken: prev is "
        f"'{events[1].hash}', the previous event's hash is "
        f"{hashlib.sha256(bodies[1].encode()).hexdigest()}"
    )


def test_a_changed_last_event_fails_against_the_head(method: str) -> None:
    events = stream_of(3)
    bodies = [e.body for e in events]
    bodies[2] = bodies[2].replace('"cash":3000', '"cash":3001')
    message = first_fault(events, bodies, claimed=events[-1].head, method=method)
    assert message.startswith("market-12: the stream ends at event 3 with hash ")


def test_a_deleted_event_is_named(method: str) -> None:
    events = stream_of(4)
    bodies = [e.body for i, e in enumerate(events) if i != 1]
    assert first_fault(events, bodies, method=method).startswith(
        "market-12 #2: expected event 2 after event 1, found event 3"
    )


def test_two_swapped_events_are_named(method: str) -> None:
    events = stream_of(4)
    bodies = [events[0].body, events[2].body, events[1].body, events[3].body]
    assert first_fault(events, bodies, method=method).startswith(
        "market-12 #2: expected event 2 after event 1, found event 3"
    )


def test_a_stated_hash_must_be_the_records() -> None:
    events = stream_of(2)
    chain = ChainCheck("market-12")
    chain.line(events[0].body, events[0].hash)
    with pytest.raises(AuditMismatch, match=r"#2: the stated hash 0+ is not the record's hash"):
        chain.line(events[1].body, GENESIS)


def test_another_spelling_of_the_same_record_is_refused() -> None:
    event = stream_of(1)[0]
    spaced = json.dumps(json.loads(event.body), sort_keys=True)
    with pytest.raises(AuditMismatch, match="#1: the record is not in canonical JSON"):
        ChainCheck("market-12").line(spaced)


def test_a_record_from_another_stream_is_refused() -> None:
    event = stream_of(1, "market-13")[0]
    with pytest.raises(AuditMismatch, match="belongs to stream 'market-13'"):
        ChainCheck("market-12").line(event.body)


def test_extra_fields_are_refused() -> None:
    record = json.loads(stream_of(1)[0].body) | {"hash": GENESIS}
    with pytest.raises(AuditMismatch, match="exactly the fields"):
        ChainCheck("market-12").line(canonical.encode(record))


def test_a_rewritten_history_fails_against_a_head_published_before() -> None:
    honest = stream_of(5)
    published = honest[2].head  # event 3 was published
    forged = seal_many(
        Head.empty("market-12"),
        [("trade", {"account": 1, "cash": 999_999})] + [("trade", {"x": i}) for i in range(4)],
        T0 + timedelta(seconds=1),
    )
    assert check(forged, claimed=forged[-1].head) == forged[-1].head  # self-consistent
    with pytest.raises(AuditMismatch) as caught:
        check_published("market-12", published, forged[2].head)
    assert str(caught.value) == (
        f"market-12 #3: the published head says event 3 has hash {honest[2].hash}, the record "
        f"has {forged[2].hash}: the stream was rewritten"
    )
    check_published("market-12", published, honest[2].head)


def test_a_stream_shorter_than_its_published_head_fails() -> None:
    with pytest.raises(AuditMismatch, match="#9: a head was published at event 9"):
        check_published("governance", Head("governance", 9, GENESIS), None)


def test_the_links_only_check_reaches_the_same_head() -> None:
    events = stream_of(5)
    chain = ChainCheck("market-12")
    for event in events:
        chain.link(event.body, event.hash)
    assert chain.finish(events[-1].head) == events[-1].head


def test_the_links_only_check_refuses_what_is_not_an_audit_record() -> None:
    with pytest.raises(AuditMismatch, match="#1: the record is not a canonical audit record"):
        ChainCheck("market-12").link('{"seq":1}')
