"""Council services: members, their seats, the rules in force, and the power table.

Seats are always consistent with the members and the rules: every change to either
re-apportions every member's seats (`reapportion`), inside the same transaction, so a change
that would leave the council unseatable (e.g. more members than the assembly has seats, or
an explicit method with a member lacking a weight) is refused and changes nothing. The
council is bounded there too (`welfare.seats.MAX_SEATED_MEMBERS` members,
`welfare.seats.MAX_TOTAL_SEATS` seats), so its exact power table stays quick to compute; and
the table is computed once per seat vector and quota (`council_power`).

Member names and constituencies are NFKC-normalised and refused with invisible or
direction-changing characters (`db.text.clean_name`), so that no member can pass for
another: ``"Ｆｒａｎｃｅ"`` is stored as ``"France"`` and then clashes with it.

Every change appends its event to the governance stream of the audit log (`db.audit`) at
its end, in the same transaction: ``member.created``, ``member.updated`` (the member as it now
stands) and ``rules.set``, each with every member's seats after the change, so a verifier
re-apportions with `welfare.seats` and compares (`welfare.audit_replay`).

Services only flush; the caller's transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import audit
from db.audit_chain import iso_instant
from db.errors import InvalidInputError
from db.identity import Role, get_account
from db.paging import DEFAULT_PAGE
from db.text import clean_name
from db.types import utcnow
from welfare.apportion import DEFAULT_ASSEMBLY_SIZE
from welfare.council import CouncilMember, CouncilRules
from welfare.errors import DuplicateMember, InvalidWelfareInput, NotACouncilMember, UnknownMember
from welfare.power import cached_power_table, jagiellonian_quota, quota_weight
from welfare.seats import MAX_TOTAL_SEATS, SeatMethod, allocate_seats
from welfare.tally import (
    DEFAULT_QUORUM,
    DEFAULT_THRESHOLD,
    check_quorum,
    check_threshold,
    parse_share,
    share_text,
)

DEFAULT_METHOD = SeatMethod.PENROSE

MAX_NAME = 100
"""Longest member name, in characters after NFKC normalisation (the column's length)."""

MAX_CONSTITUENCY = 200
"""Longest constituency name, in characters after NFKC normalisation."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The council's rules in force.

    Attributes:
        assembly_size: seats to apportion (penrose, two_factor).
        method: the seat method.
        quorum: participation share needed, exact.
        threshold: yes share of yes-or-no weight to exceed, exact.
        version_id: the `CouncilRules` row in force, or None for the built-in defaults.
        set_by_motion_id: the motion that set them, if any.
        set_at: when they were set (None for the defaults).
    """

    assembly_size: int
    method: SeatMethod
    quorum: Fraction
    threshold: Fraction
    version_id: int | None = None
    set_by_motion_id: int | None = None
    set_at: datetime | None = None


DEFAULT_RULES = Rules(DEFAULT_ASSEMBLY_SIZE, DEFAULT_METHOD, DEFAULT_QUORUM, DEFAULT_THRESHOLD)


# --- repository ---------------------------------------------------------------------------


def list_members(session: Session) -> list[CouncilMember]:
    """Every member, by id (at most `welfare.seats.MAX_SEATED_MEMBERS`: every member holds
    a seat, and seating is refused beyond that)."""
    return list(session.scalars(select(CouncilMember).order_by(CouncilMember.id)))


def members_page(
    session: Session, *, after_id: int = 0, limit: int = DEFAULT_PAGE
) -> list[CouncilMember]:
    """Members with ``id > after_id``, by id, at most ``limit`` (`db.paging`)."""
    stmt = (
        select(CouncilMember)
        .where(CouncilMember.id > after_id)
        .order_by(CouncilMember.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_member(session: Session, member_id: int) -> CouncilMember:
    """The member with this id, or `UnknownMember`."""
    member = session.get(CouncilMember, member_id)
    if member is None:
        raise UnknownMember(f"no council member with id {member_id}")
    return member


def member_for_account(session: Session, account_id: int) -> CouncilMember:
    """The member the account acts for, or `NotACouncilMember`."""
    member = session.scalar(select(CouncilMember).where(CouncilMember.account_id == account_id))
    if member is None:
        raise NotACouncilMember(
            f"account {account_id} holds no council seat; an admin must link it to a member"
        )
    return member


def current_rules(session: Session) -> Rules:
    """The newest `CouncilRules` row, or the defaults (800 seats, penrose, 0.5, 0.5)."""
    row = session.scalar(select(CouncilRules).order_by(CouncilRules.id.desc()).limit(1))
    if row is None:
        return DEFAULT_RULES
    return Rules(
        assembly_size=row.assembly_size,
        method=SeatMethod(row.method),
        quorum=Fraction(row.quorum),
        threshold=Fraction(row.threshold),
        version_id=row.id,
        set_by_motion_id=row.set_by_motion_id,
        set_at=row.created_at,
    )


def rules_history(session: Session) -> list[CouncilRules]:
    """Every rules row, oldest first."""
    return list(session.scalars(select(CouncilRules).order_by(CouncilRules.id)))


# --- seats --------------------------------------------------------------------------------


def _allocation(members: Sequence[CouncilMember], rules: Rules) -> list[int]:
    return allocate_seats(
        rules.method,
        populations=[m.population for m in members],
        contributions=[m.contribution for m in members],
        explicit_weights=[m.explicit_weight for m in members],
        assembly_size=rules.assembly_size,
    )


def reapportion(session: Session, rules: Rules | None = None) -> list[CouncilMember]:
    """Recompute every member's seats under ``rules`` (default: those in force).

    Members are apportioned in id order, so exact ties go to the older member. Appends no
    audit event: seats follow from the members and the rules, and the event of the change
    that called this records every member's seats after it.

    Raises:
        InvalidWelfareInput: the council cannot be seated under these rules.
    """
    members = list_members(session)
    if not members:
        return members
    seats = _allocation(members, rules or current_rules(session))
    for member, s in zip(members, seats, strict=True):
        if member.seats != s:
            member.seats = s
    session.flush()
    return members


# --- audit events ---------------------------------------------------------------------------


def seat_list(members: Sequence[CouncilMember]) -> list[list[int]]:
    """``[[member id, seats], …]`` by member id: the seats an audit event records."""
    return [[m.id, m.seats] for m in sorted(members, key=lambda m: m.id)]


def _member_data(member: CouncilMember, members: Sequence[CouncilMember]) -> dict[str, object]:
    """The ``member.created`` / ``member.updated`` event: the member and every member's seats."""
    return {
        "member_id": member.id,
        "name": member.name,
        "constituency": member.constituency,
        "population": member.population,
        "contribution": member.contribution,
        "explicit_weight": member.explicit_weight,
        "account_id": member.account_id,
        "seats": seat_list(members),
    }


# --- members ------------------------------------------------------------------------------


def _check_factor(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidWelfareInput(f"the {what} must be a whole number ≥ 0, not {value!r}")
    return value


def _check_account(session: Session, account_id: int, member_id: int | None) -> None:
    account = get_account(session, account_id)
    if account.role != Role.COUNCIL.value:
        raise InvalidWelfareInput(
            f"account {account.name!r} has the {account.role} role; "
            "only council accounts can hold a seat"
        )
    holder = session.scalar(select(CouncilMember.id).where(CouncilMember.account_id == account_id))
    if holder is not None and holder != member_id:
        raise DuplicateMember(f"account {account.name!r} already holds the seat of member {holder}")


def _clean(text: str, what: str, longest: int) -> str:
    """``text`` through `db.text.clean_name` (NFKC, no controls, invisible or bidi
    characters) and within ``longest`` characters after normalising."""
    try:
        cleaned = clean_name(text, what=what)
    except InvalidInputError as exc:
        raise InvalidWelfareInput(f"{exc}; send a name of visible characters") from None
    if len(cleaned) > longest:
        raise InvalidWelfareInput(
            f"the {what} is {len(cleaned)} characters long once normalised (NFKC), more than "
            f"{longest}; send a shorter one"
        )
    return cleaned


def _check_name_free(session: Session, name: str, member_id: int | None) -> None:
    holder = session.scalar(select(CouncilMember.id).where(CouncilMember.name == name))
    if holder is not None and holder != member_id:
        raise DuplicateMember(f"a council member named {name!r} exists already (member {holder})")


def create_member(
    session: Session,
    *,
    name: str,
    constituency: str,
    population: int,
    contribution: int = 0,
    explicit_weight: int | None = None,
    account_id: int | None = None,
) -> CouncilMember:
    """Add a member and re-apportion every seat.

    The name and the constituency are normalised (NFKC: ``"Ｆｒａｎｃｅ"`` is stored as
    ``"France"``) and refused if they hold invisible or direction-changing characters
    (`db.text.clean_name`), so that no name can pass for another; an empty constituency is
    the name.

    Raises:
        InvalidWelfareInput: an empty or impersonating name, a negative factor, a
            non-council account, or a council that can no longer be seated (more than
            `welfare.seats.MAX_SEATED_MEMBERS` members, too few seats, …).
        DuplicateMember: the name (once normalised) is taken or the account already holds
            a seat.
        UnknownAccount: no such account.
    """
    name = _clean(name, "member name", MAX_NAME)
    constituency = (
        _clean(constituency, "constituency", MAX_CONSTITUENCY) if constituency.strip() else name
    )
    _check_factor(population, "population")
    _check_factor(contribution, "contribution")
    if explicit_weight is not None and (_check_factor(explicit_weight, "explicit weight") < 1):
        raise InvalidWelfareInput("an explicit weight must be at least 1")
    _check_name_free(session, name, None)
    if account_id is not None:
        _check_account(session, account_id, None)
    member = CouncilMember(
        name=name,
        constituency=constituency,
        population=population,
        contribution=contribution,
        explicit_weight=explicit_weight,
        account_id=account_id,
        seats=0,
    )
    try:
        with session.begin_nested():
            session.add(member)
            session.flush()
    except IntegrityError:  # the same name or account, committed meanwhile by another request
        raise DuplicateMember(
            f"a council member named {name!r}, or one holding that account, was added meanwhile"
        ) from None
    members = reapportion(session)
    audit.record(session, "member.created", _member_data(member, members))
    return member


_UNSET = object()


def update_member(
    session: Session,
    member_id: int,
    *,
    name: str | None = None,
    constituency: str | None = None,
    population: int | None = None,
    contribution: int | None = None,
    explicit_weight: int | object | None = _UNSET,
    account_id: int | object | None = _UNSET,
) -> CouncilMember:
    """Change a member's name, constituency, factors, explicit weight or linked account;
    re-apportion.

    ``explicit_weight`` / ``account_id`` accept None to clear them; omit to keep them. A new
    name or constituency is normalised and checked as in `create_member`.

    Raises:
        UnknownMember: no such member.
        InvalidWelfareInput: as `create_member`.
        DuplicateMember: the new name is another member's, or the account holds another seat.
    """
    member = get_member(session, member_id)
    if name is not None:
        cleaned = _clean(name, "member name", MAX_NAME)
        _check_name_free(session, cleaned, member.id)
        member.name = cleaned
    if constituency is not None:
        member.constituency = _clean(constituency, "constituency", MAX_CONSTITUENCY)
    if population is not None:
        member.population = _check_factor(population, "population")
    if contribution is not None:
        member.contribution = _check_factor(contribution, "contribution")
    if explicit_weight is not _UNSET:
        if explicit_weight is not None:
            if not isinstance(explicit_weight, int) or isinstance(explicit_weight, bool):
                raise InvalidWelfareInput(
                    f"an explicit weight must be whole, not {explicit_weight!r}"
                )
            if explicit_weight < 1:
                raise InvalidWelfareInput("an explicit weight must be at least 1")
        member.explicit_weight = explicit_weight
    if account_id is not _UNSET:
        if account_id is not None:
            if not isinstance(account_id, int):
                raise InvalidWelfareInput(f"an account id must be whole, not {account_id!r}")
            _check_account(session, account_id, member.id)
        member.account_id = account_id
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same name or account, committed meanwhile by another request
        raise DuplicateMember(
            f"another council member took the name {member.name!r} or that account meanwhile"
        ) from None
    members = reapportion(session)
    audit.record(session, "member.updated", _member_data(member, members))
    return member


# --- rules --------------------------------------------------------------------------------


def set_rules(
    session: Session,
    *,
    assembly_size: int | None = None,
    method: SeatMethod | str | None = None,
    quorum: str | Fraction | None = None,
    threshold: str | Fraction | None = None,
    account_id: int | None = None,
    motion_id: int | None = None,
    now: datetime | None = None,
) -> Rules:
    """Append new rules (unchanged fields carried over) and re-apportion the seats.

    Raises:
        InvalidWelfareInput: an out-of-range size or share, an unknown method, or a council
            that cannot be seated under the new rules.
    """
    old = current_rules(session)
    size = old.assembly_size if assembly_size is None else assembly_size
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_TOTAL_SEATS:
        raise InvalidWelfareInput(
            f"the assembly size must be a whole number from 1 to {MAX_TOTAL_SEATS} (the most "
            f"seats a council may have), not {size!r}"
        )
    if method is None:
        checked_method = old.method
    else:
        try:
            checked_method = SeatMethod(method)
        except ValueError:
            known = ", ".join(m.value for m in SeatMethod)
            raise InvalidWelfareInput(
                f"the seat method must be one of {known}, not {method!r}"
            ) from None
    q = old.quorum if quorum is None else check_quorum(parse_share(quorum, "quorum"))
    t = old.threshold if threshold is None else check_threshold(parse_share(threshold, "threshold"))
    new = Rules(size, checked_method, q, t)
    members = reapportion(session, new)  # refuses rules the council cannot be seated under
    row = CouncilRules(
        assembly_size=size,
        method=checked_method.value,
        quorum=share_text(q),
        threshold=share_text(t),
        set_by_account_id=account_id,
        set_by_motion_id=motion_id,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "rules.set",
        {
            "rules_id": row.id,
            "assembly_size": row.assembly_size,
            "method": row.method,
            "quorum": row.quorum,
            "threshold": row.threshold,
            "set_by_account_id": row.set_by_account_id,
            "set_by_motion_id": row.set_by_motion_id,
            "set_at": iso_instant(row.created_at),
            "seats": seat_list(members),
        },
    )
    return current_rules(session)


# --- power --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberPower:
    """One line of the council's power table."""

    member_id: int
    name: str
    seats: int
    weight_share: Fraction
    banzhaf: Fraction
    shapley_shubik: Fraction
    swings: int


@dataclass(frozen=True, slots=True)
class CouncilPower:
    """The power table at one threshold share, with the Jagiellonian suggestion.

    Attributes:
        threshold: the share ``t`` used (the rules' threshold unless asked otherwise).
        quota: the integer quota ``⌊t·W⌋ + 1``.
        total_seats: ``W``.
        jagiellonian_threshold: ``t_J`` from the members' populations (None if all are zero).
        rows: one per member, by id.
    """

    threshold: Fraction
    quota: int
    total_seats: int
    jagiellonian_threshold: float | None
    rows: tuple[MemberPower, ...]


def council_power(session: Session, threshold: Fraction | None = None) -> CouncilPower:
    """Each member's seats beside its Banzhaf and Shapley–Shubik power.

    The game is: with every member voting yes or no, a motion passes iff the yes seats
    exceed ``t·W`` (the tally's rule with full participation). The exact table is computed
    once per game, the seat vector (members by id) and the quota, and then served from
    `welfare.power.cached_power_table`; the bounds on members and seats
    (`welfare.seats`) keep that one computation under a second.

    Raises:
        InvalidWelfareInput: no members with seats, or a share outside ``[0, 1)``.
    """
    members = [m for m in list_members(session) if m.seats > 0]
    if not members:
        raise InvalidWelfareInput("the council has no seated members yet")
    t = current_rules(session).threshold if threshold is None else threshold
    total = sum(m.seats for m in members)
    quota = quota_weight(total, t)
    table = cached_power_table(tuple(m.seats for m in members), quota)
    populations = [m.population for m in members]
    jagiellonian = jagiellonian_quota(populations) if any(populations) else None
    rows = tuple(
        MemberPower(
            member_id=m.id,
            name=m.name,
            seats=m.seats,
            weight_share=row.weight_share,
            banzhaf=row.banzhaf,
            shapley_shubik=row.shapley_shubik,
            swings=row.swings,
        )
        for m, row in zip(members, table.rows, strict=True)
    )
    return CouncilPower(t, quota, total, jagiellonian, rows)
