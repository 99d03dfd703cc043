"""The demo that `make run` seeds into the database (idempotent across restarts).

The demo is an admin, three traders, a council that adopted a real welfare metric and can
pass motions through the API, and one open proposal bound to that metric:

- ``admin`` (role admin) receives `ADMIN_CASH` and sponsors the proposal, paying its
  subsidy `DEMO_SUBSIDY` once;
- the welfare side (`welfare.gapminder_seed`, `welfare.council_seed`): the gapminder
  indicators and observations (142 countries and the World, 1952–2007), the HDI-like
  metric version (an index on ``[0, 1]``), and a council of one member per country with
  800 seats by Penrose's rule. It votes in continental blocs (`DEMO_COUNCIL`): each bloc's
  council account holds the seat of its largest country and every other country of the
  continent delegates to it, so ``councillor`` carries Asia's 295 seats,
  ``councillor-africa`` 221, ``councillor-americas`` 139, ``councillor-europe`` 138 and
  ``councillor-oceania`` 7. Under the default rules (quorum ½, threshold ½) no bloc passes
  a motion alone: the votes cast must carry 400 seats, as Asia with any other bloc but
  Oceania does, or Africa, the Americas and Europe together. The council adopted the
  metric from the first start's date by a motion every member carried
  (`welfare.council_seed.adopt_by_demo_motion`);
- ``alice``, ``bob`` and ``carol`` (role trader) each receive `TRADER_CASH` and split
  `TRADER_SPLIT` of it into the proposal, so they can trade in every branch at once;
- the proposal `DEMO_TITLE`: two alternatives and the status quo, a scalar welfare asset
  on the metric's bounds ``[0, 1]``, open from the first start for a year.

Each piece is created only when absent, looked up by name, title or content, so a restart
changes no balance. (Creating the proposal tops the admin's cash up to the subsidy if it is
short, and traders split what they have, up to `TRADER_SPLIT`.)

Keys: a demo account receives one API key when the seed creates it, reported once
(`SeedReport.keys`). Keys are stored hashed, so a restart cannot show an old key again and
mints none: ``futarchy admin issue-key NAME`` issues another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.identity import Account, Role, create_account, issue_api_key
from db.types import utcnow
from market import deciding, funding, settling, trading
from market.models import AssetKind, Proposal
from market.proposals import ProposalSpec, SettlesOnSpec, create_proposal, markets_of
from market.trading import Order, Side
from welfare.council_seed import (
    Bloc,
    BlocSeat,
    adopt_by_demo_motion,
    certify_by_demo_motion,
    seat_blocs,
    seed_demo_council,
)
from welfare.gapminder_data import NOMINAL_RELEASE, country_populations
from welfare.gapminder_seed import continents, seed_gapminder
from welfare.measurement_service import measure
from welfare.members import current_rules, list_members
from welfare.records import MetricVersion, VersionStatus
from welfare.tally import share_text

DEMO_ADMIN = "admin"
DEMO_COUNCILLOR = "councillor"
DEMO_COUNCIL = (
    (DEMO_COUNCILLOR, "Asia"),
    ("councillor-africa", "Africa"),
    ("councillor-americas", "Americas"),
    ("councillor-europe", "Europe"),
    ("councillor-oceania", "Oceania"),
)
"""``(council account, continent)``: the bloc each demo council account votes for."""
DEMO_TRADERS = ("alice", "bob", "carol")
DEMO_TITLE = "Demo: school leaving age"
DEMO_ALTERNATIVES = ("Leave at 17", "Leave at 18")

UNIT = 1_000_000
ADMIN_CASH = 10_000 * UNIT
TRADER_CASH = 1_000 * UNIT
TRADER_SPLIT = 250 * UNIT
DEMO_SUBSIDY = 100 * UNIT
DEMO_WINDOW = timedelta(days=365)
DEMO_METRIC_FROM = date(2002, 1, 1)
"""The demo metric is in force from here: the finished demo proposal replays 2002."""

FINISHED_TITLE = "Demo (finished, 2002): school leaving age"
FINISHED_OPENS = datetime(2002, 1, 1, tzinfo=UTC)
FINISHED_CLOSES = datetime(2002, 12, 31, tzinfo=UTC)
FINISHED_PERIOD = "2007"
FINISHED_SPLIT = 100 * UNIT
FINISHED_TRADES = (
    # (trader, branch, outcome, whole shares, day of 2002): alice expects welfare to rise
    # if pupils stay until 18, bob that it falls under the status quo, carol hedges.
    ("alice", 1, 0, 60, 40),
    ("bob", 2, 1, 40, 90),
    ("carol", 0, 0, 25, 200),
    ("alice", 1, 0, 30, 363),
    ("bob", 0, 1, 10, 363),
)
"""The finished demo's trades; branch 0 'Leave at 17', 1 'Leave at 18', 2 the status quo;
outcome 0 LONG, 1 SHORT."""


@dataclass(frozen=True)
class DemoKey:
    """The API key a demo account received when the seed created it (shown only now)."""

    name: str
    role: Role
    key: str


@dataclass(frozen=True)
class DemoSeat:
    """A demo council account, the bloc it votes for, and the seats its ballot carries."""

    account: str
    bloc: str
    member: str
    seats: int


@dataclass(frozen=True)
class SeedReport:
    """What the seed did.

    Attributes:
        created: whether anything was created on this start (False on a restart).
        keys: a key per demo account created on this start, in `demo_accounts` order; none
            on a restart.
        accounts: every demo account's name, whether created now or before.
        council: each bloc's council account, its seat and the seats its ballot carries.
        total_seats: seats in the council.
        quorum, threshold: the council's rules in force, as exact text (``"0.5"``, ``"2/3"``).
        quorum_seats: seats the ballots of a motion must carry, ``⌈quorum · total_seats⌉``.
        metric_version_id: the demo metric version (adopted).
        proposal_id: the demo proposal (open).
        finished_proposal_id: the finished demo proposal (settled), if there is one.
    """

    created: bool
    keys: tuple[DemoKey, ...] = ()
    accounts: tuple[str, ...] = ()
    council: tuple[DemoSeat, ...] = ()
    total_seats: int = 0
    quorum: str = ""
    threshold: str = ""
    quorum_seats: int = 0
    metric_version_id: str = ""
    proposal_id: int | None = None
    finished_proposal_id: int | None = None

    def key(self, name: str) -> str:
        """The key issued now to the demo account ``name`` (KeyError if none was)."""
        for issued in self.keys:
            if issued.name == name:
                return issued.key
        raise KeyError(name)


def demo_accounts() -> tuple[tuple[str, Role], ...]:
    """Every demo account and its role, in the order they are created and reported."""
    return (
        (DEMO_ADMIN, Role.ADMIN),
        *((name, Role.COUNCIL) for name, _ in DEMO_COUNCIL),
        *((name, Role.TRADER) for name in DEMO_TRADERS),
    )


def _account(session: Session, name: str, role: Role, cash: int) -> tuple[Account, bool]:
    """The named account, created (and credited ``cash``) when absent; True if created."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is not None:
        return account, False
    account = create_account(session, name, role)
    if cash:
        funding.credit(session, account.id, cash)
    return account, True


def _seed_welfare(
    session: Session, accounts: dict[str, Account]
) -> tuple[MetricVersion, list[BlocSeat]]:
    """The gapminder data and metric, the demo council seated in continental blocs, and the
    metric adopted by motion (only while it is a draft)."""
    version = seed_gapminder(session)
    seed_demo_council(session, country_populations())
    by_continent = continents()
    blocs = [
        Bloc(continent, accounts[name].id, by_continent[continent])
        for name, continent in DEMO_COUNCIL
    ]
    now = utcnow()
    seats = seat_blocs(session, blocs, now=now)
    if version.status == VersionStatus.DRAFT.value:
        admin = accounts[DEMO_ADMIN].id
        adopt_by_demo_motion(
            session, version.version_id, DEMO_METRIC_FROM, decided_by=admin, now=now
        )
    return version, seats


def _seed_finished(session: Session, admin_id: int, trader_ids: list[int]) -> int | None:
    """A whole life replayed from the gapminder data: a proposal traded in 2002, decided at
    its close by its markets' averages, settled on the World's 2007 welfare measured with
    the data released by 2009 and certified by the demo council. Returns its id when it was
    created now; None when it exists, or when the metric was adopted after 2002 (a database
    seeded by an older demo): the replay needs the metric in force on its opening day."""
    if session.scalar(select(Proposal.id).where(Proposal.title == FINISHED_TITLE)) is not None:
        return None
    version = session.scalar(
        select(MetricVersion).where(MetricVersion.status == VersionStatus.ADOPTED.value)
    )
    if version is None or version.effective_from is None:
        return None
    if version.effective_from > FINISHED_OPENS.date():
        return None
    short = DEMO_SUBSIDY - funding.balances(session, admin_id).cash_micros
    if short > 0:
        funding.credit(session, admin_id, short)
    proposal = create_proposal(
        session,
        admin_id,
        ProposalSpec(
            title=FINISHED_TITLE,
            alternatives=DEMO_ALTERNATIVES,
            asset_kind=AssetKind.SCALAR,
            opens_at=FINISHED_OPENS,
            closes_at=FINISHED_CLOSES,
            subsidy_micros=DEMO_SUBSIDY,
            settles_on=SettlesOnSpec(period=FINISHED_PERIOD, cutoff=NOMINAL_RELEASE),
            description=(
                "A finished demo, replayed: traded during 2002, decided at its close, "
                "settled on the World's 2007 HDI-like welfare (data released by 2009)."
            ),
        ),
        now=FINISHED_OPENS,
    )
    markets = [m.id for m in markets_of(session, proposal.id)]
    for trader in trader_ids:
        amount = min(FINISHED_SPLIT, funding.balances(session, trader).cash_micros)
        if amount > 0:
            funding.split(session, trader, proposal.id, amount)
    ids = dict(zip(DEMO_TRADERS, trader_ids, strict=True))
    for name, branch, outcome, shares, day in FINISHED_TRADES:
        trading.execute(
            session,
            ids[name],
            markets[branch],
            Order(outcome, Side.BUY, shares_micros=shares * UNIT),
            now=FINISHED_OPENS + timedelta(days=day, hours=12),
        )
    deciding.decide(session, proposal.id, admin_id, now=FINISHED_CLOSES + timedelta(days=1))
    measurement = measure(
        session, version.version_id, FINISHED_PERIOD, NOMINAL_RELEASE, computed_by=admin_id
    )
    now = utcnow()
    certify_by_demo_motion(session, measurement.id, decided_by=admin_id, now=now)
    settling.settle(session, proposal.id, now=now)
    return proposal.id


def seed_demo(session: Session) -> SeedReport:
    """Create whatever part of the demo is missing; issue a key to each account created."""
    cash = {Role.ADMIN: ADMIN_CASH, Role.TRADER: TRADER_CASH, Role.COUNCIL: 0}
    keys = []
    accounts = {}
    for name, role in demo_accounts():
        account, new = _account(session, name, role, cash[role])
        accounts[name] = account
        if new:
            keys.append(DemoKey(name, role, issue_api_key(session, account)))
    created = bool(keys)
    admin = accounts[DEMO_ADMIN]
    traders = [accounts[name] for name in DEMO_TRADERS]
    version, council = _seed_welfare(session, accounts)
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
    finished = _seed_finished(session, admin.id, [a.id for a in traders])
    created = created or finished is not None
    finished_id = session.scalar(select(Proposal.id).where(Proposal.title == FINISHED_TITLE))
    rules = current_rules(session)
    names = {a.id: name for name, a in accounts.items()}
    total_seats = sum(m.seats for m in list_members(session))
    return SeedReport(
        created=created,
        keys=tuple(keys),
        accounts=tuple(name for name, _ in demo_accounts()),
        council=tuple(
            DemoSeat(names[seat.account_id], seat.bloc, seat.chair.name, seat.seats)
            for seat in council
        ),
        total_seats=total_seats,
        quorum=share_text(rules.quorum),
        quorum_seats=math.ceil(rules.quorum * total_seats),
        threshold=share_text(rules.threshold),
        metric_version_id=version.version_id,
        proposal_id=proposal.id,
        finished_proposal_id=finished_id,
    )
