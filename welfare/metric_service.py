"""Metric versions: create drafts, read, list, diff, adopt (by motion), the version in force.

A version is keyed by the SHA-256 of its canonical JSON (`welfare.metric`), so creating the
same definition twice returns the same version. Its definition never changes; a passed
``adopt_metric_version`` motion adopts it exactly once, from an effective date
(`adopt_version`, called by `welfare.motions`).

The version in force on a day is the adopted version with the latest ``effective_from`` on
or before that day (a tie goes to the later adoption). A market binds to the version in
force when it opens, so adopting a new version never changes an open market.

Audit: storing a new version appends ``metric.drafted`` (its id and its definition, whose
canonical JSON hashes to the id) and adopting it ``metric.adopted`` (naming the motion) to the
governance stream (`db.audit`), in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import audit
from db.audit_chain import iso_instant
from db.paging import DEFAULT_PAGE, MAX_PAGE
from db.types import utcnow
from welfare.errors import (
    DefinitionProblem,
    InvalidWelfareInput,
    UnknownMetricVersion,
    VersionImmutable,
)
from welfare.metric import (
    Component,
    ComponentCheck,
    FieldChange,
    MetricDefinition,
    canonical_json,
    diff,
    parse_definition,
)
from welfare.metric import version_id as hash_of
from welfare.observation_service import find_indicator
from welfare.records import MetricVersion, VersionStatus


def definition_of(version: MetricVersion) -> MetricDefinition:
    """The parsed definition of a stored version."""
    return parse_definition(json.loads(version.canonical))


def _indicator_check(session: Session) -> ComponentCheck:
    """A `ComponentCheck` that each component reads a known indicator in its unit."""

    def check(components: Sequence[tuple[int, Component]]) -> list[DefinitionProblem]:
        problems = []
        for index, component in components:
            if not component.indicator:
                continue  # already reported as empty
            indicator = find_indicator(session, component.indicator)
            if indicator is None:
                problems.append(
                    DefinitionProblem(
                        ("components", index, "indicator"),
                        f"component {component.key!r} reads indicator "
                        f"{component.indicator!r}, which is unknown; send a defined "
                        "indicator's key",
                    )
                )
            elif component.unit and indicator.unit != component.unit:
                problems.append(
                    DefinitionProblem(
                        ("components", index, "unit"),
                        f"component {component.key!r} says unit {component.unit!r} but "
                        f"indicator {indicator.key!r} is in {indicator.unit!r}; send "
                        f"{indicator.unit!r}",
                    )
                )
        return problems

    return check


def create_version(
    session: Session, definition: Mapping[str, Any], *, created_by: int | None = None
) -> MetricVersion:
    """Validate a definition and store it as a draft version; the same definition again
    (however its JSON is written) returns the existing version, whatever its status.

    Raises:
        InvalidMetricDefinition: the definition fails validation, names an unknown
            indicator or disagrees with an indicator's unit.
    """
    return draft_version(session, definition, created_by=created_by)[0]


def draft_version(
    session: Session, definition: Mapping[str, Any], *, created_by: int | None = None
) -> tuple[MetricVersion, bool]:
    """`create_version`, also telling whether this call stored it (False when the same
    definition was a version already, including one stored concurrently)."""
    parsed = parse_definition(definition, check=_indicator_check(session))
    key = hash_of(parsed)
    existing = session.get(MetricVersion, key)
    if existing is not None:
        return existing, False
    version = MetricVersion(
        version_id=key,
        name=parsed.name,
        canonical=canonical_json(parsed),
        status=VersionStatus.DRAFT.value,
        created_by_account_id=created_by,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:  # created concurrently by another transaction
        found = session.get(MetricVersion, key)
        if found is None:
            raise
        return found, False
    audit.record(
        session,
        "metric.drafted",
        {
            "version_id": key,
            "name": version.name,
            "definition": json.loads(version.canonical),
            "created_by_account_id": created_by,
        },
    )
    return version, True


def find_version(session: Session, version_id: str) -> MetricVersion | None:
    """The version with that id, or None."""
    return session.get(MetricVersion, version_id)


def get_version(session: Session, version_id: str) -> MetricVersion:
    """The version with that id.

    Raises:
        UnknownMetricVersion: no version has that id.
    """
    version = session.get(MetricVersion, version_id)
    if version is None:
        raise UnknownMetricVersion(f"no metric version with id {version_id!r}")
    return version


def list_versions(
    session: Session,
    *,
    status: str | None = None,
    after_id: int = 0,
    limit: int = DEFAULT_PAGE,
) -> list[MetricVersion]:
    """A page of versions, oldest first (by creation time, then id), optionally only
    drafts or only adopted ones.

    Paging (`db.paging`): a version's key is its SHA-256, and ``metric_version`` has no
    integer key yet, so here ``after_id`` counts the versions (of the same filter) already
    read: the page holds the ``after_id + 1``-th to the ``after_id + limit``-th, and the
    cursor of the next page is ``after_id + limit`` when the page is full. At most ``limit``
    rows are loaded.

    Raises:
        InvalidWelfareInput: an unknown status, or ``after_id``/``limit`` out of range.
    """
    if after_id < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidWelfareInput(
            f"after_id must be ≥ 0 and limit from 1 to {MAX_PAGE}, not {after_id} and {limit}"
        )
    stmt = select(MetricVersion)
    if status is not None:
        try:
            stmt = stmt.where(MetricVersion.status == VersionStatus(status).value)
        except ValueError:
            raise InvalidWelfareInput(f"status must be draft or adopted, not {status!r}") from None
    stmt = stmt.order_by(MetricVersion.created_at, MetricVersion.version_id)
    return list(session.scalars(stmt.offset(after_id).limit(limit)))


def diff_versions(session: Session, a: str, b: str) -> list[FieldChange]:
    """The fields that differ from version ``a`` to version ``b`` (`welfare.metric.diff`).

    Raises:
        UnknownMetricVersion: either id is unknown.
    """
    return diff(definition_of(get_version(session, a)), definition_of(get_version(session, b)))


def adopt_version(
    session: Session, version_id: str, effective_from: date, motion_id: int
) -> MetricVersion:
    """Adopt a draft version from ``effective_from``, as decided by motion ``motion_id``.

    Only a passed motion calls this (`welfare.motions`). The row is locked for update on
    PostgreSQL so two adoptions cannot both succeed.

    Raises:
        UnknownMetricVersion: no such version.
        VersionImmutable: the version is adopted already.
    """
    version = session.scalar(
        select(MetricVersion).where(MetricVersion.version_id == version_id).with_for_update()
    )
    if version is None:
        raise UnknownMetricVersion(f"no metric version with id {version_id!r}")
    if version.status == VersionStatus.ADOPTED.value:
        raise VersionImmutable(
            f"metric version {version_id[:12]}… was adopted already (by motion "
            f"{version.adopted_by_motion_id}, effective {version.effective_from}); an adopted "
            "version never changes"
        )
    version.status = VersionStatus.ADOPTED.value
    version.effective_from = effective_from
    version.adopted_by_motion_id = motion_id
    version.adopted_at = utcnow()
    session.flush()
    audit.record(
        session,
        "metric.adopted",
        {
            "version_id": version_id,
            "effective_from": effective_from.isoformat(),
            "motion_id": motion_id,
            "adopted_at": iso_instant(version.adopted_at),
        },
    )
    return version


def version_in_force(session: Session, on: date) -> MetricVersion | None:
    """The adopted version with the latest ``effective_from`` on or before ``on`` (a tie
    goes to the later adoption), or None if none is in force yet."""
    return session.scalar(
        select(MetricVersion)
        .where(
            MetricVersion.status == VersionStatus.ADOPTED.value,
            MetricVersion.effective_from <= on,
        )
        .order_by(MetricVersion.effective_from.desc(), MetricVersion.adopted_at.desc())
        .limit(1)
    )
