"""The errors of the welfare package, all rooted in `db.errors.FutarchyError`.

::

    FutarchyError
    └── WelfareError
        ├── InvalidWelfareInput        (also InvalidInputError -> 422): malformed numbers,
        │   │                          weights, seats, quotas, dates
        │   └── InvalidMetricDefinition  a metric version that fails validation
        ├── UnknownMember, UnknownMotion, UnknownMetricVersion, UnknownIndicator,
        │   UnknownMeasurement         (also NotFoundError -> 404)
        ├── NotACouncilMember          (also ConflictError -> 409): the account holds no seat
        ├── VotingClosed               (also ConflictError -> 409): the motion is decided or
        │                              past its deadline
        ├── VersionImmutable           (also ConflictError -> 409): an adopted version
        ├── AlreadyCertified           (also ConflictError -> 409)
        └── MeasurementUnavailable     (also ConflictError -> 409): the data known at the
            │                          cut-off cannot produce a value under the policy
            └── MeasurementNotFinite   a score, W or a Monte Carlo summary is not finite

Messages are sentences a council member can act on; they never mention HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.errors import ConflictError, FutarchyError, InvalidInputError, NotFoundError

FieldPath = tuple[str | int, ...]
"""Where in a JSON document: keys and list indices, e.g. ``("components", 0, "weight")``."""


def field_name(path: FieldPath) -> str:
    """A path as people write it: ``components[0].weight``; empty for the whole document."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True, slots=True)
class DefinitionProblem:
    """One thing wrong with a metric definition: where (a path into its JSON form; empty for
    the definition as a whole) and what, as a sentence that says what to send instead."""

    path: FieldPath
    message: str

    def __str__(self) -> str:
        return f"{field_name(self.path)}: {self.message}" if self.path else self.message


class WelfareError(FutarchyError):
    """Base of every deliberate error raised by the welfare package."""


class InvalidWelfareInput(WelfareError, InvalidInputError):
    """The input is malformed or out of range."""


class InvalidMetricDefinition(InvalidWelfareInput):
    """A metric version definition fails validation (weights, goalposts, units, bounds).

    The message lists every problem, numbered when there are several:
    ``the metric definition is invalid (2 problems): (1) lo: …; (2) components[0].weight: …``.

    Attributes:
        problems: every problem found, each with the path of its field.
    """

    def __init__(self, problems: tuple[DefinitionProblem, ...] | list[DefinitionProblem]):
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            listed = f": {self.problems[0]}"
        else:
            numbered = (f"({i}) {p}" for i, p in enumerate(self.problems, start=1))
            listed = f" ({len(self.problems)} problems): " + "; ".join(numbered)
        super().__init__("the metric definition is invalid" + listed)


class UnknownMember(WelfareError, NotFoundError):
    """No council member with that id."""


class UnknownMotion(WelfareError, NotFoundError):
    """No motion with that id."""


class UnknownMetricVersion(WelfareError, NotFoundError):
    """No metric version with that id (SHA-256)."""


class UnknownIndicator(WelfareError, NotFoundError):
    """No indicator with that key."""


class UnknownMeasurement(WelfareError, NotFoundError):
    """No measurement with that id."""


class NotACouncilMember(WelfareError, ConflictError):
    """The account holds no seat on the council."""


class VotingClosed(WelfareError, ConflictError):
    """The motion no longer takes ballots: decided, withdrawn, or past its deadline."""


class VersionImmutable(WelfareError, ConflictError):
    """An adopted metric version cannot change; create a new version instead."""


class AlreadyCertified(WelfareError, ConflictError):
    """The measurement (or the period it measures) is already certified."""


class MeasurementUnavailable(WelfareError, ConflictError):
    """The observations known at the cut-off cannot produce a value under the policy."""


class MeasurementNotFinite(MeasurementUnavailable):
    """A component score, ``W`` or a Monte Carlo summary is not a finite number (the
    observations are too large for the metric's arithmetic); nothing is stored."""


# --- council


class DuplicateMember(WelfareError, ConflictError):
    """A member with that name exists already, or the account already holds a seat."""


class AlreadyVoted(WelfareError, ConflictError):
    """The member has cast a ballot on this motion already (ballots are never replaced)."""


class MotionNotDue(WelfareError, ConflictError):
    """The motion's deadline has not passed yet, so it cannot be decided."""


class AlreadyDecided(WelfareError, ConflictError):
    """The motion has a result already; a result is recorded exactly once."""


class AppendOnlyViolation(WelfareError):
    """Code tried to update or delete an append-only record (ballot, delegation, rules,
    motion, result). This is a bug, never a user error."""


# --- metric


class DuplicateIndicator(WelfareError, ConflictError):
    """An indicator with that key exists already (indicators are never redefined)."""


class VersionNotAdopted(WelfareError, ConflictError):
    """Only a measurement of an adopted metric version can be certified."""
