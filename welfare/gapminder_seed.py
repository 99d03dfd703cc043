"""Seed the gapminder demo: indicators, observations and the HDI-like metric version.

Idempotent: indicators are created only if missing, an indicator's gapminder observations
only if none from the gapminder source are stored yet, and the metric version is keyed by
its content, so running the seed again adds nothing. The version is a *draft*: only a passed
council motion adopts it. The demo council is `welfare.council_seed.seed_demo_council` with
`welfare.gapminder_data.country_populations`, voting in continental blocs (`continents`,
`welfare.council_seed.seat_blocs`).

Everything is stored through the services (`welfare.observation_service`,
`welfare.metric_service`), so it is in the audit log like any other change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from welfare import gapminder_data as data
from welfare.errors import InvalidWelfareInput
from welfare.metric_service import create_version
from welfare.observation_service import create_indicator, find_indicator, store_observations
from welfare.records import Indicator, MetricVersion, Observation


def _indicator(session: Session, key: str, unit: str, description: str) -> Indicator:
    existing = find_indicator(session, key)
    if existing is None:
        return create_indicator(session, key, unit, description)
    if existing.unit != unit:
        raise InvalidWelfareInput(
            f"indicator {key!r} exists in unit {existing.unit!r}, not the gapminder unit {unit!r}"
        )
    return existing


def seed_gapminder(session: Session) -> MetricVersion:
    """Create the gapminder indicators and observations (142 countries and the World,
    1952–2007, released `welfare.gapminder_data.NOMINAL_RELEASE`) and the HDI-like demo
    metric version; return the version. Only flushes.

    Raises:
        InvalidWelfareInput: an indicator of the same key exists in another unit.
    """
    rows_by_key = data.observations()
    for key, unit, description in data.INDICATORS:
        indicator = _indicator(session, key, unit, description)
        seeded = session.scalar(
            select(Observation.id)
            .where(
                Observation.indicator_id == indicator.id,
                Observation.source.in_((data.SOURCE, data.WORLD_SOURCE)),
            )
            .limit(1)
        )
        if seeded is None:
            store_observations(
                session,
                [
                    {
                        "indicator_id": indicator.id,
                        "entity": entity,
                        "period": period,
                        "value": value,
                        "std_error": None,
                        "release_date": data.NOMINAL_RELEASE,
                        "source": source,
                    }
                    for entity, period, value, source in rows_by_key[key]
                ],
            )
    session.flush()
    return create_version(session, data.HDI_LIKE_DEFINITION)


def continents() -> dict[str, frozenset[str]]:
    """The gapminder countries by continent (Africa, Americas, Asia, Europe, Oceania).

    With the demo council's 800 Penrose seats these hold 221, 139, 295, 138 and 7 seats.
    """
    found: dict[str, set[str]] = {}
    for row in data.load_rows():
        found.setdefault(row.continent, set()).add(row.country)
    return {name: frozenset(countries) for name, countries in sorted(found.items())}
