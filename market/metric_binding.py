"""Binding a proposal to the welfare metric version in force when its trading opens.

Lifecycle step 2 of the design: a proposal's markets trade the welfare value ``W`` of ONE
metric version, the adopted version in force on the day trading opens
(`welfare.metric_service.version_in_force`). The binding is stored on the proposal and
never changes: a version adopted later governs only proposals that open after its
effective date.

The version also fixes the tradable bounds ``[lo, hi]`` (welfare units) of the scalar
LONG/SHORT asset or the outer edges of the bins: a proposal takes them from the version,
and bounds sent with the proposal must equal them, so the market and the measurement that
settles it can never disagree about what ``x = clip((W − lo)/(hi − lo), 0, 1)`` means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from market.errors import InvalidProposal, MetricNotInForce
from welfare.metric_service import definition_of, get_version, version_in_force
from welfare.records import VersionStatus


@dataclass(frozen=True, slots=True)
class MetricBinding:
    """The metric version a proposal binds to, and what the markets take from it.

    Attributes:
        version_id: the version's SHA-256 id.
        lo, hi: its tradable bounds (welfare units), ``lo < hi``.
    """

    version_id: str
    lo: float
    hi: float


def bind_metric(session: Session, requested: str | None, opens_at: datetime) -> MetricBinding:
    """The binding of a proposal whose trading opens at ``opens_at``.

    Args:
        requested: the version id the sponsor names, or None for "the version in force".
            A named version must be the one in force on the opening day: naming it is the
            sponsor's check that the markets trade what they expect.
        opens_at: the start of trading (timezone-aware); its UTC date picks the version.

    Raises:
        UnknownMetricVersion: ``requested`` names no version (404).
        MetricNotInForce: no version is in force on the opening day, or ``requested`` is a
            draft or not the version in force then (409).
    """
    day = opens_at.date()
    in_force = version_in_force(session, day)
    if requested is not None:
        named = get_version(session, requested)
        if named.status != VersionStatus.ADOPTED.value:
            raise MetricNotInForce(
                f"metric version {requested[:12]}… is a draft; a proposal binds only to the "
                "adopted version in force when its trading opens (the council adopts a "
                "version by motion)"
            )
        if in_force is None or in_force.version_id != named.version_id:
            now_in_force = (
                "no version is in force then"
                if in_force is None
                else f"the version in force then is {in_force.version_id[:12]}… ({in_force.name!r})"
            )
            raise MetricNotInForce(
                f"metric version {requested[:12]}… is not in force on {day.isoformat()}, when "
                f"trading opens (it is effective from {named.effective_from}); "
                f"{now_in_force}"
            )
    if in_force is None:
        raise MetricNotInForce(
            f"no adopted metric version is in force on {day.isoformat()}, when trading "
            "opens; the council must adopt one (by motion) before markets can open"
        )
    definition = definition_of(in_force)
    return MetricBinding(version_id=in_force.version_id, lo=definition.lo, hi=definition.hi)


def bounds_for(binding: MetricBinding, lo: float | None, hi: float | None) -> tuple[float, float]:
    """The proposal's bounds: the version's, which bounds sent with it must equal.

    Raises:
        InvalidProposal: ``lo`` or ``hi`` was sent and is not a finite number or differs
            from the version's.
    """
    for what, sent, bound in (("lo", lo, binding.lo), ("hi", hi, binding.hi)):
        if sent is None:
            continue
        if isinstance(sent, bool) or not isinstance(sent, int | float) or not math.isfinite(sent):
            raise InvalidProposal(f"{what} must be a finite number, got {sent!r}")
        if sent != bound:
            raise InvalidProposal(
                f"{what} = {sent:g} differs from the tradable bounds [{binding.lo:g}, "
                f"{binding.hi:g}] of metric version {binding.version_id[:12]}…; the bounds "
                "come from the metric version, so leave them out or send the version's"
            )
    return binding.lo, binding.hi
