"""The demo that `make run` seeds into the database (idempotent across restarts).

The demo is an admin, three traders and one open proposal:

- ``admin`` (role admin) receives `ADMIN_CASH` and sponsors the proposal, paying its
  subsidy `DEMO_SUBSIDY` once;
- ``alice``, ``bob`` and ``carol`` (role trader) each receive `TRADER_CASH` and split
  `TRADER_SPLIT` of it into the proposal, so they can trade in every branch at once;
- the proposal `DEMO_TITLE`: two alternatives and the status quo, a scalar welfare asset
  on ``[0, 100]`` (metric version `DEMO_METRIC`), open from the first start for a year.

Each piece is created only when absent, looked up by name or title, so a restart changes
no balance. (Creating the proposal tops the admin's cash up to the subsidy if it is short,
and traders split what they have, up to `TRADER_SPLIT`.) Keys are stored hashed, so an
old key cannot be shown again: every start issues each demo account a fresh key (older
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

DEMO_ADMIN = "admin"
DEMO_TRADERS = ("alice", "bob", "carol")
DEMO_TITLE = "Demo: school leaving age"
DEMO_ALTERNATIVES = ("Leave at 17", "Leave at 18")
DEMO_METRIC = "demo-hdi"
"""Opaque metric version id until the welfare metric is wired in."""

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
        trader_keys: a fresh API key per demo trader, by name.
        proposal_id: the demo proposal.
        created: whether anything was created on this start (False on a restart).
    """

    admin_key: str
    created: bool
    trader_keys: dict[str, str] = field(default_factory=dict)
    proposal_id: int | None = None


def _account(session: Session, name: str, role: Role, cash: int) -> tuple[Account, bool]:
    """The named account, created (and credited ``cash``) when absent."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is not None:
        return account, False
    account = create_account(session, name, role)
    funding.credit(session, account.id, cash)
    return account, True


def seed_demo(session: Session) -> SeedReport:
    """Create whatever part of the demo is missing, and issue every demo account a new key."""
    admin, created = _account(session, DEMO_ADMIN, Role.ADMIN, ADMIN_CASH)
    traders = []
    for name in DEMO_TRADERS:
        trader, new = _account(session, name, Role.TRADER, TRADER_CASH)
        traders.append(trader)
        created = created or new
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
                metric_version_id=DEMO_METRIC,
                asset_kind=AssetKind.SCALAR,
                lo=0.0,
                hi=100.0,
                opens_at=now,
                closes_at=now + DEMO_WINDOW,
                subsidy_micros=DEMO_SUBSIDY,
                description=(
                    "Should the school leaving age rise? Trade each branch's expected "
                    "welfare on [0, 100]; LONG pays (W - 0) / 100, SHORT the rest."
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
        trader_keys={t.name: issue_api_key(session, t) for t in traders},
        proposal_id=proposal.id,
    )
