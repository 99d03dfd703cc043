"""Measurements on SQLite and PostgreSQL: computed from the data known at the cut-off,
stored with breakdown and uncertainty, certified once (by a passed motion) per version and
period, never changed."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from db.identity import create_account
from db.session import Database
from tests.integration.metric_helpers import CUTOFF, definition, indicators, world_2007
from welfare import gapminder_data, members, motions
from welfare.errors import (
    AlreadyCertified,
    AppendOnlyViolation,
    InvalidWelfareInput,
    MeasurementUnavailable,
    UnknownMeasurement,
    UnknownMetricVersion,
    VersionNotAdopted,
)
from welfare.gapminder_seed import seed_gapminder
from welfare.measurement_service import (
    certified_measurement,
    certify_measurement,
    get_measurement,
    list_measurements,
    measure,
)
from welfare.metric_service import adopt_version, create_version
from welfare.observation_service import ObservationInput, append_observations


def change_and_flush(db: Database, change: Callable[[Session], object]) -> None:
    with db.write() as s:
        change(s)
        s.flush()


def adopted_version(db: Database, **changes: object) -> str:
    with db.write() as s:
        indicators(s)
        world_2007(s, se=0.5)
        vid = create_version(s, definition(**changes)).version_id
        adopt_version(s, vid, date(2008, 1, 1), 1)
        return vid


def test_a_measurement_is_stored_with_its_breakdown(db: Database) -> None:
    vid = adopted_version(db)
    with db.write() as s:
        m = measure(s, vid, 2007, CUTOFF, computed_by=None)
        mid = m.id
    with db.read() as s:
        stored = get_measurement(s, mid)
        health, income = 47 / 65, math.log(90) / math.log(750)
        assert stored.value == pytest.approx(math.sqrt(health * income))
        assert (stored.entity, stored.period, stored.cutoff) == ("World", "2007", CUTOFF)
        assert [c["key"] for c in stored.breakdown] == ["health", "income"]
        assert stored.breakdown[0]["raw"] == 67.0
        assert stored.breakdown[0]["normalised"] == pytest.approx(health)
        assert stored.breakdown[1]["release_date"] == "2009-01-01"
        assert stored.missing == {
            "policy": "fail",
            "carried_forward": {},
            "dropped": [],
            "reweighted": False,
        }
        assert stored.uncertainty is None
        assert stored.certified_at is None


def test_monte_carlo_is_stored_and_reproducible(db: Database) -> None:
    vid = adopted_version(db)
    with db.write() as s:
        a = measure(s, vid, "2007", CUTOFF, monte_carlo=2_000, seed=42).uncertainty
        b = measure(s, vid, "2007", CUTOFF, monte_carlo=2_000, seed=42).uncertainty
    assert a is not None
    assert a == b
    assert a["draws"] == 2_000
    assert a["sd"] > 0
    assert a["p5"] < a["p50"] < a["p95"]


def test_later_releases_do_not_change_a_measurement_at_an_earlier_cutoff(db: Database) -> None:
    vid = adopted_version(db)
    with db.write() as s:
        append_observations(s, "lifeExp", [ObservationInput("World", 2007, 70.0, date(2011, 1, 1))])
        before = measure(s, vid, 2007, CUTOFF).breakdown[0]["raw"]
        after = measure(s, vid, 2007, date(2011, 1, 1)).breakdown[0]["raw"]
    assert (before, after) == (67.0, 70.0)


def test_missing_data_is_refused_or_handled_by_the_policy(db: Database) -> None:
    vid = adopted_version(db)
    with pytest.raises(MeasurementUnavailable, match="no value released by"), db.write() as s:
        measure(s, vid, 2012, CUTOFF)
    with db.write() as s:
        carry = create_version(s, definition(missing_policy="carry_forward")).version_id
        m = measure(s, carry, 2012, CUTOFF)
        assert m.missing["carried_forward"] == {"health": "2007", "income": "2007"}
    with pytest.raises(InvalidWelfareInput, match="period"), db.write() as s:
        measure(s, vid, "12", CUTOFF)
    with pytest.raises(UnknownMetricVersion), db.write() as s:
        measure(s, "0" * 64, 2007, CUTOFF)
    with db.read() as s:
        assert [x.version_id for x in list_measurements(s)] == [carry]


def test_certification_happens_once_per_version_and_period(db: Database) -> None:
    vid = adopted_version(db)
    with db.write() as s:
        first = measure(s, vid, 2007, CUTOFF).id
        second = measure(s, vid, 2007, date(2010, 6, 1)).id
        other_period = measure(s, vid, 2002, CUTOFF).id
    with db.write() as s:
        certified = certify_measurement(s, first, 7)
        assert certified.certified_by_motion_id == 7
        assert certified.certified_at is not None
    with pytest.raises(AlreadyCertified, match="certified already"), db.write() as s:
        certify_measurement(s, first, 8)
    refused = f"measurement {first} is certified"
    with pytest.raises(AlreadyCertified, match=refused), db.write() as s:
        certify_measurement(s, second, 8)
    with pytest.raises(UnknownMeasurement), db.write() as s:
        certify_measurement(s, 9_999, 8)
    with db.write() as s:
        certify_measurement(s, other_period, 9)
    with db.read() as s:
        found = certified_measurement(s, vid, 2007)
        assert found is not None
        assert found.id == first
        assert get_measurement(s, second).certified_at is None
        assert [m.id for m in list_measurements(s, version_id=vid, certified=True)] == [
            other_period,
            first,
        ]
        assert [m.id for m in list_measurements(s, period=2007, certified=False)] == [second]


def test_a_draft_versions_measurement_cannot_be_certified(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        world_2007(s)
        draft = create_version(s, definition()).version_id
        mid = measure(s, draft, 2007, CUTOFF).id
    with pytest.raises(VersionNotAdopted, match="draft"), db.write() as s:
        certify_measurement(s, mid, 1)
    with db.read() as s:
        assert get_measurement(s, mid).certified_at is None


def test_a_stored_measurement_never_changes_and_is_never_deleted(db: Database) -> None:
    vid = adopted_version(db)
    with db.write() as s:
        mid = measure(s, vid, 2007, CUTOFF).id
    with pytest.raises(AppendOnlyViolation, match="cannot change value"):
        change_and_flush(db, lambda s: setattr(get_measurement(s, mid), "value", 1.0))
    with pytest.raises(AppendOnlyViolation, match="cannot be deleted"):
        change_and_flush(db, lambda s: s.delete(get_measurement(s, mid)))


def test_a_passed_council_motion_certifies_the_measurement(db: Database) -> None:
    """The real wiring: W-COUNCIL's motions call `certify_measurement` with the motion id."""
    vid = adopted_version(db)
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    deadline = t0 + timedelta(days=7)
    with db.write() as s:
        mid = measure(s, vid, 2007, CUTOFF).id
        account = create_account(s, "acct-solo", "council")
        member = members.create_member(
            s, name="Solo", constituency="All", population=1_000, account_id=account.id
        )
        motion = motions.file_motion(
            s,
            member,
            kind="certify_measurement",
            title="Certify world welfare 2007",
            payload={"measurement_id": mid},
            deadline=deadline,
            now=t0,
        )
        motions.cast_ballot(s, member, motion.id, "yes", now=t0)
        motion_id, account_id = motion.id, account.id
    with db.write() as s:
        decision = motions.decide(
            s, motion_id, account_id=account_id, now=deadline + timedelta(minutes=1)
        )
        assert decision.result.effect_status == "applied", decision.result.effect_detail
    with db.read() as s:
        assert get_measurement(s, mid).certified_by_motion_id == motion_id


def test_the_gapminder_demo_measures_world_welfare(db: Database) -> None:
    """World 2007 from the seed: lifeExp and gdpPercap are population-weighted means of the
    142 countries; W = √(health · income) with the demo goalposts."""
    with db.write() as s:
        vid = seed_gapminder(s).version_id
        m1952 = measure(s, vid, 1952, gapminder_data.NOMINAL_RELEASE)
        m2007 = measure(s, vid, 2007, gapminder_data.NOMINAL_RELEASE)
    life, _, gdp = gapminder_data.world()[2007]
    health = (life - 20) / 65
    income = (math.log(gdp) - math.log(100)) / (math.log(75_000) - math.log(100))
    assert m2007.value == pytest.approx(math.sqrt(health * income))
    assert 0.4 < m1952.value < m2007.value < 1.0  # 0.476 in 1952, 0.718 in 2007
    with pytest.raises(MeasurementUnavailable), db.write() as s:
        measure(s, vid, 2007, gapminder_data.NOMINAL_RELEASE - timedelta(days=1))
