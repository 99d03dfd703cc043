"""Replaying the governance stream: the council, its motions and the metric from the events
alone (pure: no database, no framework).

`GovernanceReplay` is fed every event of the ``governance`` stream in order (`apply`), then
asked for what the market replay needs (`finish` → `GovernanceFacts`). It rebuilds:

- accounts and their keys (``account.created``, ``key.issued``, ``key.revoked``);
- the council: members, the rules in force and every member's seats. After each
  ``member.created``, ``member.updated`` and ``rules.set`` it re-apportions the seats of
  every member (by id) under the rules in force with the service's own `welfare.seats`, and
  compares them with the seats the event recorded;
- motions, ballots and delegations. At each ``motion.decided`` it counts the motion again
  with the service's own `welfare.tally`: the weights are the members' seats and the
  quorum and threshold those of the rules in force when it was decided (as the service
  counts), the ballots are the motion's, the delegations those in force at its deadline
  (per member, the delegation with the greatest id created at or before the deadline;
  ``delegate_id`` null revokes), and compares every figure of the recorded result, the
  per-member breakdown and the effect's status;
- the metric: each ``metric.drafted`` version's id is the SHA-256 of its definition's
  canonical JSON (`welfare.metric`), indicators, observations, measurements.

Rules checked on the way, each as the service enforces it: a ballot is cast by a member,
strictly before its motion's deadline, on an undecided motion, at most once per member
(a ballot is never changed); a motion is decided once, at or after its deadline; an effect
(``rules.set`` / ``metric.adopted`` / ``measurement.certified`` naming a motion) comes
immediately before that motion's ``motion.decided`` and matches its payload, and a passed
motion's effect is recorded as applied exactly when it has its event (a ``void_proposal``
declaration has none; an effect refused by its service, e.g. a version adopted already, is
recorded as failed, and the replay checks that it had to be); a version is adopted once,
and only a drafted one; a measurement is certified once, only of an adopted version, one
per (version, entity, period).

The first disagreement raises `AuditMismatch` with ``Disagreement("governance", seq,
message)``, the message saying what was expected and what was recorded. Kinds written by
the market side (``cash.*``, ``proposal.*``) are counted and otherwise ignored; any other
unknown kind is a disagreement.

Memory: the council (at most `welfare.seats.MAX_SEATED_MEMBERS` members), accounts, keys,
motions with their ballots, delegations, versions and measurements; observations are
checked and counted, not kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from db import canonical
from db.audit_chain import GOVERNANCE, AuditMismatch, Disagreement, Event, parse_instant
from welfare.apportion import DEFAULT_ASSEMBLY_SIZE
from welfare.errors import InvalidWelfareInput
from welfare.metric import canonical_json, parse_definition, version_id
from welfare.seats import MAX_TOTAL_SEATS, SeatMethod, allocate_seats
from welfare.tally import (
    DEFAULT_QUORUM,
    DEFAULT_THRESHOLD,
    Choice,
    Tally,
    check_quorum,
    check_threshold,
    parse_share,
    share_text,
    tally,
)
from welfare.vintage import check_period

DEFAULT_METHOD = SeatMethod.PENROSE
"""The seat method in force before any ``rules.set`` (`welfare.members.DEFAULT_METHOD`)."""

COUNCIL_ROLE = "council"
"""The role an account needs to hold a seat (`db.identity.Role.COUNCIL`)."""

ADOPT = "adopt_metric_version"
CHANGE_RULES = "change_rules"
CERTIFY = "certify_measurement"
VOID = "void_proposal"
MOTION_KINDS = frozenset({ADOPT, CHANGE_RULES, CERTIFY, VOID})
"""The motion kinds (`welfare.council.MotionKind`)."""

APPLIED, FAILED, NONE = "applied", "failed", "none"
"""A decided motion's effect status (`welfare.council.EffectStatus`)."""

EFFECT_KIND = {CHANGE_RULES: "rules.set", ADOPT: "metric.adopted", CERTIFY: "measurement.certified"}
"""The event a passed motion's applied effect appends (a ``void_proposal`` appends none)."""

FOREIGN_PREFIXES = ("cash.", "proposal.")
"""Kinds the market side writes to the governance stream (`market.audit_replay` checks)."""

OBSERVATION_COLUMNS = (
    "id",
    "indicator",
    "entity",
    "period",
    "value",
    "std_error",
    "release_date",
    "source",
)
"""The fields of each row of ``observations.appended``
(`welfare.observation_service.AUDIT_COLUMNS`)."""


# --- what the market replay needs -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertifiedMeasurement:
    """A measurement the council certified.

    Attributes:
        value: the welfare value ``W`` (the metric's unit).
        version_id: the metric version measured.
        motion_id: the passed ``certify_measurement`` motion.
        seq: the governance sequence number of its ``measurement.certified`` event.
        entity, period, cutoff: what was measured, and the data cut-off (ISO date).
    """

    value: float
    version_id: str
    motion_id: int
    seq: int
    entity: str = ""
    period: str = ""
    cutoff: str = ""


@dataclass(frozen=True, slots=True)
class PassedMotion:
    """A motion that passed: its kind, its payload as filed, and the seq of its decision."""

    kind: str
    payload: Mapping[str, Any]
    seq: int


@dataclass(frozen=True)
class GovernanceFacts:
    """What the governance stream established, for the market replay.

    Attributes:
        certified: measurement id → its certification.
        passed_motions: motion id → the motion, for motions that passed.
        motions_checked: how many motion results were recounted.
        events: how many governance events were read (the market side's included).
    """

    certified: Mapping[int, CertifiedMeasurement]
    passed_motions: Mapping[int, PassedMotion]
    motions_checked: int
    events: int


# --- the replayed state ---------------------------------------------------------------------


class _Malformed(Exception):
    """An event's data lacks a field or holds one of the wrong type."""


@dataclass(frozen=True, slots=True)
class _Rules:
    assembly_size: int
    method: SeatMethod
    quorum: Fraction
    threshold: Fraction


@dataclass(slots=True)
class _Member:
    name: str
    constituency: str
    population: int
    contribution: int
    explicit_weight: int | None
    account_id: int | None
    seats: int = 0


@dataclass(slots=True)
class _Motion:
    kind: str
    payload: Mapping[str, Any]
    deadline: datetime
    ballots: dict[int, Choice] = field(default_factory=dict)
    decided: bool = False


@dataclass(slots=True)
class _Measurement:
    version_id: str
    entity: str
    period: str
    cutoff: str
    value: float
    certified_by: int | None = None


@dataclass(frozen=True, slots=True)
class _Effect:
    """A passed motion's effect, seen before its ``motion.decided``."""

    motion_id: int
    kind: str
    seq: int
    rules_before: _Rules
    measurement_id: int | None = None


# --- reading data ---------------------------------------------------------------------------


def _field(data: Mapping[str, Any], name: str) -> Any:
    if name not in data:
        raise _Malformed(f"it has no {name!r}")
    return data[name]


def _int(data: Mapping[str, Any], name: str) -> int:
    value = _field(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{name} is {value!r}, not a whole number")
    return value


def _id(data: Mapping[str, Any], name: str) -> int:
    value = _int(data, name)
    if value < 1:
        raise _Malformed(f"{name} is {value}, not an id (a whole number ≥ 1)")
    return value


def _optional_id(data: Mapping[str, Any], name: str) -> int | None:
    return None if _field(data, name) is None else _id(data, name)


def _str(data: Mapping[str, Any], name: str) -> str:
    value = _field(data, name)
    if not isinstance(value, str):
        raise _Malformed(f"{name} is {value!r}, not a string")
    return value


def _bool(data: Mapping[str, Any], name: str) -> bool:
    value = _field(data, name)
    if not isinstance(value, bool):
        raise _Malformed(f"{name} is {value!r}, not true or false")
    return value


def _number(data: Mapping[str, Any], name: str) -> float:
    value = _field(data, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Malformed(f"{name} is {value!r}, not a finite number")
    return float(value)


def _instant(data: Mapping[str, Any], name: str) -> datetime:
    text = _str(data, name)
    try:
        return parse_instant(text)
    except ValueError:
        raise _Malformed(f"{name} is {text!r}, not an instant") from None


def _date(data: Mapping[str, Any], name: str) -> str:
    text = _str(data, name)
    try:
        if date.fromisoformat(text).isoformat() != text:
            raise ValueError(text)
    except ValueError:
        raise _Malformed(f"{name} is {text!r}, not a date YYYY-MM-DD") from None
    return text


def _share(text: str, what: str, check: Callable[[Fraction], Fraction]) -> Fraction:
    """An exact share written as `welfare.tally.share_text` writes it."""
    share = check(parse_share(text, what))
    if share_text(share) != text:
        raise InvalidWelfareInput(f"the {what} {text!r} is not written as {share_text(share)!r}")
    return share


# --- the replay -----------------------------------------------------------------------------


class GovernanceReplay:
    """Rebuilds the council and the metric from the governance stream and recounts every
    decided motion (see the module docstring). Feed every event with `apply`, in order;
    then call `finish`."""

    def __init__(self) -> None:
        self._seq = 0
        self._events = 0
        self._accounts: dict[int, str] = {}
        self._account_names: set[str] = set()
        self._keys: dict[int, tuple[int, bool]] = {}
        self._members: dict[int, _Member] = {}
        self._rules = _Rules(
            DEFAULT_ASSEMBLY_SIZE, DEFAULT_METHOD, DEFAULT_QUORUM, DEFAULT_THRESHOLD
        )
        self._rules_ids: set[int] = set()
        self._motions: dict[int, _Motion] = {}
        self._ballot_ids: set[int] = set()
        self._delegations: dict[int, list[tuple[int, datetime, int | None]]] = {}
        self._delegation_ids: set[int] = set()
        self._versions: dict[str, bool] = {}  # version id → adopted
        self._version_entity: dict[str, str] = {}
        self._indicators: dict[str, str] = {}  # key → unit
        self._indicator_ids: set[int] = set()
        self._observations = 0
        self._measurements: dict[int, _Measurement] = {}
        self._certified_keys: set[tuple[str, str, str]] = set()
        self._effect: _Effect | None = None
        self._certified: dict[int, CertifiedMeasurement] = {}
        self._passed: dict[int, PassedMotion] = {}
        self._motions_checked = 0
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "account.created": self._account_created,
            "key.issued": self._key_issued,
            "key.revoked": self._key_revoked,
            "member.created": self._member_created,
            "member.updated": self._member_updated,
            "rules.set": self._rules_set,
            "motion.filed": self._motion_filed,
            "ballot.cast": self._ballot_cast,
            "delegation.set": self._delegation_set,
            "motion.decided": self._motion_decided,
            "metric.drafted": self._metric_drafted,
            "metric.adopted": self._metric_adopted,
            "indicator.created": self._indicator_created,
            "observations.appended": self._observations_appended,
            "measurement.taken": self._measurement_taken,
            "measurement.certified": self._measurement_certified,
        }

    # --- driving ---------------------------------------------------------------------------

    def _fail(self, message: str, seq: int | None = None) -> AuditMismatch:
        return AuditMismatch(Disagreement(GOVERNANCE, self._seq if seq is None else seq, message))

    def apply(self, event: Event) -> None:
        """Replay the next governance event.

        Raises:
            AuditMismatch: the event disagrees with what the events before it establish.
        """
        if event.stream != GOVERNANCE:
            raise AuditMismatch(
                Disagreement(event.stream, event.seq, "a governance replay was given this event")
            )
        self._seq = event.seq
        self._events += 1
        effect = self._effect
        if effect is not None and not (
            event.kind == "motion.decided" and event.data.get("motion_id") == effect.motion_id
        ):
            raise self._fail(
                f"expected motion {effect.motion_id}'s motion.decided right after its effect "
                f"(the {effect.kind} event #{effect.seq}), found a {event.kind} event"
            )
        handler = self._handlers.get(event.kind)
        if handler is None:
            if event.kind.startswith(FOREIGN_PREFIXES):
                return
            raise self._fail(f"{event.kind!r} is not a kind of governance event")
        try:
            handler(event.data)
        except _Malformed as problem:
            raise self._fail(f"the {event.kind} event is malformed: {problem}") from None
        except InvalidWelfareInput as problem:
            raise self._fail(f"the {event.kind} event is refused: {problem}") from None

    def finish(self) -> GovernanceFacts:
        """What the stream established, once every event was applied.

        Raises:
            AuditMismatch: the stream ends between an effect and its motion's decision.
        """
        if self._effect is not None:
            raise self._fail(
                f"the stream ends after the effect of motion {self._effect.motion_id} without "
                "its motion.decided",
                self._effect.seq,
            )
        return GovernanceFacts(
            certified=dict(self._certified),
            passed_motions=dict(self._passed),
            motions_checked=self._motions_checked,
            events=self._events,
        )

    # --- accounts --------------------------------------------------------------------------

    def _account(self, account_id: int, what: str) -> str:
        role = self._accounts.get(account_id)
        if role is None:
            raise self._fail(f"{what} names account {account_id}, which no account.created made")
        return role

    def _account_created(self, data: Mapping[str, Any]) -> None:
        account_id, name, role = _id(data, "account_id"), _str(data, "name"), _str(data, "role")
        if account_id in self._accounts:
            raise self._fail(f"account {account_id} was created already")
        if name in self._account_names:
            raise self._fail(f"an account named {name!r} exists already; names are unique")
        self._accounts[account_id] = role
        self._account_names.add(name)

    def _key_issued(self, data: Mapping[str, Any]) -> None:
        key_id, account_id, role = _id(data, "key_id"), _id(data, "account_id"), _str(data, "role")
        if key_id in self._keys:
            raise self._fail(f"key {key_id} was issued already")
        held = self._account(account_id, f"key {key_id}")
        if held != role:
            raise self._fail(
                f"key {key_id} records the role {role!r}; account {account_id} has the role "
                f"{held!r}"
            )
        self._keys[key_id] = (account_id, False)

    def _key_revoked(self, data: Mapping[str, Any]) -> None:
        key_id, account_id = _id(data, "key_id"), _id(data, "account_id")
        _instant(data, "revoked_at")
        found = self._keys.get(key_id)
        if found is None or found[0] != account_id:
            raise self._fail(f"account {account_id} was never issued key {key_id}")
        if found[1]:
            raise self._fail(f"key {key_id} was revoked already; a revocation is recorded once")
        self._keys[key_id] = (account_id, True)

    # --- the council -----------------------------------------------------------------------

    def _member_fields(self, data: Mapping[str, Any], member_id: int) -> _Member:
        name, constituency = _str(data, "name"), _str(data, "constituency")
        population, contribution = _int(data, "population"), _int(data, "contribution")
        explicit_weight = _field(data, "explicit_weight")
        if explicit_weight is not None:
            explicit_weight = _id(data, "explicit_weight")
        account_id = _optional_id(data, "account_id")
        if population < 0 or contribution < 0:
            raise self._fail(f"member {member_id} has a negative population or contribution")
        for other_id, other in self._members.items():
            if other_id == member_id:
                continue
            if other.name == name:
                raise self._fail(f"member {other_id} is named {name!r} already")
            if account_id is not None and other.account_id == account_id:
                raise self._fail(f"account {account_id} holds member {other_id}'s seat already")
        if account_id is not None:
            role = self._account(account_id, f"member {member_id}")
            if role != COUNCIL_ROLE:
                raise self._fail(
                    f"member {member_id} is linked to account {account_id}, which has the {role} "
                    "role; only council accounts hold a seat"
                )
        return _Member(name, constituency, population, contribution, explicit_weight, account_id)

    def _member_created(self, data: Mapping[str, Any]) -> None:
        member_id = _id(data, "member_id")
        if member_id in self._members:
            raise self._fail(f"member {member_id} was created already")
        self._members[member_id] = self._member_fields(data, member_id)
        self._check_seats(data)

    def _member_updated(self, data: Mapping[str, Any]) -> None:
        member_id = _id(data, "member_id")
        old = self._members.get(member_id)
        if old is None:
            raise self._fail(f"member {member_id} is updated, but no member.created made it")
        new = self._member_fields(data, member_id)
        new.seats = old.seats
        self._members[member_id] = new
        self._check_seats(data)

    def _apportioned(self, rules: _Rules) -> dict[int, int]:
        """Every member's seats under ``rules``, members in id order (`welfare.seats`)."""
        if not self._members:
            return {}
        ids = sorted(self._members)
        members = [self._members[i] for i in ids]
        seats = allocate_seats(
            rules.method,
            populations=[m.population for m in members],
            contributions=[m.contribution for m in members],
            explicit_weights=[m.explicit_weight for m in members],
            assembly_size=rules.assembly_size,
        )
        return dict(zip(ids, seats, strict=True))

    def _check_seats(self, data: Mapping[str, Any], rules: _Rules | None = None) -> None:
        """Re-apportion under ``rules`` (default: in force), compare with ``data["seats"]``,
        and seat the members."""
        rules = rules or self._rules
        recorded = _field(data, "seats")
        if not isinstance(recorded, list) or not all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in p)
            for p in recorded
        ):
            raise _Malformed("seats is not a list of [member id, seats] pairs")
        expected = self._apportioned(rules)
        found: dict[int, int] = dict(recorded)
        if len(found) != len(recorded) or set(found) != set(expected):
            raise self._fail(
                f"the seats are recorded for members {sorted(found)}; the council has members "
                f"{sorted(expected)}"
            )
        for member_id in sorted(expected):
            if found[member_id] != expected[member_id]:
                raise self._fail(
                    f"member {member_id} is recorded with {found[member_id]} seats; "
                    f"{rules.method.value} apportionment of the council under the rules in "
                    f"force (assembly {rules.assembly_size}) gives it {expected[member_id]}"
                )
        for member_id, seats in expected.items():
            self._members[member_id].seats = seats

    def _rules_set(self, data: Mapping[str, Any]) -> None:
        rules_id = _id(data, "rules_id")
        if rules_id in self._rules_ids:
            raise self._fail(f"rules {rules_id} were set already")
        size = _int(data, "assembly_size")
        if not 1 <= size <= MAX_TOTAL_SEATS:
            raise self._fail(f"the assembly size {size} is not from 1 to {MAX_TOTAL_SEATS}")
        method_text = _str(data, "method")
        try:
            method = SeatMethod(method_text)
        except ValueError:
            raise self._fail(f"{method_text!r} is not a seat method") from None
        new = _Rules(
            size,
            method,
            _share(_str(data, "quorum"), "quorum", check_quorum),
            _share(_str(data, "threshold"), "threshold", check_threshold),
        )
        set_by = _optional_id(data, "set_by_account_id")
        if set_by is not None:
            self._account(set_by, f"rules {rules_id}")
        _instant(data, "set_at")
        motion_id = _optional_id(data, "set_by_motion_id")
        before = self._rules
        if motion_id is not None:
            motion = self._effect_motion(motion_id, CHANGE_RULES, "rules.set")
            for name, share in (("quorum", new.quorum), ("threshold", new.threshold)):
                wanted = motion.payload.get(name)
                old = getattr(before, name)
                expected = old if wanted is None else parse_share(wanted, name)
                if share != expected:
                    raise self._fail(
                        f"motion {motion_id} sets the {name} to {share_text(expected)}; the "
                        f"rules it set have {share_text(share)}"
                    )
            if (new.assembly_size, new.method) != (before.assembly_size, before.method):
                raise self._fail(
                    f"motion {motion_id} changes only the quorum and threshold; its rules also "
                    f"change the assembly to {new.assembly_size} seats by {new.method.value}"
                )
            self._effect = _Effect(motion_id, "rules.set", self._seq, before)
        self._check_seats(data, new)
        self._rules_ids.add(rules_id)
        self._rules = new

    # --- motions ---------------------------------------------------------------------------

    def _member(self, member_id: int, what: str) -> _Member:
        member = self._members.get(member_id)
        if member is None:
            raise self._fail(f"{what} names member {member_id}, which is not on the council")
        return member

    def _motion(self, motion_id: int, what: str) -> _Motion:
        motion = self._motions.get(motion_id)
        if motion is None:
            raise self._fail(f"{what} names motion {motion_id}, which was never filed")
        return motion

    def _check_payload(self, kind: str, payload: Any) -> None:
        """The payload of a motion as `welfare.motions.validate_payload` stores it."""
        if not isinstance(payload, dict):
            raise _Malformed("payload is not an object")
        keys = set(payload)
        if kind == CHANGE_RULES:
            if not keys or not keys <= {"quorum", "threshold"}:
                raise self._fail(f"a change_rules payload changes quorum or threshold: {payload}")
            checks = {"quorum": check_quorum, "threshold": check_threshold}
            for name in keys:
                value = payload[name]
                if not isinstance(value, str):
                    raise _Malformed(f"payload.{name} is {value!r}, not a share")
                _share(value, name, checks[name])
        elif kind == ADOPT:
            if keys != {"version_id", "effective_from"}:
                raise _Malformed(
                    "an adopt_metric_version payload has version_id and effective_from"
                )
            version = _str(payload, "version_id")
            _date(payload, "effective_from")
            if version not in self._versions:
                raise self._fail(f"the motion adopts metric version {version}, never drafted")
        elif kind == CERTIFY:
            if keys != {"measurement_id"}:
                raise _Malformed("a certify_measurement payload has only measurement_id")
            measurement_id = _id(payload, "measurement_id")
            if measurement_id not in self._measurements:
                raise self._fail(
                    f"the motion certifies measurement {measurement_id}, which was never taken"
                )
        elif kind == VOID:
            if keys != {"proposal_id"}:
                raise _Malformed("a void_proposal payload has only proposal_id")
            _id(payload, "proposal_id")
        else:
            raise self._fail(f"{kind!r} is not a motion kind")

    def _motion_filed(self, data: Mapping[str, Any]) -> None:
        motion_id, kind = _id(data, "motion_id"), _str(data, "kind")
        if motion_id in self._motions:
            raise self._fail(f"motion {motion_id} was filed already")
        self._member(_id(data, "filed_by_member_id"), f"motion {motion_id}")
        _str(data, "title")
        filed_at, deadline = _instant(data, "filed_at"), _instant(data, "deadline")
        if not filed_at < deadline:
            raise self._fail(
                f"motion {motion_id} was filed at {data['filed_at']}, not before its deadline "
                f"{data['deadline']}"
            )
        payload = _field(data, "payload")
        self._check_payload(kind, payload)
        self._motions[motion_id] = _Motion(kind, payload, deadline)

    def _ballot_cast(self, data: Mapping[str, Any]) -> None:
        ballot_id, motion_id = _id(data, "ballot_id"), _id(data, "motion_id")
        member_id, choice_text = _id(data, "member_id"), _str(data, "choice")
        cast_at = _instant(data, "cast_at")
        if ballot_id in self._ballot_ids:
            raise self._fail(f"ballot {ballot_id} was cast already")
        motion = self._motion(motion_id, f"ballot {ballot_id}")
        self._member(member_id, f"ballot {ballot_id}")
        try:
            choice = Choice(choice_text)
        except ValueError:
            raise self._fail(
                f"ballot {ballot_id}'s choice {choice_text!r} is not yes, no or abstain"
            ) from None
        if motion.decided:
            raise self._fail(f"ballot {ballot_id} is cast on motion {motion_id}, decided already")
        if not cast_at < motion.deadline:
            raise self._fail(
                f"ballot {ballot_id} was cast at {data['cast_at']}; voting on motion {motion_id} "
                "closed at its deadline, before that"
            )
        if member_id in motion.ballots:
            raise self._fail(
                f"member {member_id} votes twice on motion {motion_id}; a ballot cannot be changed"
            )
        self._ballot_ids.add(ballot_id)
        motion.ballots[member_id] = choice

    def _delegation_set(self, data: Mapping[str, Any]) -> None:
        delegation_id, member_id = _id(data, "delegation_id"), _id(data, "member_id")
        delegate_id = _optional_id(data, "delegate_id")
        created_at = _instant(data, "created_at")
        if delegation_id in self._delegation_ids:
            raise self._fail(f"delegation {delegation_id} was set already")
        self._member(member_id, f"delegation {delegation_id}")
        if delegate_id is not None:
            self._member(delegate_id, f"delegation {delegation_id}")
            if delegate_id == member_id:
                raise self._fail(f"member {member_id} delegates to itself")
        self._delegation_ids.add(delegation_id)
        self._delegations.setdefault(member_id, []).append((delegation_id, created_at, delegate_id))

    def _delegations_at(self, deadline: datetime) -> dict[int, int]:
        """member → delegate, from each member's delegation with the greatest id created at
        or before ``deadline`` (a revocation drops the member out), as
        `welfare.motions.delegations_in_force` reads them."""
        in_force: dict[int, int] = {}
        for member_id, rows in self._delegations.items():
            newest = max((r for r in rows if r[1] <= deadline), default=None)
            if newest is not None and newest[2] is not None:
                in_force[member_id] = newest[2]
        return in_force

    def _effect_motion(self, motion_id: int, kind: str, event_kind: str) -> _Motion:
        """The undecided ``kind`` motion an effect event names."""
        motion = self._motion(motion_id, f"the {event_kind} event")
        if motion.kind != kind:
            raise self._fail(
                f"a {event_kind} event is the effect of a {kind} motion; motion {motion_id} is a "
                f"{motion.kind} motion"
            )
        if motion.decided:
            raise self._fail(f"motion {motion_id} was decided already; its effect came after")
        return motion

    def _motion_decided(self, data: Mapping[str, Any]) -> None:
        motion_id = _id(data, "motion_id")
        motion = self._motion(motion_id, "motion.decided")
        if motion.decided:
            raise self._fail(f"motion {motion_id} was decided already; a result is recorded once")
        decided_at = _instant(data, "decided_at")
        if decided_at < motion.deadline:
            raise self._fail(
                f"motion {motion_id} was decided at {data['decided_at']}, before its deadline"
            )
        self._account(_id(data, "decided_by_account_id"), f"motion {motion_id}'s decision")
        effect, self._effect = self._effect, None
        rules = self._rules if effect is None else effect.rules_before
        weights = {member_id: m.seats for member_id, m in self._members.items()}
        delegations = self._delegations_at(motion.deadline)
        counted = tally(
            weights, motion.ballots, delegations, quorum=rules.quorum, threshold=rules.threshold
        )
        self._compare_tally(motion_id, data, counted)
        self._compare_breakdown(motion_id, data, counted, motion.ballots, delegations)
        self._check_effect(motion_id, motion, _str(data, "effect_status"), counted.passed, effect)
        _str(data, "effect_detail")
        motion.decided = True
        self._motions_checked += 1
        if counted.passed:
            self._passed[motion_id] = PassedMotion(motion.kind, motion.payload, self._seq)
        if effect is not None and effect.measurement_id is not None:
            measured = self._measurements[effect.measurement_id]
            self._certified[effect.measurement_id] = CertifiedMeasurement(
                value=measured.value,
                version_id=measured.version_id,
                motion_id=motion_id,
                seq=effect.seq,
                entity=measured.entity,
                period=measured.period,
                cutoff=measured.cutoff,
            )

    def _compare_tally(self, motion_id: int, data: Mapping[str, Any], counted: Tally[int]) -> None:
        expected: dict[str, object] = {  # the figures first: they say why an outcome differs
            "yes_weight": counted.yes,
            "no_weight": counted.no,
            "abstain_weight": counted.abstain,
            "lost_weight": counted.lost,
            "total_weight": counted.total_weight,
            "quorum": share_text(counted.quorum),
            "threshold": share_text(counted.threshold),
            "quorum_met": counted.quorum_met,
            "outcome": "passed" if counted.passed else "rejected",
        }
        for name, value in expected.items():
            recorded = _field(data, name)
            if recorded != value or isinstance(recorded, bool) != isinstance(value, bool):
                raise self._fail(
                    f"motion {motion_id}'s {name} is recorded as {recorded!r}; its ballots, the "
                    f"delegations in force at its deadline and the seats and rules in force "
                    f"give {value!r}"
                )

    def _compare_breakdown(
        self,
        motion_id: int,
        data: Mapping[str, Any],
        counted: Tally[int],
        ballots: Mapping[int, Choice],
        delegations: Mapping[int, int],
    ) -> None:
        recorded = _field(data, "breakdown")
        if not isinstance(recorded, list):
            raise _Malformed("breakdown is not a list")
        expected = [
            {
                "member_id": member_id,
                "seats": self._members[member_id].seats,
                "carried_by": counted.carried_by.get(member_id),
                "choice": (
                    ballots[counted.carried_by[member_id]].value
                    if member_id in counted.carried_by
                    else None
                ),
                "delegated_to": delegations.get(member_id),
                "in_cycle": member_id in counted.cyclic,
            }
            for member_id in sorted(self._members)
        ]
        if len(recorded) != len(expected):
            raise self._fail(
                f"motion {motion_id}'s breakdown lists {len(recorded)} members; the council has "
                f"{len(expected)}"
            )
        for line, wanted in zip(recorded, expected, strict=True):
            if line != wanted:
                raise self._fail(
                    f"motion {motion_id}'s breakdown records {line!r} for member "
                    f"{wanted['member_id']}; expected {wanted!r}"
                )

    def _check_effect(
        self, motion_id: int, motion: _Motion, status: str, passed: bool, effect: _Effect | None
    ) -> None:
        """The effect status the service records: ``none`` for a rejected motion; for a
        passed one ``applied`` when its effect's event came just before (checked there) or
        it is a declaration (``void_proposal``), else ``failed``, and only if the effect's
        service had to refuse it."""
        if not passed:
            if effect is not None:
                raise self._fail(
                    f"motion {motion_id} is rejected by its recount, but its effect was applied "
                    f"(the {effect.kind} event #{effect.seq})"
                )
            expected, why = NONE, "the motion is rejected"
        elif effect is not None:
            expected, why = APPLIED, f"its {effect.kind} event #{effect.seq} applied it"
        elif motion.kind == VOID:
            expected, why = APPLIED, "the passed motion is the declaration"
        else:
            refused = self._effect_refused(motion)
            if refused is None:
                raise self._fail(
                    f"motion {motion_id} passed and its effect could apply, but no "
                    f"{EFFECT_KIND[motion.kind]} event comes right before its decision"
                )
            expected, why = FAILED, f"its service refuses it: {refused}"
        if status != expected:
            raise self._fail(
                f"motion {motion_id}'s effect is recorded as {status!r}; expected {expected!r} "
                f"({why})"
            )

    def _effect_refused(self, motion: _Motion) -> str | None:
        """Why the effect's service would refuse it now, or None if it would apply."""
        if motion.kind == ADOPT:
            if self._versions[motion.payload["version_id"]]:
                return "the version was adopted already"
            return None
        if motion.kind == CERTIFY:
            measured = self._measurements[motion.payload["measurement_id"]]
            if measured.certified_by is not None:
                return "the measurement was certified already"
            if not self._versions[measured.version_id]:
                return "its metric version is a draft"
            if (measured.version_id, measured.entity, measured.period) in self._certified_keys:
                return "another measurement of that version and period is certified"
        return None

    # --- the metric ------------------------------------------------------------------------

    def _metric_drafted(self, data: Mapping[str, Any]) -> None:
        recorded_id, name = _str(data, "version_id"), _str(data, "name")
        definition = _field(data, "definition")
        creator = _optional_id(data, "created_by_account_id")
        if creator is not None:
            self._account(creator, f"metric version {recorded_id}")
        if recorded_id in self._versions:
            raise self._fail(f"metric version {recorded_id} was drafted already")
        parsed = parse_definition(definition)
        if canonical_json(parsed) != canonical.encode(definition):
            raise self._fail(
                f"metric version {recorded_id}'s definition is not in its canonical form "
                f"{canonical_json(parsed)}"
            )
        digest = version_id(parsed)
        if digest != recorded_id:
            raise self._fail(
                f"metric version {recorded_id} is recorded with a definition whose SHA-256 is "
                f"{digest}"
            )
        if parsed.name != name:
            raise self._fail(f"metric version {recorded_id} is named {parsed.name!r}, not {name!r}")
        for component in parsed.components:
            unit = self._indicators.get(component.indicator)
            if unit is None:
                raise self._fail(
                    f"metric version {recorded_id} reads indicator {component.indicator!r}, "
                    "which no indicator.created made"
                )
            if component.unit and component.unit != unit:
                raise self._fail(
                    f"metric version {recorded_id} reads {component.indicator!r} in "
                    f"{component.unit!r}; the indicator is in {unit!r}"
                )
        self._versions[recorded_id] = False
        self._version_entity[recorded_id] = parsed.entity

    def _metric_adopted(self, data: Mapping[str, Any]) -> None:
        recorded_id, motion_id = _str(data, "version_id"), _id(data, "motion_id")
        effective_from = _date(data, "effective_from")
        _instant(data, "adopted_at")
        adopted = self._versions.get(recorded_id)
        if adopted is None:
            raise self._fail(f"metric version {recorded_id} is adopted but was never drafted")
        if adopted:
            raise self._fail(f"metric version {recorded_id} was adopted already; it never changes")
        motion = self._effect_motion(motion_id, ADOPT, "metric.adopted")
        wanted = (motion.payload["version_id"], motion.payload["effective_from"])
        if wanted != (recorded_id, effective_from):
            raise self._fail(
                f"motion {motion_id} adopts version {wanted[0]} from {wanted[1]}; the adoption "
                f"recorded is of {recorded_id} from {effective_from}"
            )
        self._versions[recorded_id] = True
        self._effect = _Effect(motion_id, "metric.adopted", self._seq, self._rules)

    def _indicator_created(self, data: Mapping[str, Any]) -> None:
        indicator_id, key, unit = _id(data, "indicator_id"), _str(data, "key"), _str(data, "unit")
        _str(data, "description")
        if indicator_id in self._indicator_ids or key in self._indicators:
            raise self._fail(f"indicator {indicator_id} ({key!r}) was created already")
        self._indicator_ids.add(indicator_id)
        self._indicators[key] = unit

    def _observations_appended(self, data: Mapping[str, Any]) -> None:
        columns = _field(data, "columns")
        if columns != list(OBSERVATION_COLUMNS):
            raise _Malformed(f"columns is {columns!r}, not {list(OBSERVATION_COLUMNS)!r}")
        rows = _field(data, "rows")
        if not isinstance(rows, list) or not rows:
            raise _Malformed("rows is not a non-empty list")
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, list) or len(row) != len(OBSERVATION_COLUMNS):
                raise _Malformed(
                    f"row {number} does not have the {len(OBSERVATION_COLUMNS)} columns"
                )
            fields = dict(zip(OBSERVATION_COLUMNS, row, strict=True))
            where = f"row {number}"
            _id(fields, "id")
            key = _str(fields, "indicator")
            if key not in self._indicators:
                raise self._fail(
                    f"{where} observes indicator {key!r}, which no indicator.created made"
                )
            _str(fields, "entity")
            if check_period(_str(fields, "period")) != fields["period"]:
                raise _Malformed(f"{where}'s period {fields['period']!r} is not canonical")
            _number(fields, "value")
            if fields["std_error"] is not None and _number(fields, "std_error") < 0:
                raise _Malformed(f"{where}'s std_error is negative")
            _date(fields, "release_date")
            _str(fields, "source")
        self._observations += len(rows)

    def _measurement_taken(self, data: Mapping[str, Any]) -> None:
        measurement_id, recorded_version = _id(data, "measurement_id"), _str(data, "version_id")
        if measurement_id in self._measurements:
            raise self._fail(f"measurement {measurement_id} was taken already")
        entity = self._version_entity.get(recorded_version)
        if entity is None:
            raise self._fail(
                f"measurement {measurement_id} measures metric version {recorded_version}, "
                "never drafted"
            )
        if _str(data, "entity") != entity:
            raise self._fail(
                f"measurement {measurement_id} is of {data['entity']!r}; its metric version "
                f"measures {entity!r}"
            )
        period = _str(data, "period")
        if check_period(period) != period:
            raise _Malformed(f"period {period!r} is not canonical")
        for name in ("breakdown", "missing", "uncertainty", "seed", "monte_carlo"):
            _field(data, name)
        optional = _optional_id(data, "computed_by_account_id")
        if optional is not None:
            self._account(optional, f"measurement {measurement_id}")
        _instant(data, "computed_at")
        self._measurements[measurement_id] = _Measurement(
            recorded_version, entity, period, _date(data, "cutoff"), _number(data, "value")
        )

    def _measurement_certified(self, data: Mapping[str, Any]) -> None:
        measurement_id, motion_id = _id(data, "measurement_id"), _id(data, "motion_id")
        _instant(data, "certified_at")
        measured = self._measurements.get(measurement_id)
        if measured is None:
            raise self._fail(f"measurement {measurement_id} is certified but was never taken")
        recorded = {
            "version_id": _str(data, "version_id"),
            "entity": _str(data, "entity"),
            "period": _str(data, "period"),
            "cutoff": _date(data, "cutoff"),
            "value": _number(data, "value"),
        }
        for name, value in recorded.items():
            taken = getattr(measured, name)
            if value != taken:
                raise self._fail(
                    f"measurement {measurement_id} is certified with {name} {value!r}; it was "
                    f"taken with {taken!r}"
                )
        motion = self._effect_motion(motion_id, CERTIFY, "measurement.certified")
        if motion.payload["measurement_id"] != measurement_id:
            raise self._fail(
                f"motion {motion_id} certifies measurement {motion.payload['measurement_id']}, "
                f"not {measurement_id}"
            )
        refused = self._effect_refused(motion)
        if refused is not None:
            raise self._fail(f"measurement {measurement_id} cannot be certified: {refused}")
        measured.certified_by = motion_id
        self._certified_keys.add((measured.version_id, measured.entity, measured.period))
        self._effect = _Effect(
            motion_id, "measurement.certified", self._seq, self._rules, measurement_id
        )
