"""The report as JSON, and the JSON Schema the API documents for it.

Both come from the read model's dataclasses through one pydantic ``TypeAdapter``, so the
document and its schema cannot drift apart; then one rule is applied to both: a field
``x_micros`` (integer micro-units) is written ``x``, an exact decimal string (``"12.5"``),
as every amount in the API is. Datetimes are RFC 3339 in UTC, floats are JSON numbers,
tuples are arrays. The schema is self-contained (no ``$ref``), so it can sit inline in an
OpenAPI operation.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Final

from pydantic import TypeAdapter

from market.book import format_micros
from reports.model import PolicyReport

MICROS_SUFFIX: Final = "_micros"

MONEY_SCHEMA: Final[dict[str, Any]] = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]{1,6})?$",
    "description": "An exact decimal string (shortest form, at most 6 decimals).",
}


@cache
def _adapter() -> TypeAdapter[PolicyReport]:
    return TypeAdapter(PolicyReport)


def _money_keys(value: Any) -> Any:
    """Rename ``x_micros`` keys to ``x`` and write their integers as decimal strings."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.endswith(MICROS_SUFFIX):
                out[key.removesuffix(MICROS_SUFFIX)] = (
                    None if item is None else format_micros(int(item))
                )
            else:
                out[key] = _money_keys(item)
        return out
    if isinstance(value, list):
        return [_money_keys(item) for item in value]
    return value


def to_data(report: PolicyReport) -> dict[str, Any]:
    """The report as plain JSON data (see the module docstring)."""
    data = _adapter().dump_python(report, mode="json")
    result: dict[str, Any] = _money_keys(data)
    return result


def render(report: PolicyReport) -> str:
    """The report as a JSON document (UTF-8 text, keys in the read model's order)."""
    return json.dumps(to_data(report), ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _money_schema(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _money_schema(v) for k, v in node.items()}
        properties = node.get("properties")
        if isinstance(properties, dict):
            renamed: dict[str, Any] = {}
            for key, schema in properties.items():
                if key.endswith(MICROS_SUFFIX):
                    nullable = "anyOf" in schema
                    money: dict[str, Any] = (
                        {"anyOf": [MONEY_SCHEMA, {"type": "null"}]} if nullable else MONEY_SCHEMA
                    )
                    renamed[key.removesuffix(MICROS_SUFFIX)] = {
                        **money,
                        **({"title": schema["title"]} if "title" in schema else {}),
                    }
                else:
                    renamed[key] = _money_schema(schema)
            out["properties"] = renamed
            if "required" in node:
                out["required"] = [r.removesuffix(MICROS_SUFFIX) for r in node["required"]]
        return out
    if isinstance(node, list):
        return [_money_schema(item) for item in node]
    return node


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of `to_data`'s output, self-contained (every ``$ref`` inlined)."""
    raw = _adapter().json_schema(mode="serialization")
    inlined = _inline(raw, raw.get("$defs", {}))
    result: dict[str, Any] = _money_schema(inlined)
    result["title"] = "PolicyReport"
    return result
