"""Replaying the market streams: every book, balance, decision and settlement recomputed
from the audit log alone (pure: no database, no framework).

`MarketReplay` is fed, by the verifier (`market.audit_verify`), every governance event
(`governance_event`: it uses ``cash.credit``, ``cash.debit`` and ``proposal.created``) and
then every market stream in market id order, each event in turn (`market_event`). It
recomputes, with the services' own pure code, and compares with what each event says the
service stored (docs/audit.md, "Market streams"):

- each market's opening from its proposal's terms: the rule document against its hash, the
  liquidity ``b`` (`market.branch.liquidity_micros`), the opening averaging state;
- each trade: the quote for the order from the current book (`market.book.quote_buy`,
  ``quote_spend`` for an order given as a spend, ``quote_sell``): shares, cash, ``q`` and
  prices after; the maker's cash and the trade count; the trader's conditional cash
  (never below zero, and under ipw exploration never below the margin) and position
  (never below zero); the averaging state (`market.branch.after_trade`);
- each split and merge: the branch cash, stake and collateral after, identical in every
  branch stream of the proposal;
- each crank and the decision: the averaging state (`market.branch.advance_market`), each
  branch's average, and the decision from the averages with the revealed seed checked
  against its commitment (`market.decision.decide`, the deciding service's own rule);
- each settlement: the ending the state calls for (a passed ``void_proposal`` motion, the
  decision, the certified measurement of the version, entity, period and cut-off the terms
  name, from `welfare.audit_replay.GovernanceFacts`) and
  every payout (`market.settlement.settle` / ``unwind``) from the replayed stakes, branch
  cash and positions;
- the ledger: every branch fully backed after every event (``Σ branch cash + maker cash =
  collateral``), every account's cash (credits − debits − subsidies − splits + merges +
  payouts) never below zero at the end, and ``Σ cash + Σ collateral = Σ credits − Σ
  debits``.

The first disagreement raises `db.audit_chain.AuditMismatch` naming the stream and the
sequence number of the event, with what the replay expected and what the event says.
`finish` returns the replayed state (`ReplayedState`), which `market.audit_trail.
compare_with_database` holds against the stored one.

Memory holds the replayed state (balances, positions, books) and, per proposal, one digest
per split or merge (to hold every branch stream to the same sequence); never the trades.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from db import canonical
from db.audit_chain import (
    GOVERNANCE,
    AuditMismatch,
    Disagreement,
    Event,
    iso_instant,
    market_of_stream,
    market_stream,
    parse_instant,
)
from market.assets import Asset
from market.book import Book, Quote, format_micros, quote_buy, quote_sell, quote_spend
from market.branch import (
    advance_market,
    after_trade,
    asset_of,
    liquidity_micros,
    live_welfare,
    opening_state,
    twap_list,
)
from market.decision import DecisionRule, TwapState, average, commitment, decide, margin_multiple
from market.errors import MarketError
from market.settlement import SettlementPlan, TraderState, settle, unwind
from welfare.audit_replay import GovernanceFacts

OPEN, CLOSED = "open", "closed"
SETTLED, VOID, UNWOUND = "settled", "void", "unwound"
ENDED = frozenset({SETTLED, VOID, UNWOUND})
"""Market statuses after settlement."""


# --- the result ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSnapshot:
    """One market as the replay leaves it.

    Attributes:
        proposal_id, branch_index: which branch.
        q_micros: shares outstanding per outcome, micro-shares.
        maker_cash_micros: the maker's conditional cash, micro-units.
        trade_count: trades executed.
        status: ``open``, ``closed``, ``settled``, ``void`` or ``unwound``.
        twap: the averaging state's five numbers (`market.decision.TwapState` order), or
            None.
    """

    proposal_id: int
    branch_index: int
    q_micros: tuple[int, ...]
    maker_cash_micros: int
    trade_count: int
    status: str
    twap: tuple[float, ...] | None


@dataclass(frozen=True)
class ReplayedState:
    """Every balance and market the log derives (non-zero amounts only).

    Attributes:
        cash: account id → unconditional cash, micro-units.
        branch_cash: ``(account, market)`` → conditional cash, micro-units.
        positions: ``(account, market, outcome)`` → micro-shares.
        markets: market id → `MarketSnapshot`.
        decisions_checked, settlements_checked, trades_checked: how many were recomputed
            (a decision and a settlement once per proposal).
        stakes: ``(account, proposal)`` → ``Σ splits − Σ merges``, micro-units.
        collateral: proposal id → collateral, micro-units.
        events: market events replayed.
    """

    cash: Mapping[int, int]
    branch_cash: Mapping[tuple[int, int], int]
    positions: Mapping[tuple[int, int, int], int]
    markets: Mapping[int, MarketSnapshot]
    decisions_checked: int
    settlements_checked: int
    trades_checked: int
    stakes: Mapping[tuple[int, int], int] = field(default_factory=dict)
    collateral: Mapping[int, int] = field(default_factory=dict)
    events: int = 0


# --- reading an event's data ---------------------------------------------------------------


def _mismatch(event: Event, message: str) -> AuditMismatch:
    return AuditMismatch(Disagreement(event.stream, event.seq, message))


def _same(a: Any, b: Any) -> bool:
    """Equal as canonical JSON would write them: the same JSON type and value, so ``1`` is
    not ``1.0``, ``true`` is not ``1`` and ``-0.0`` is not ``0.0`` (a list and a tuple are
    both arrays)."""
    ta, tb = type(a), type(b)
    if ta in _ARRAYS and tb in _ARRAYS:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if ta is not tb:
        return False
    if ta is float:
        return bool(a == b and math.copysign(1.0, a) == math.copysign(1.0, b))
    if ta is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


_ARRAYS = (list, tuple)


def _show(value: Any) -> str:
    try:
        return canonical.encode(value)
    except canonical.NotCanonical:
        return repr(value)


class _Data:
    """Typed access to an event's ``data``; a missing or mistyped field is a disagreement."""

    __slots__ = ("data", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.data = event.data

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise _mismatch(self.event, f"the {self.event.kind} event has no field {key!r}")
        return self.data[key]

    def _wrong(self, key: str, what: str) -> AuditMismatch:
        return _mismatch(
            self.event,
            f"field {key!r} of the {self.event.kind} event must be {what}, found "
            f"{_show(self.data.get(key))}",
        )

    def integer(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer")
        return value

    def opt_integer(self, key: str) -> int | None:
        return None if self._get(key) is None else self.integer(key)

    def number(self, key: str) -> float:
        value = self._get(key)
        if not isinstance(value, float):
            raise self._wrong(key, "a number with a decimal point")
        return value

    def opt_number(self, key: str) -> float | None:
        return None if self._get(key) is None else self.number(key)

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def opt_text(self, key: str) -> str | None:
        return None if self._get(key) is None else self.text(key)

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def array(self, key: str) -> list[Any]:
        value = self._get(key)
        if not isinstance(value, list):
            raise self._wrong(key, "an array")
        return value

    def ints(self, key: str) -> list[int]:
        values = self.array(key)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise self._wrong(key, "an array of integers")
        return values

    def texts(self, key: str) -> list[str]:
        values = self.array(key)
        if any(not isinstance(v, str) for v in values):
            raise self._wrong(key, "an array of strings")
        return values

    def obj(self, key: str) -> Mapping[str, Any]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._wrong(key, "an object")
        return value

    def instant(self, key: str) -> datetime:
        text = self.text(key)
        try:
            return parse_instant(text)
        except ValueError:
            raise self._wrong(key, "an instant (YYYY-MM-DDTHH:MM:SS.ffffffZ)") from None


def _instant(event: Event) -> datetime:
    """The event's instant (``event.instant``, parsed in C: the chain check has already
    held ``at`` to its one format)."""
    return datetime.fromisoformat(event.at)


def _expect(event: Event, what: str, recorded: Any, expected: Any) -> None:
    """Raise unless the event's value equals the replayed one."""
    if not _same(recorded, expected):
        raise _mismatch(
            event, f"{what} is recorded as {_show(recorded)}, the replay gives {_show(expected)}"
        )


# --- the replayed state --------------------------------------------------------------------


@dataclass(eq=False)
class _Proposal:
    """A proposal as its ``proposal.created`` event defines it, and what its streams share."""

    id: int
    sponsor: int
    subsidy: int
    asset: Asset
    asset_data: Mapping[str, Any]
    outcomes: list[str]
    branches: list[str]
    markets: list[int]
    b_micros: int
    opens_at: datetime
    closes_at: datetime
    rule: DecisionRule
    decides_at: datetime
    seed_commitment: str
    rule_hash: str
    margin: float | None
    collateral: int
    metric_version_id: str | None
    settles_on: Mapping[str, Any] | None
    stakes: dict[int, int] = field(default_factory=dict)
    moves: list[str] = field(default_factory=list)
    """Digest of each split or merge, in the order of the first market's stream."""
    decision: dict[str, Any] | None = None
    decision_digest: str | None = None
    settlement_digest: str | None = None
    settlement_kind: str | None = None
    settlement_executed: int | None = None
    settlement_checked: bool = False
    cash_holders: set[int] = field(default_factory=set)

    @property
    def first_market(self) -> int:
        return min(self.markets)

    @property
    def status_quo(self) -> int:
        return len(self.branches) - 1


@dataclass(eq=False)
class _Market:
    """One market as its stream has replayed so far."""

    id: int
    proposal: _Proposal
    branch_index: int
    book: Book
    maker_cash: int
    twap: TwapState | None
    collateral: int
    status: str = OPEN
    trade_count: int = 0
    branch_total: int = 0
    """``Σ`` of the traders' conditional cash in this branch."""
    moves: int = 0
    decided: bool = False
    last_trade: int = 0
    accounts: set[int] = field(default_factory=set)


class MarketReplay:
    """Replays the market streams (see the module docstring).

    Args:
        governance: what the governance replay established (certified measurements,
            passed motions); read when a settlement names them.
    """

    def __init__(self, governance: GovernanceFacts) -> None:
        self._facts = governance
        self._cash: dict[int, int] = {}
        self._credits = 0
        self._debits = 0
        self._proposals: dict[int, _Proposal] = {}
        self._market_ids: set[int] = set()
        self._markets: dict[int, _Market] = {}
        self._branch_cash: dict[tuple[int, int], int] = {}
        self._spent: dict[tuple[int, int], int] = {}
        self._positions: dict[tuple[int, int, int], int] = {}
        self._current = 0
        self.trades_checked = 0
        self.decisions_checked = 0
        self.settlements_checked = 0
        self.events = 0

    # --- governance ---------------------------------------------------------------------

    def governance_event(self, event: Event) -> None:
        """Take one governance event, in stream order; only ``cash.credit``, ``cash.debit``
        and ``proposal.created`` concern the markets."""
        if event.kind in ("cash.credit", "cash.debit"):
            d = _Data(event)
            account, amount = d.integer("account"), d.integer("amount_micros")
            if amount <= 0:
                raise _mismatch(event, f"a {event.kind} must move a positive amount, not {amount}")
            sign = 1 if event.kind == "cash.credit" else -1
            self._cash[account] = self._cash.get(account, 0) + sign * amount
            if sign > 0:
                self._credits += amount
            else:
                self._debits += amount
        elif event.kind == "proposal.created":
            self._created(event)

    def _created(self, event: Event) -> None:
        d = _Data(event)
        pid = d.integer("proposal_id")
        if pid in self._proposals:
            raise _mismatch(event, f"proposal {pid} is created a second time")
        subsidy, sponsor = d.integer("subsidy_micros"), d.integer("sponsor")
        if subsidy <= 0:
            raise _mismatch(event, f"the subsidy must be positive, found {subsidy}")
        asset_data = d.obj("asset")
        asset = self._asset(event, asset_data)
        outcomes, branches, markets = d.texts("outcomes"), d.texts("branches"), d.ints("markets")
        _expect(event, "the outcomes", outcomes, list(asset.outcomes))
        if len(branches) < 2 or len(markets) != len(branches):
            raise _mismatch(
                event,
                f"a proposal has at least two branches and one market each; found "
                f"{len(branches)} branches and {len(markets)} markets",
            )
        taken = [m for m in markets if m in self._market_ids or m <= 0]
        if taken or len(set(markets)) != len(markets):
            raise _mismatch(event, f"market ids {_show(markets)} are not new and distinct")
        terms, rule_hash = d.obj("terms"), d.text("rule_hash")
        _expect(event, "the rule hash (SHA-256 of the terms)", rule_hash, canonical.digest(terms))
        try:
            rule = DecisionRule.from_dict(terms["decision"])
            decides_at = datetime.fromisoformat(str(terms["decides_at"]))
            seed_commitment = str(terms["seed_commitment"])
            settles_on = terms["settles_on"]
        except (KeyError, TypeError, ValueError) as exc:
            raise _mismatch(event, f"the terms do not state a decision rule: {exc}") from None
        if decides_at.tzinfo is None:
            raise _mismatch(event, "the terms' decides_at has no time zone")
        if settles_on is not None and not isinstance(settles_on, dict):
            raise _mismatch(event, "the terms' settles_on must be an object or null")
        try:
            b = liquidity_micros(len(outcomes), len(branches), subsidy, rule)
        except MarketError as exc:
            raise _mismatch(event, f"the subsidy buys no liquidity: {exc}") from None
        _expect(event, "the liquidity b (micro-units)", d.integer("b_micros"), b)
        proposal = _Proposal(
            id=pid,
            sponsor=sponsor,
            subsidy=subsidy,
            asset=asset,
            asset_data=asset_data,
            outcomes=outcomes,
            branches=branches,
            markets=markets,
            b_micros=b,
            opens_at=d.instant("opens_at"),
            closes_at=d.instant("closes_at"),
            rule=rule,
            decides_at=decides_at,
            seed_commitment=seed_commitment,
            rule_hash=rule_hash,
            margin=margin_multiple(rule, len(branches)),
            collateral=subsidy,
            metric_version_id=d.opt_text("metric_version_id"),
            settles_on=settles_on,
        )
        self._proposals[pid] = proposal
        self._market_ids.update(markets)
        self._cash[sponsor] = self._cash.get(sponsor, 0) - subsidy

    @staticmethod
    def _asset(event: Event, data: Mapping[str, Any]) -> Asset:
        kind, edges = data.get("kind"), data.get("bin_edges")
        if kind not in ("scalar", "binned") or (kind == "binned") != (edges is not None):
            raise _mismatch(event, f"the asset {_show(data)} is neither scalar nor binned")
        try:
            return asset_of(str(kind), data["lo"], data["hi"], edges)
        except (KeyError, TypeError, MarketError) as exc:
            raise _mismatch(event, f"the asset {_show(data)} is not valid: {exc}") from None

    # --- the market streams -------------------------------------------------------------

    def market_event(self, event: Event) -> None:
        """Take one market event; streams come in market id order, each in sequence."""
        market_id = market_of_stream(event.stream)
        if market_id is None:
            raise _mismatch(event, f"{event.stream!r} is not a market's stream")
        if market_id < self._current:
            raise ValueError(
                f"market streams must be replayed in market id order: {event.stream} after "
                f"market-{self._current}"
            )
        self._current = market_id
        self.events += 1
        if event.kind == "market.opened":
            self._opened(event, market_id)
            return
        market = self._markets.get(market_id)
        if market is None:
            raise _mismatch(
                event, f"the stream of market {market_id} does not begin with market.opened"
            )
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            raise _mismatch(event, f"{event.kind!r} is not an event of a market stream")
        handler(self, event, market)
        backed = market.branch_total + market.maker_cash
        if backed != market.collateral:
            raise _mismatch(
                event,
                f"after this event market {market.id}'s conditional cash ({format_micros(backed)}"
                f": traders {format_micros(market.branch_total)}, maker "
                f"{format_micros(market.maker_cash)}) is not its proposal's collateral "
                f"({format_micros(market.collateral)})",
            )

    def _opened(self, event: Event, market_id: int) -> None:
        d = _Data(event)
        if event.seq != 1 or market_id in self._markets:
            raise _mismatch(event, f"market {market_id} is opened again")
        pid = d.integer("proposal_id")
        p = self._proposals.get(pid)
        if p is None:
            raise _mismatch(event, f"it opens a market of proposal {pid}, which was never created")
        j = d.integer("branch_index")
        if not 0 <= j < len(p.markets) or p.markets[j] != market_id:
            raise _mismatch(
                event,
                f"proposal {pid} created market {market_id} as branch "
                f"{p.markets.index(market_id) if market_id in p.markets else 'none'}, "
                f"not branch {j}",
            )
        _expect(event, "the branch name", d.text("branch"), p.branches[j])
        _expect(event, "whether it is the status quo", d.flag("status_quo"), j == p.status_quo)
        _expect(event, "the asset", d.obj("asset"), p.asset_data)
        _expect(event, "the outcomes", d.texts("outcomes"), p.outcomes)
        _expect(event, "the liquidity b", d.integer("b_micros"), p.b_micros)
        _expect(event, "the subsidy", d.integer("subsidy_micros"), p.subsidy)
        _expect(event, "q", d.ints("q_micros"), [0] * len(p.outcomes))
        _expect(event, "the maker's cash", d.integer("maker_cash_micros"), p.subsidy)
        _expect(event, "the rule hash", d.text("rule_hash"), p.rule_hash)
        _expect(event, "opens_at", d.text("opens_at"), iso_instant(p.opens_at))
        _expect(event, "closes_at", d.text("closes_at"), iso_instant(p.closes_at))
        _expect(event, "decides_at", d.text("decides_at"), iso_instant(p.decides_at))
        twap = opening_state(p.rule, p.asset, p.opens_at.timestamp(), p.decides_at.timestamp())
        _expect(event, "the opening averaging state", d.array("twap"), twap_list(twap))
        self._markets[market_id] = _Market(
            id=market_id,
            proposal=p,
            branch_index=j,
            book=Book((0,) * len(p.outcomes), p.b_micros),
            maker_cash=p.subsidy,
            twap=twap,
            collateral=p.subsidy,
        )

    def _of_proposal(self, event: Event, d: _Data, market: _Market) -> _Proposal:
        """The market's proposal, after checking the event names it and all its markets."""
        p = market.proposal
        _expect(event, "the proposal", d.integer("proposal_id"), p.id)
        _expect(event, "the proposal's markets", d.ints("markets"), sorted(p.markets))
        return p

    def _trade(self, event: Event, market: _Market) -> None:
        d = _Data(event)
        p = market.proposal
        at = _instant(event)
        if market.status != OPEN:
            raise _mismatch(event, f"a trade in market {market.id}, which is {market.status}")
        if not p.opens_at <= at < p.closes_at:
            raise _mismatch(
                event,
                f"a trade at {event.at}, outside market {market.id}'s trading window "
                f"[{iso_instant(p.opens_at)}, {iso_instant(p.closes_at)})",
            )
        trade_id = d.integer("trade_id")
        if trade_id <= market.last_trade:
            raise _mismatch(event, f"trade {trade_id} comes after trade {market.last_trade}")
        account, k, side = d.integer("account"), d.integer("outcome"), d.text("side")
        spend, shares, cash = (
            d.opt_integer("spend_micros"),
            d.integer("shares_micros"),
            d.integer("cash_micros"),
        )
        quote = self._quote(event, market.book, k, side, spend, shares)
        what = f"trade {trade_id}'s"
        _expect(
            event, f"{what} shares (micro-shares of outcome {k})", shares, quote.delta_micros[k]
        )
        if cash != quote.cash_micros:
            verb = "buying" if side == "buy" else "selling"
            raise _mismatch(
                event,
                f"trade {trade_id} moved {format_micros(cash)} of cash, but the book quotes "
                f"{format_micros(quote.cash_micros)} for {verb} {format_micros(abs(shares))} "
                f"shares of outcome {k}",
            )
        _expect(event, f"{what} q after", d.ints("q_micros"), list(quote.q_after_micros))
        _expect(event, f"{what} prices after", d.array("prices"), list(quote.prices_after))
        key = (account, market.id)
        branch_cash = self._branch_cash.get(key, 0) - cash
        spent = self._spent.get(key, 0) + cash
        if branch_cash < 0:
            raise _mismatch(
                event,
                f"trade {trade_id} costs {format_micros(cash)} but account {account} holds only "
                f"{format_micros(branch_cash + cash)} of conditional cash in market {market.id}",
            )
        if side == "buy" and p.margin is not None and not branch_cash >= p.margin * spent:
            raise _mismatch(
                event,
                f"trade {trade_id} leaves account {account} {format_micros(branch_cash)} in "
                f"market {market.id}, below the ipw margin of {p.margin:g} × its net spend "
                f"{format_micros(spent)}",
            )
        position_key = (account, market.id, k)
        position = self._positions.get(position_key, 0) + quote.delta_micros[k]
        if position < 0:
            raise _mismatch(
                event,
                f"trade {trade_id} sells {format_micros(-shares)} shares of outcome {k} but "
                f"account {account} holds {format_micros(position - shares)}",
            )
        recorded_cash = d.integer("branch_cash_micros")
        _expect(event, f"{what} conditional cash after", recorded_cash, branch_cash)
        _expect(event, f"{what} position after", d.integer("position_micros"), position)
        maker_cash = market.maker_cash + cash
        _expect(event, f"{what} maker cash after", d.integer("maker_cash_micros"), maker_cash)
        _expect(event, f"{what} trade count", d.integer("trade_count"), market.trade_count + 1)
        twap = after_trade(
            p.rule,
            p.decides_at.timestamp(),
            p.asset,
            market.twap,
            at.timestamp(),
            quote.prices_before,
            quote.prices_after,
        )
        _expect(event, f"{what} averaging state after", d.array("twap"), twap_list(twap))
        market.book = Book(tuple(quote.q_after_micros), market.book.b_micros)
        market.maker_cash = maker_cash
        market.trade_count += 1
        market.branch_total -= cash
        market.twap = twap
        market.last_trade = trade_id
        market.accounts.add(account)
        self._branch_cash[key] = branch_cash
        self._spent[key] = spent
        self._positions[position_key] = position
        self.trades_checked += 1

    @staticmethod
    def _quote(
        event: Event, book: Book, k: int, side: str, spend: int | None, shares: int
    ) -> Quote:
        """The quote the service priced the order with (`market.trading`)."""
        try:
            if side == "buy" and spend is not None:
                return quote_spend(book, k, spend)
            if side == "buy":
                return quote_buy(book, k, shares)
            if side == "sell" and spend is None:
                return quote_sell(book, k, -shares)
        except MarketError as exc:
            raise _mismatch(event, f"the book refuses the order: {exc}") from None
        raise _mismatch(
            event, f"side {side!r} with spend {_show(spend)} is not an order the service takes"
        )

    def _move(self, event: Event, market: _Market) -> None:
        """A split (``sign = 1``) or merge (``−1``) of the proposal, in one branch's stream."""
        d = _Data(event)
        p = self._of_proposal(event, d, market)
        split = event.kind == "split"
        account, amount = d.integer("account"), d.integer("amount_micros")
        if amount <= 0:
            raise _mismatch(event, f"a {event.kind} moves a positive amount, not {amount}")
        if split and market.status != OPEN:
            raise _mismatch(event, f"a split into proposal {p.id} after market {market.id} closed")
        if market.status in ENDED:
            raise _mismatch(event, f"a merge out of proposal {p.id} after it ended")
        digest = canonical.digest(dict(event.data))
        first = market.id == p.first_market
        if not first and (market.moves >= len(p.moves) or p.moves[market.moves] != digest):
            raise _mismatch(
                event,
                f"this {event.kind} is not the one at the same place in "
                f"{market_stream(p.first_market)}: every branch carries the same splits and "
                "merges in the same order",
            )
        key = (account, market.id)
        have = self._branch_cash.get(key, 0)
        if not split and have < amount:
            raise _mismatch(
                event,
                f"account {account} merges {format_micros(amount)} but holds only "
                f"{format_micros(have)} in market {market.id}",
            )
        if (
            not split
            and p.margin is not None
            and have - amount < p.margin * self._spent.get(key, 0)
        ):
            raise _mismatch(
                event,
                f"the merge leaves account {account} less than the ipw margin in market "
                f"{market.id}",
            )
        sign = 1 if split else -1
        after = have + sign * amount
        markets = sorted(p.markets)
        cash_after = d.ints("branch_cash_micros")
        if len(cash_after) != len(markets):
            raise _mismatch(event, "branch_cash_micros must hold one amount per market")
        index = markets.index(market.id)
        what = f"account {account}'s conditional cash in market {market.id} after the {event.kind}"
        _expect(event, what, cash_after[index], after)
        market.collateral += sign * amount
        _expect(event, "the collateral after", d.integer("collateral_micros"), market.collateral)
        if first:
            p.moves.append(digest)
            stake = p.stakes.get(account, 0) + sign * amount
            _expect(event, f"account {account}'s stake after", d.integer("stake_micros"), stake)
            p.stakes[account] = stake
            p.collateral += sign * amount
            self._cash[account] = self._cash.get(account, 0) - sign * amount
        market.moves += 1
        market.branch_total += sign * amount
        market.accounts.add(account)
        self._branch_cash[key] = after

    def _closed(self, event: Event, market: _Market) -> None:
        self._of_proposal(event, _Data(event), market)
        if market.status != OPEN:
            raise _mismatch(event, f"market {market.id} is closed while {market.status}")
        market.status = CLOSED

    def _live(self, market: _Market) -> float:
        p = market.proposal
        return live_welfare(p.asset, market.book.q_micros, market.book.b_micros)

    def _crank(self, event: Event, market: _Market) -> None:
        d = _Data(event)
        p = market.proposal
        _expect(event, "the proposal", d.integer("proposal_id"), p.id)
        if market.decided or market.status not in (OPEN, CLOSED):
            raise _mismatch(event, f"a crank of market {market.id} after its decision")
        live = self._live(market)
        _expect(event, "the live welfare", d.number("live"), live)
        at = _instant(event).timestamp()
        state = advance_market(p.rule, p.decides_at.timestamp(), market.twap, at, live, live)
        _expect(event, "the averaging state after the crank", d.array("twap"), twap_list(state))
        market.twap = state

    def _decision(self, event: Event, market: _Market) -> None:
        d = _Data(event)
        p = self._of_proposal(event, d, market)
        if market.decided or market.status not in (OPEN, CLOSED):
            raise _mismatch(event, f"proposal {p.id} is decided again")
        if _instant(event) < p.decides_at:
            raise _mismatch(
                event,
                f"proposal {p.id} is decided at {event.at}, before its decision time "
                f"{iso_instant(p.decides_at)}",
            )
        t = p.decides_at.timestamp()
        live = self._live(market)
        state = advance_market(p.rule, t, market.twap, t, live, live)
        decision = d.obj("decision")
        averaged = decision.get("averaged")
        if not isinstance(averaged, list) or len(averaged) != len(p.markets):
            raise _mismatch(event, "the decision must hold one average per branch")
        j = market.branch_index
        _expect(event, f"branch {j}'s average", averaged[j], average(state, p.rule))
        states = d.array("twap")
        if len(states) != len(p.markets):
            raise _mismatch(event, "the decision must hold one averaging state per market")
        index = sorted(p.markets).index(market.id)
        _expect(event, f"market {market.id}'s averaging state", states[index], twap_list(state))
        market.twap = state
        market.status = CLOSED
        market.decided = True
        digest = canonical.digest(dict(event.data))
        if p.decision_digest is None:
            self._check_decision(event, d, p, decision)
            p.decision_digest = digest
        elif digest != p.decision_digest:
            raise _mismatch(
                event, f"this decision differs from proposal {p.id}'s in its first market"
            )

    def _check_decision(
        self, event: Event, d: _Data, p: _Proposal, recorded: Mapping[str, Any]
    ) -> None:
        """The decision from the averages and the revealed seed, as the service decides."""
        _expect(event, "the rule hash", d.text("rule_hash"), p.rule_hash)
        seed_hex = d.text("seed_hex")
        try:
            seed = bytes.fromhex(seed_hex)
            committed = commitment(seed)
        except (ValueError, MarketError):
            raise _mismatch(event, f"the revealed seed {seed_hex!r} is not a seed") from None
        if committed != p.seed_commitment:
            raise _mismatch(
                event,
                f"the revealed seed hashes to {committed}, not to the commitment "
                f"{p.seed_commitment} published when proposal {p.id} was created",
            )
        try:
            expected = decide(p.rule, recorded["averaged"], p.status_quo, seed, p.id).to_dict()
        except MarketError as exc:
            raise _mismatch(event, f"the decision cannot be recomputed: {exc}") from None
        for key, value in expected.items():
            _expect(event, f"the decision's {key}", recorded.get(key), value)
        _expect(event, "the decision's fields", sorted(recorded), sorted(expected))
        p.decision = expected
        self.decisions_checked += 1

    def _settlement(self, event: Event, market: _Market) -> None:
        d = _Data(event)
        p = self._of_proposal(event, d, market)
        if market.status in ENDED:
            raise _mismatch(event, f"market {market.id} is settled again")
        _expect(event, "the collateral", d.integer("collateral_micros"), market.collateral)
        index = sorted(p.markets).index(market.id)
        makers = d.ints("maker_cash_micros")
        if len(makers) != len(p.markets):
            raise _mismatch(event, "maker_cash_micros must hold one amount per market")
        _expect(event, f"market {market.id}'s maker cash", makers[index], market.maker_cash)
        kind = d.text("kind")
        digest = canonical.digest(dict(event.data))
        if p.settlement_digest is None:
            self._check_ending(event, d, p, market, kind)
            p.settlement_digest = digest
            p.settlement_kind = kind
            p.settlement_executed = d.opt_integer("executed_index")
        elif digest != p.settlement_digest:
            raise _mismatch(
                event, f"this settlement differs from proposal {p.id}'s in its first market"
            )
        for account in market.accounts:
            if self._branch_cash.get((account, market.id), 0) != 0:
                p.cash_holders.add(account)
        executed = p.settlement_executed
        if kind == UNWOUND and not p.settlement_checked:
            self._check_plan(event, d, p, None)
        elif kind == SETTLED and executed is not None and market.branch_index == executed:
            self._check_plan(event, d, p, market)
        for account in market.accounts:
            self._branch_cash.pop((account, market.id), None)
            for k in range(len(p.outcomes)):
                self._positions.pop((account, market.id, k), None)
        market.branch_total = 0
        market.maker_cash = 0
        market.collateral = 0
        if kind == UNWOUND:
            market.status = UNWOUND
        else:
            market.status = SETTLED if market.branch_index == executed else VOID

    def _check_ending(
        self, event: Event, d: _Data, p: _Proposal, market: _Market, kind: str
    ) -> None:
        """The ending the recorded state calls for (`market.settling`)."""
        void = d.opt_integer("void_motion_id")
        measurement_id, value = d.opt_integer("measurement_id"), d.opt_number("welfare_value")
        executed, probability = d.opt_integer("executed_index"), d.opt_number("probability")
        if kind not in (SETTLED, UNWOUND):
            raise _mismatch(event, f"a settlement is settled or unwound, not {kind!r}")
        if void is not None:
            motion = self._facts.passed_motions.get(void)
            if motion is None:
                raise _mismatch(event, f"it names motion {void}, which did not pass")
            if motion.kind != "void_proposal" or motion.payload.get("proposal_id") != p.id:
                raise _mismatch(
                    event,
                    f"motion {void} is a {motion.kind} motion with payload "
                    f"{_show(dict(motion.payload))}, not one voiding proposal {p.id}",
                )
            expected: dict[str, Any] = {"kind": UNWOUND, "measurement_id": None}
            expected |= {"executed_index": None, "probability": None}
        else:
            if p.decision is None or not market.decided:
                raise _mismatch(event, f"proposal {p.id} ends without a decision or a void motion")
            if not p.decision["settles"]:
                expected = {"kind": UNWOUND, "measurement_id": None}
                expected |= {"executed_index": None, "probability": None}
            else:
                chosen = int(p.decision["executed"])
                ipw = p.rule.exploration_mode == "ipw"
                expected = {
                    "kind": SETTLED,
                    "executed_index": chosen,
                    "probability": p.decision["distribution"][chosen] if ipw else None,
                }
                self._check_measurement(event, p, measurement_id, value)
        recorded = {
            "kind": kind,
            "measurement_id": measurement_id,
            "executed_index": executed,
            "probability": probability,
        }
        for key, want in expected.items():
            _expect(event, f"the settlement's {key}", recorded[key], want)
        if kind == UNWOUND and value is not None:
            raise _mismatch(event, "an unwind has no welfare value")

    def _check_measurement(
        self, event: Event, p: _Proposal, measurement_id: int | None, value: float | None
    ) -> None:
        """The measurement is the certified one the proposal's terms settle on."""
        facts = self._facts.certified
        certified = None if measurement_id is None else facts.get(measurement_id)
        if certified is None:
            raise _mismatch(
                event, f"it settles on measurement {measurement_id}, which was not certified"
            )
        _expect(event, f"measurement {measurement_id}'s value", value, certified.value)
        terms = p.settles_on
        if terms is None:
            raise _mismatch(event, f"proposal {p.id}'s terms name nothing to settle on")
        wanted = [
            ("metric version", certified.version_id, p.metric_version_id),
            ("entity", certified.entity, terms.get("entity")),
            ("period", certified.period, terms.get("period")),
        ]
        if terms.get("cutoff") is not None:
            wanted.append(("data cut-off", certified.cutoff, terms.get("cutoff")))
        for what, found, named in wanted:
            if found != named:
                raise _mismatch(
                    event,
                    f"measurement {measurement_id} is of {what} {found!r}, but proposal {p.id} "
                    f"settles on {what} {named!r}",
                )

    def _check_plan(self, event: Event, d: _Data, p: _Proposal, executed: _Market | None) -> None:
        """Every payout from the replayed stakes, conditional cash and positions."""
        accounts = sorted(set(p.stakes) | p.cash_holders)
        plan: SettlementPlan
        try:
            if executed is None:
                traders = [TraderState(a, p.stakes.get(a, 0), 0, ()) for a in accounts]
                plan = unwind(traders, p.collateral)
            else:
                n = len(p.outcomes)
                m = executed.id
                held = {a for (a, market, _k), s in self._positions.items() if market == m and s}
                traders = [
                    TraderState(
                        a,
                        p.stakes.get(a, 0),
                        self._branch_cash.get((a, m), 0),
                        tuple(self._positions.get((a, m, k), 0) for k in range(n)),
                    )
                    for a in sorted(set(accounts) | held)
                ]
                value = d.number("welfare_value")
                per_share = p.asset.payout_micros(value)
                probability = d.opt_number("probability")
                chance = None if probability is None else Fraction(probability)
                plan = settle(traders, per_share, p.collateral, probability=chance)
        except MarketError as exc:
            raise _mismatch(event, f"the settlement cannot be paid: {exc}") from None
        recorded = d.array("payouts")
        expected = [
            {
                "account": x.account_id,
                "deposit_micros": x.deposit_micros,
                "value_micros": x.value_micros,
                "paid_micros": x.paid_micros,
            }
            for x in plan.payouts
        ]
        for i, want in enumerate(expected):
            got = recorded[i] if i < len(recorded) else None
            _expect(event, f"the payout to account {want['account']}", got, want)
        if len(recorded) != len(expected):
            raise _mismatch(
                event, f"{len(recorded)} payouts are recorded, the replay pays {len(expected)}"
            )
        _expect(event, "the traders' total", d.integer("paid_micros"), plan.traders_micros)
        _expect(event, "the sponsor", d.integer("sponsor"), p.sponsor)
        sponsor_paid = d.integer("sponsor_paid_micros")
        _expect(event, "the sponsor's payout", sponsor_paid, plan.sponsor_micros)
        for x in plan.payouts:
            self._cash[x.account_id] = self._cash.get(x.account_id, 0) + x.paid_micros
        self._cash[p.sponsor] = self._cash.get(p.sponsor, 0) + plan.sponsor_micros
        p.collateral = 0
        p.settlement_checked = True
        self.settlements_checked += 1

    # --- the end ------------------------------------------------------------------------

    def finish(self) -> ReplayedState:
        """Check what needs every stream, and return the replayed state.

        Raises:
            AuditMismatch: a proposal's market never opened, branch streams that do not
                carry the same splits, merges, decision and settlement, a negative cash
                balance, or cash not conserved.
        """
        for p in sorted(self._proposals.values(), key=lambda x: x.id):
            self._finish_proposal(p)
        for account, cash in sorted(self._cash.items()):
            if cash < 0:
                raise AuditMismatch(
                    Disagreement(
                        GOVERNANCE,
                        0,
                        f"account {account} ends with {format_micros(cash)} of cash: the credits, "
                        "debits, subsidies, splits, merges and payouts of the log overdraw it",
                    )
                )
        held = sum(self._cash.values()) + sum(p.collateral for p in self._proposals.values())
        if held != self._credits - self._debits:
            raise AuditMismatch(
                Disagreement(
                    GOVERNANCE,
                    0,
                    f"cash held ({format_micros(held)}, with the proposals' collateral) is not "
                    f"the credits less the debits ({format_micros(self._credits - self._debits)})",
                )
            )
        return self.state()

    def _finish_proposal(self, p: _Proposal) -> None:
        markets = [self._markets.get(m) for m in sorted(p.markets)]
        for market_id, market in zip(sorted(p.markets), markets, strict=True):
            stream = market_stream(market_id)
            if market is None:
                raise AuditMismatch(
                    Disagreement(
                        stream,
                        0,
                        f"proposal {p.id} created market {market_id}, whose stream never opened it",
                    )
                )
            if market.moves != len(p.moves):
                raise AuditMismatch(
                    Disagreement(
                        stream,
                        0,
                        f"the stream holds {market.moves} splits and merges of proposal {p.id}, "
                        f"{market_stream(p.first_market)} holds {len(p.moves)}",
                    )
                )
            if p.decision_digest is not None and not market.decided:
                raise AuditMismatch(
                    Disagreement(stream, 0, f"proposal {p.id}'s decision is missing here")
                )
            if p.settlement_digest is not None and market.status not in ENDED:
                raise AuditMismatch(
                    Disagreement(stream, 0, f"proposal {p.id}'s settlement is missing here")
                )
        if p.settlement_digest is not None and not p.settlement_checked:
            raise AuditMismatch(
                Disagreement(
                    market_stream(p.first_market),
                    0,
                    f"proposal {p.id}'s settlement names branch {p.settlement_executed}, which "
                    "it does not have",
                )
            )

    def state(self) -> ReplayedState:
        """The state replayed so far (non-zero amounts only)."""
        markets = {
            m.id: MarketSnapshot(
                proposal_id=m.proposal.id,
                branch_index=m.branch_index,
                q_micros=tuple(m.book.q_micros),
                maker_cash_micros=m.maker_cash,
                trade_count=m.trade_count,
                status=m.status,
                twap=None if m.twap is None else tuple(twap_list(m.twap) or ()),
            )
            for m in self._markets.values()
        }
        return ReplayedState(
            cash={a: c for a, c in self._cash.items() if c},
            branch_cash={k: c for k, c in self._branch_cash.items() if c},
            positions={k: s for k, s in self._positions.items() if s},
            markets=markets,
            decisions_checked=self.decisions_checked,
            settlements_checked=self.settlements_checked,
            trades_checked=self.trades_checked,
            stakes={
                (a, p.id): s for p in self._proposals.values() for a, s in p.stakes.items() if s
            },
            collateral={p.id: p.collateral for p in self._proposals.values() if p.collateral},
            events=self.events,
        )


_HANDLERS = {
    "trade": MarketReplay._trade,
    "split": MarketReplay._move,
    "merge": MarketReplay._move,
    "proposal.closed": MarketReplay._closed,
    "crank": MarketReplay._crank,
    "decision": MarketReplay._decision,
    "settlement": MarketReplay._settlement,
}
"""What each kind of market event does to the replay (``market.opened`` starts a stream)."""
