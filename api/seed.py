"""The demo that `make run` seeds into the database (idempotent across restarts).

The demo is an admin, three traders, a council that adopted a real welfare metric, and one
open proposal bound to it:

- ``admin`` (role admin) receives `ADMIN_CASH` and sponsors the proposal, paying its
  subsidy `DEMO_SUBSIDY` once;
- the welfare side (`welfare.gapminder_seed`, `welfare.council_seed`): the gapminder
  indicators and observations (142 countries and the World, 1952–2007), the HDI-like
  metric version (an index on ``[0, 1]``), a council of one member per country with seats
  by Penrose's rule, and the account ``councillor`` (role council) holding the seat of the
  member with the most seats; the council adopted the metric from the first start's date
  by a motion every member carried (`welfare.council_seed.adopt_by_demo_motion`);
- ``alice``, ``bob`` and ``carol`` (role trader) each receive `TRADER_CASH` and split
  `TRADER_SPLIT` of it into the proposal, so they can trade in every branch at once;
- the proposal `DEMO_TITLE`: two alternatives and the status quo, a scalar welfare asset
  on the metric's bounds ``[0, 1]``, open from the first start for a year.

Each piece is created only when absent, looked up by name, title or content, so a restart
changes no balance. (Creating the proposal tops the admin's cash up to the subsidy if it is
short, and traders split what they have, up to `TRADER_SPLIT`.) Keys are stored hashed, so
an old key cannot be shown again: every start issues each demo account a fresh key (older
keys keep working).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.identity import Account, Role, create_account, issue_api_key
from db.types import utcnow
from market import funding
from market.models import AssetKind, Proposal
from market.proposals import ProposalSpec, create_proposal
from welfare.council_seed import adopt_by_demo_motion, most_seats, seed_demo_council
from welfare.gapminder_data import country_populations
from welfare.gapminder_seed import seed_gapminder
from welfare.members import update_member
from welfare.records import MetricVersion, VersionStatus

DEMO_ADMIN = "admin"
DEMO_COUNCILLOR = "councillor"
DEMO_TRADERS = ("alice", "bob", "carol")
DEMO_TITLE = "Demo: school leaving age"
DEMO_ALTERNATIVES = ("Leave at 17", "Leave at 18")

UNIT = 1_000_000
ADMIN_CASH = 10_000 * UNIT
TRADER_CASH = 1_000 * UNIT
TRADER_SPLIT = 250 * UNIT
DEMO_SUBSIDY = 100 * UNIT
DEMO_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class SeedReport:
    """What the seed did.

    Attributes:
        admin_key: a fresh API key of the demo admin.
        councillor_key: a fresh API key of the demo council account (it holds a seat).
        trader_keys: a fresh API key per demo trader, by name.
        metric_version_id: the demo metric version (adopted).
        proposal_id: the demo proposal.
        created: whether anything was created on this start (False on a restart).
    """

    admin_key: str
    created: bool
    councillor_key: str = ""
    trader_keys: dict[str, str] = field(default_factory=dict)
    metric_version_id: str = ""
    proposal_id: int | None = None


def _account(session: Session, name: str, role: Role, cash: int = 0) -> tuple[Account, bool]:
    """The named account, created (and credited ``cash``) when absent."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is not None:
        return account, False
    account = create_account(session, name, role)
    if cash:
        funding.credit(session, account.id, cash)
    return account, True


def _seed_welfare(session: Session, admin: Account, councillor: Account) -> MetricVersion:
    """The gapminder data and metric, the demo council with the councillor seated, and the
    metric adopted by motion (only while it is a draft)."""
    version = seed_gapminder(session)
    members = seed_demo_council(session, country_populations())
    if not any(m.account_id == councillor.id for m in members):
        free = [m for m in members if m.account_id is None]
        if free:
            update_member(session, most_seats(free).id, account_id=councillor.id)
    if version.status == VersionStatus.DRAFT.value:
        now = utcnow()
        adopt_by_demo_motion(session, version.version_id, now.date(), decided_by=admin.id, now=now)
    return version


def seed_demo(session: Session) -> SeedReport:
    """Create whatever part of the demo is missing, and issue every demo account a new key."""
    admin, created = _account(session, DEMO_ADMIN, Role.ADMIN, ADMIN_CASH)
    councillor, new = _account(session, DEMO_COUNCILLOR, Role.COUNCIL)
    created = created or new
    traders = []
    for name in DEMO_TRADERS:
        trader, new = _account(session, name, Role.TRADER, TRADER_CASH)
        traders.append(trader)
        created = created or new
    version = _seed_welfare(session, admin, councillor)
    proposal = session.scalar(select(Proposal).where(Proposal.title == DEMO_TITLE))
    if proposal is None:
        now = utcnow()
        short = DEMO_SUBSIDY - funding.balances(session, admin.id).cash_micros
        if short > 0:  # an admin from an older demo, or one who spent its cash
            funding.credit(session, admin.id, short)
        proposal = create_proposal(
            session,
            admin.id,
            ProposalSpec(
                title=DEMO_TITLE,
                alternatives=DEMO_ALTERNATIVES,
                asset_kind=AssetKind.SCALAR,
                opens_at=now,
                closes_at=now + DEMO_WINDOW,
                subsidy_micros=DEMO_SUBSIDY,
                description=(
                    "Should the school leaving age rise? Each branch trades the HDI-like "
                    "welfare index W on [0, 1] of the World: LONG pays W, SHORT pays 1 - W."
                ),
            ),
        )
        for trader in traders:
            amount = min(TRADER_SPLIT, funding.balances(session, trader.id).cash_micros)
            if amount > 0:
                funding.split(session, trader.id, proposal.id, amount)
        created = True
    return SeedReport(
        admin_key=issue_api_key(session, admin),
        created=created,
        councillor_key=issue_api_key(session, councillor),
        trader_keys={t.name: issue_api_key(session, t) for t in traders},
        metric_version_id=version.version_id,
        proposal_id=proposal.id,
    )
