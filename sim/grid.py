"""A sweep grid: one base scenario and the values to try for some of its fields.

A grid file (TOML or JSON) names its base scenario, by a path relative to the grid file
or inline, and maps dotted field paths to lists of values; the sweep runs every
combination (the cartesian product, in the order the fields are written)::

    base = "honest.toml"
    [grid]
    "population.informed.count" = [10, 30]
    "market.subsidy" = [100.0, 1000.0]
    "branches.1.effect" = [1.0, 4.0]       # a list index is a number

Each combination is validated as a whole scenario (`sim.scenario.from_dict`), so a path
that does not exist or a value out of range is refused naming the field; each is named
after the base with the values that vary (``honest traders [market.subsidy=100]``).
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.scenario import Scenario, ScenarioError, from_dict, load

MAX_COMBINATIONS = 10_000


def _set(data: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(path, f"no item {part!r} in a list of {len(node)}")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last and node.get(key) is None:
                node[key] = {}
        else:
            raise ScenarioError(path, f"{'.'.join(parts[:i])} is not a table or a list")
        if last:
            node[key] = value
        else:
            node = node[key]


def expand(grid: Mapping[str, Any], base: Scenario) -> list[Scenario]:
    """Every combination of the grid's values applied to ``base``.

    Raises:
        ScenarioError: a malformed grid, too many combinations, or a combination that is
            not a valid scenario (naming the field).
    """
    fields = grid.get("grid", {})
    if not isinstance(fields, Mapping) or not fields:
        raise ScenarioError("grid", "a grid needs a [grid] table of field = [values]")
    for key in grid:
        if key not in ("base", "grid"):
            raise ScenarioError(str(key), "unknown field (a grid has base and grid)")
    names = list(fields)
    values = []
    for name in names:
        options = fields[name]
        if not isinstance(options, list) or not options:
            raise ScenarioError(f"grid.{name}", "must be a non-empty list of values")
        values.append(options)
    count = 1
    for v in values:
        count *= len(v)
    if count > MAX_COMBINATIONS:
        raise ScenarioError("grid", f"{count} combinations; at most {MAX_COMBINATIONS}")
    specs = []
    for combo in itertools.product(*values):
        data = json.loads(json.dumps(base.to_dict()))
        for name, value in zip(names, combo, strict=True):
            _set(data, name, value)
        label = ", ".join(
            f"{n}={v}"
            for n, v, options in zip(names, combo, values, strict=True)
            if len(options) > 1
        )
        data["name"] = f"{base.name} [{label}]"[:200] if label else base.name
        specs.append(from_dict(data))
    return specs


def load_grid(path: str | Path) -> list[Scenario]:
    """Read a grid file and expand it (see the module docstring).

    Raises:
        ScenarioError: an unreadable or malformed file, or an invalid combination.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ScenarioError("", f"cannot read the grid {p}: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError("", "a grid must be a table")
    base_ref = data.get("base")
    if isinstance(base_ref, str):
        base = load(p.parent / base_ref)
    elif isinstance(base_ref, Mapping):
        base = from_dict(base_ref)
    else:
        raise ScenarioError("base", "name the base scenario's file, or give it inline")
    return expand(data, base)
