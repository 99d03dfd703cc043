"""Helpers for the metric integration tests: indicators, observations, a version."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from welfare import gapminder_data
from welfare.observation_service import ObservationInput, append_observations, create_indicator

RELEASED = date(2009, 1, 1)
CUTOFF = date(2010, 1, 1)


def definition(**changes: Any) -> dict[str, Any]:
    """The gapminder HDI-like definition with top-level fields replaced."""
    data = copy.deepcopy(gapminder_data.HDI_LIKE_DEFINITION)
    data.update(changes)
    return data


def indicators(session: Session) -> None:
    """The two indicators the HDI-like definition reads."""
    create_indicator(session, "lifeExp", "years", "Life expectancy at birth")
    create_indicator(session, "gdpPercap", "USD per person", "GDP per person")


def world_2007(
    session: Session, life: float = 67.0, gdp: float = 9_000.0, *, se: float | None = None
) -> None:
    """World observations for 2007 (and 2002), released `RELEASED`."""
    append_observations(
        session,
        "lifeExp",
        [
            ObservationInput("World", 2007, life, RELEASED, se, "test"),
            ObservationInput("World", 2002, 65.0, RELEASED, None, "test"),
        ],
    )
    append_observations(
        session,
        "gdpPercap",
        [
            ObservationInput("World", 2007, gdp, RELEASED, se, "test"),
            ObservationInput("World", 2002, 7_500.0, RELEASED, None, "test"),
        ],
    )
