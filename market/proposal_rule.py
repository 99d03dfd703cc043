"""A proposal's decision terms as one content-hashed document (pure).

What a proposal commits to at creation, and what its ``decision_rule_hash`` covers, is the
*rule document*::

    {
      "decision":        DecisionRule.to_dict(),          (window, interval, cap, δ, ε, mode)
      "decides_at":      "2027-01-31T12:00:00Z",          (ISO-8601, UTC, "Z")
      "seed_commitment": SHA-256(seed), hex,              (the seed stays secret until the
                                                           decision reveals it)
      "settles_on":      {"entity", "period", "cutoff"}   (the certified measurement that
                         or null                           settles it; null: cannot settle)
    }

    rule_hash = SHA-256(canonical JSON of the document), 64 lowercase hex digits

Canonical JSON: sorted keys, separators ``(',', ':')``, ``ensure_ascii=True`` (so the hash
does not depend on how a reader encodes non-ASCII text), floats by Python's shortest
round-trip ``repr`` (`DecisionRule` normalises its numbers). Anyone holding the document
recomputes the hash; the migration that gave older proposals their terms and the service
that creates new ones both call `rule_hash`, so they agree byte for byte.

`default_terms` is the rule a proposal gets when none was given (every proposal created
before decision rules existed, see ``alembic/versions/0005_decide_settle.py``): decide at
the close of trading; average over the last ``min(24 h, trading length rounded down to whole
hours)`` (at least 1 h) in 1 h intervals (or one interval if the window is shorter); cap
``(hi − lo) / 100`` welfare units per interval; threshold 0; no exploration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from db import canonical
from market.decision import VALUE_LIMIT, DecisionRule, commitment, new_seed
from market.errors import InvalidMarketInput

DEFAULT_MAX_WINDOW_SECONDS: Final = 24 * 3600
"""The default averaging window is at most a day, in seconds."""

DEFAULT_INTERVAL_SECONDS: Final = 3600
"""The default observation interval, in seconds (one hour)."""

DEFAULT_CAP_DIVISOR: Final = 100
"""The default cap is the tradable range ``hi − lo`` divided by this (1 % per interval)."""


@dataclass(frozen=True)
class SettlesOn:
    """What settles a proposal: the bound metric version's certified measurement of
    ``entity`` for ``period``, computed as known at ``cutoff``."""

    entity: str
    period: str
    cutoff: date

    def to_dict(self) -> dict[str, str]:
        """``{"entity", "period", "cutoff": "YYYY-MM-DD"}``."""
        return {"entity": self.entity, "period": self.period, "cutoff": self.cutoff.isoformat()}


@dataclass(frozen=True)
class ProposalTerms:
    """A proposal's decision terms as stored on its row.

    Attributes:
        rule: the decision rule (``decision_rule`` stores ``rule.to_dict()``).
        decides_at: the decision time ``T``, UTC.
        seed_hex: the secret seed, hex; kept by the server, revealed by the decision.
        seed_commitment: ``SHA-256(seed)``, hex; public from creation.
        settles_on: what settles it, or None (the proposal cannot settle until it is set).
        rule_hash: `rule_hash` of all of the above but the secret.
    """

    rule: DecisionRule
    decides_at: datetime
    seed_hex: str
    seed_commitment: str
    settles_on: SettlesOn | None
    rule_hash: str


def iso_utc(instant: datetime) -> str:
    """``instant`` in UTC as ISO-8601 with a ``Z`` (microseconds only when non-zero).

    Raises:
        InvalidMarketInput: a naive datetime (an instant needs its zone).
    """
    if instant.tzinfo is None:
        raise InvalidMarketInput(f"the decision time {instant!r} needs a time zone")
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def rule_document(
    rule: DecisionRule,
    decides_at: datetime,
    seed_commitment: str,
    settles_on: SettlesOn | None,
) -> dict[str, Any]:
    """The document the rule hash covers (see the module docstring)."""
    return {
        "decision": rule.to_dict(),
        "decides_at": iso_utc(decides_at),
        "seed_commitment": seed_commitment,
        "settles_on": None if settles_on is None else settles_on.to_dict(),
    }


def canonical_json(document: dict[str, Any]) -> str:
    """The canonical JSON of a rule document (`db.canonical.encode`)."""
    return canonical.encode(document)


def rule_hash(
    rule: DecisionRule,
    decides_at: datetime,
    seed_commitment: str,
    settles_on: SettlesOn | None,
) -> str:
    """SHA-256 hex of the canonical JSON of `rule_document`."""
    return canonical.digest(rule_document(rule, decides_at, seed_commitment, settles_on))


def default_rule(opens_at: datetime, closes_at: datetime, lo: float, hi: float) -> DecisionRule:
    """The default decision rule of a proposal trading ``[opens_at, closes_at)`` on ``[lo, hi]``.

    ``W = clamp(⌊(closes_at − opens_at) / 1 h⌋, 1, 24)`` hours, ``I = min(1 h, W)``,
    ``c = (hi − lo) / 100`` welfare units (kept within ``(0, VALUE_LIMIT]``), ``δ = 0``,
    ``ε = 0``.
    """
    hours = int((closes_at - opens_at).total_seconds() // 3600)
    window = max(3600, min(DEFAULT_MAX_WINDOW_SECONDS, hours * 3600))
    cap = min((hi - lo) / DEFAULT_CAP_DIVISOR, VALUE_LIMIT)
    if not cap > 0.0:  # a range so narrow that dividing it underflows
        cap = math.ulp(0.0)
    return DecisionRule(
        window_seconds=window,
        interval_seconds=min(DEFAULT_INTERVAL_SECONDS, window),
        cap=cap,
    )


def terms(
    rule: DecisionRule,
    decides_at: datetime,
    seed: bytes,
    settles_on: SettlesOn | None = None,
) -> ProposalTerms:
    """The stored terms of ``rule`` deciding at ``decides_at`` with the secret ``seed``."""
    committed = commitment(seed)
    return ProposalTerms(
        rule=rule,
        decides_at=decides_at.astimezone(UTC),
        seed_hex=seed.hex(),
        seed_commitment=committed,
        settles_on=settles_on,
        rule_hash=rule_hash(rule, decides_at, committed, settles_on),
    )


def default_terms(
    opens_at: datetime,
    closes_at: datetime,
    lo: float,
    hi: float,
    seed: bytes | None = None,
) -> ProposalTerms:
    """`default_rule`, deciding at ``closes_at``, with a fresh secret seed (or ``seed``) and
    nothing to settle on yet."""
    rule = default_rule(opens_at, closes_at, lo, hi)
    return terms(rule, closes_at, new_seed() if seed is None else seed)
