"""Metric versions, indicators and observations on SQLite and PostgreSQL: content-addressed
drafts, validation against the indicators, diff, adoption by motion, the version in force,
append-only observations with vintages, CSV import, and the idempotent gapminder seed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.identity import create_account
from db.session import Database
from tests.integration.metric_helpers import RELEASED, definition, indicators, world_2007
from welfare import gapminder_data, members, motions
from welfare.errors import (
    AppendOnlyViolation,
    DuplicateIndicator,
    InvalidMetricDefinition,
    InvalidWelfareInput,
    UnknownIndicator,
    UnknownMetricVersion,
    VersionImmutable,
)
from welfare.gapminder_seed import seed_gapminder
from welfare.metric_service import (
    adopt_version,
    create_version,
    definition_of,
    diff_versions,
    get_version,
    list_versions,
    version_in_force,
)
from welfare.observation_service import (
    ObservationInput,
    append_observations,
    as_known_on,
    create_indicator,
    first_releases,
    import_csv,
    list_indicators,
    list_observations,
)
from welfare.records import MetricVersion, Observation


def change_and_flush(db: Database, change: Callable[[Session], object]) -> None:
    with db.write() as s:
        change(s)
        s.flush()


def count(db: Database, model: type[Observation] | type[MetricVersion]) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_a_draft_is_keyed_by_the_sha256_of_its_stored_canonical_json(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        version = create_version(s, definition())
        vid = version.version_id
    with db.read() as s:
        stored = get_version(s, vid)
        assert stored.status == "draft"
        assert stored.effective_from is None
        assert hashlib.sha256(stored.canonical.encode()).hexdigest() == vid
        assert definition_of(stored).entity == "World"
    # the same definition, written differently, is the same version
    shuffled = json.loads(json.dumps(definition(), sort_keys=True))
    shuffled["components"].reverse()
    with db.write() as s:
        assert create_version(s, shuffled).version_id == vid
    assert count(db, MetricVersion) == 1


def test_a_definition_must_name_known_indicators_in_their_units(db: Database) -> None:
    with db.write() as s:
        indicators(s)
    bad_unit = definition()
    bad_unit["components"][0]["unit"] = "months"
    unknown = definition()
    unknown["components"][1]["indicator"] = "gni"
    for data, message in [
        (bad_unit, "says unit 'months' but indicator 'lifeExp' is in 'years'"),
        (unknown, "reads indicator 'gni', which is unknown"),
        (definition(lo=1, hi=0), "bounds must be ordered"),
    ]:
        with pytest.raises(InvalidMetricDefinition, match=message), db.write() as s:
            create_version(s, data)
    assert count(db, MetricVersion) == 0


def test_list_and_diff_versions(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        a = create_version(s, definition()).version_id
        b = create_version(s, definition(aggregation="weighted_arithmetic")).version_id
    with db.read() as s:
        assert [v.version_id for v in list_versions(s)] == [a, b]
        assert list_versions(s, status="adopted") == []
        changes = diff_versions(s, a, b)
        assert [(c.path, c.before, c.after) for c in changes] == [
            ("aggregation", "weighted_geometric", "weighted_arithmetic")
        ]
        with pytest.raises(InvalidWelfareInput, match="draft or adopted"):
            list_versions(s, status="retired")
        with pytest.raises(UnknownMetricVersion):
            diff_versions(s, a, "0" * 64)


def test_adoption_happens_once_and_sets_the_version_in_force(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        v1 = create_version(s, definition()).version_id
        v2 = create_version(s, definition(name="v2")).version_id
        v3 = create_version(s, definition(name="v3")).version_id
    with db.read() as s:
        assert version_in_force(s, date(2030, 1, 1)) is None
    with db.write() as s:
        adopted = adopt_version(s, v1, date(2027, 1, 1), 11)
        assert (adopted.status, adopted.adopted_by_motion_id) == ("adopted", 11)
        adopt_version(s, v2, date(2028, 1, 1), 12)
    with db.write() as s:
        adopt_version(s, v3, date(2028, 1, 1), 13)  # same day, adopted later: wins the tie
    with pytest.raises(VersionImmutable, match="adopted already"), db.write() as s:
        adopt_version(s, v1, date(2029, 1, 1), 14)
    with pytest.raises(UnknownMetricVersion), db.write() as s:
        adopt_version(s, "f" * 64, date(2029, 1, 1), 14)

    def in_force(on: date) -> str | None:
        with db.read() as s:
            version = version_in_force(s, on)
            return version.version_id if version else None

    assert in_force(date(2026, 12, 31)) is None
    assert in_force(date(2027, 1, 1)) == v1
    assert in_force(date(2027, 12, 31)) == v1
    assert in_force(date(2028, 1, 1)) == v3
    with db.read() as s:
        first = get_version(s, v1)
        assert (first.effective_from, first.adopted_by_motion_id) == (date(2027, 1, 1), 11)
        assert [v.version_id for v in list_versions(s, status="adopted")] == [v1, v2, v3]


def test_a_stored_definition_never_changes_and_is_never_deleted(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        vid = create_version(s, definition()).version_id
    with pytest.raises(VersionImmutable, match="cannot change"):
        change_and_flush(db, lambda s: setattr(get_version(s, vid), "canonical", "{}"))
    with pytest.raises(AppendOnlyViolation, match="cannot be deleted"):
        change_and_flush(db, lambda s: s.delete(get_version(s, vid)))
    with db.read() as s:
        assert hashlib.sha256(get_version(s, vid).canonical.encode()).hexdigest() == vid


def test_a_passed_council_motion_adopts_the_version(db: Database) -> None:
    """The real wiring: W-COUNCIL's motions call `adopt_version` with the motion's id."""
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    deadline = t0 + timedelta(days=7)
    with db.write() as s:
        indicators(s)
        vid = create_version(s, definition()).version_id
        account = create_account(s, "acct-solo", "council")
        member = members.create_member(
            s, name="Solo", constituency="All", population=1_000, account_id=account.id
        )
        motion = motions.file_motion(
            s,
            member,
            kind="adopt_metric_version",
            title="Adopt the HDI-like metric",
            payload={"version_id": vid, "effective_from": "2027-01-01"},
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
        version = get_version(s, vid)
        assert (version.status, version.adopted_by_motion_id) == ("adopted", motion_id)
        assert version.effective_from == date(2027, 1, 1)


# --- indicators and observations -------------------------------------------------------------


def test_indicators_are_unique_and_validated(db: Database) -> None:
    with db.write() as s:
        indicators(s)
    with pytest.raises(DuplicateIndicator, match="'lifeExp' exists already"), db.write() as s:
        indicators(s)
    for key, unit in [("", "x"), ("9x", "x"), ("a b", "x"), ("ok", "")]:
        with pytest.raises(InvalidWelfareInput), db.write() as s:
            create_indicator(s, key, unit)
    with db.read() as s:
        assert [i.key for i in list_indicators(s)] == ["gdpPercap", "lifeExp"]


def test_revisions_are_new_rows_and_vintage_queries_see_the_right_release(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        world_2007(s)
        append_observations(
            s,
            "lifeExp",
            [ObservationInput("World", "2007", 68.0, date(2009, 6, 1), 0.2, "revision")],
        )
    with db.read() as s:
        assert len(list_observations(s, "lifeExp", entity="World", period=2007)) == 2
        known = as_known_on(s, "lifeExp", date(2009, 3, 1), entity="World", period=2007)
        assert [o.value for o in known] == [67.0]
        known = as_known_on(s, "lifeExp", date(2009, 6, 1), entity="World", period=2007)
        assert [(o.value, o.std_error) for o in known] == [(68.0, 0.2)]
        assert [o.value for o in first_releases(s, "lifeExp", entity="World", period=2007)] == [
            67.0
        ]
        assert as_known_on(s, "lifeExp", date(2008, 1, 1)) == []
        assert {o.period for o in as_known_on(s, "lifeExp", date(2030, 1, 1))} == {"2002", "2007"}
        with pytest.raises(UnknownIndicator):
            list_observations(s, "gni")


def test_observations_are_append_only(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        world_2007(s)

    def first(s: Session) -> Observation:
        found = s.scalars(select(Observation)).first()
        assert found is not None
        return found

    with pytest.raises(AppendOnlyViolation, match="append-only"):
        change_and_flush(db, lambda s: setattr(first(s), "value", 1.0))
    with pytest.raises(AppendOnlyViolation, match="append-only"):
        change_and_flush(db, lambda s: s.delete(first(s)))
    assert count(db, Observation) == 4


def test_a_bad_observation_refuses_the_whole_batch(db: Database) -> None:
    with db.write() as s:
        indicators(s)
    good = ObservationInput("World", 2007, 67.0, RELEASED)
    for bad, message in [
        (ObservationInput("World", "07", 1.0, RELEASED), "observation 2: period '07'"),
        (ObservationInput("World", 2007, float("nan"), RELEASED), "not finite"),
        (ObservationInput("", 2007, 1.0, RELEASED), "entity must be"),
        (ObservationInput("World", 2007, 1.0, RELEASED, -1.0), "std_error -1.0 must be"),
    ]:
        with pytest.raises(InvalidWelfareInput, match=message), db.write() as s:
            append_observations(s, "lifeExp", [good, bad])
    with pytest.raises(UnknownIndicator), db.write() as s:
        append_observations(s, "gni", [good])
    assert count(db, Observation) == 0


CSV_OK = (
    "\ufeffindicator, entity,period,value,release_date,std_error,source\n"
    "lifeExp,World,2007,67.5,2009-01-01,0.5,UN WPP\n"
    'gdpPercap,"Korea, Rep.",2007,23348.1,2009-01-01,,\n'
    "lifeExp,World,2007-Q1,67.1,2009-02-01,,\n"
)


def test_csv_import_appends_every_row(db: Database) -> None:
    with db.write() as s:
        indicators(s)
        imported = import_csv(s, CSV_OK)
        assert (imported.imported, imported.by_indicator) == (3, {"gdpPercap": 1, "lifeExp": 2})
    with db.read() as s:
        korea = list_observations(s, "gdpPercap", entity="Korea, Rep.")
        assert [(o.period, o.value, o.std_error, o.source) for o in korea] == [
            ("2007", 23348.1, None, "")
        ]
        life = list_observations(s, "lifeExp")
        assert [(o.period, o.std_error, o.source) for o in life] == [
            ("2007", 0.5, "UN WPP"),
            ("2007-Q1", None, ""),
        ]


@pytest.mark.parametrize(
    ("content", "messages"),
    [
        ("indicator,entity,period,value\nlifeExp,World,2007,1\n", ["missing: release_date"]),
        (
            "indicator,entity,period,value,release_date,colour\n",
            ["unknown column(s): colour"],
        ),
        ("indicator,entity,period,value,release_date\n", ["no observations"]),
        (
            (
                "indicator,entity,period,value,release_date\n"
                "lifeExp,World,2007,67,2009-01-01\n"
                "lifeExp,World,2007,abc,2009-01-01\n"
                "gni,World,2007,1,2009-01-01\n"
                "lifeExp,World,2007,1,2009-13-01\n"
                "lifeExp,World,07,1,2009-01-01\n"
                "lifeExp,World,2007,1,2009-01-01,extra\n"
            ),
            [
                "line 3: value 'abc' is not a number",
                "line 4: no indicator with key 'gni'",
                "line 5: release_date '2009-13-01' is not a date",
                "line 6: period '07'",
                "line 7: it has more fields than the header",
            ],
        ),
    ],
)
def test_a_bad_csv_is_refused_with_line_numbers_and_imports_nothing(
    db: Database, content: str, messages: list[str]
) -> None:
    with db.write() as s:
        indicators(s)
    with pytest.raises(InvalidWelfareInput) as info, db.write() as s:
        import_csv(s, content)
    for message in messages:
        assert message in str(info.value)
    assert "line 2" not in str(info.value)
    assert count(db, Observation) == 0


def test_csv_errors_are_capped(db: Database) -> None:
    with db.write() as s:
        indicators(s)
    lines = "".join("lifeExp,World,2007,x,2009-01-01\n" for _ in range(25))
    with pytest.raises(InvalidWelfareInput, match="and 5 more line"), db.write() as s:
        import_csv(s, "indicator,entity,period,value,release_date\n" + lines)


# --- the gapminder seed ----------------------------------------------------------------------


def test_the_gapminder_seed_is_idempotent(db: Database) -> None:
    with db.write() as s:
        version = seed_gapminder(s)
        vid = version.version_id
    with db.write() as s:
        assert seed_gapminder(s).version_id == vid
    assert count(db, Observation) == 3 * (1704 + 12)
    assert count(db, MetricVersion) == 1
    with db.read() as s:
        assert [i.key for i in list_indicators(s)] == ["gdpPercap", "lifeExp", "pop"]
        sweden = list_observations(s, "lifeExp", entity="Sweden", period=2007)
        assert [o.value for o in sweden] == [80.884]
        world_pop = list_observations(s, "pop", entity="World", period=1952)
        assert world_pop[0].value == sum(
            r.pop for r in gapminder_data.load_rows() if r.year == 1952
        )
        assert get_version(s, vid).status == "draft"
        assert definition_of(get_version(s, vid)).aggregation.value == "weighted_geometric"
