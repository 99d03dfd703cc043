"""Moving cash: credits and debits (the operator's faucet), splits and merges.

- *credit* / *debit*: unconditional cash enters or leaves the engine (admin only).
- *split* ``a``: ``a`` cash becomes ``a`` conditional cash in EVERY branch of a proposal
  (the cash moves to the proposal's collateral, which backs each branch's cash 1:1).
- *merge* ``a``: ``a`` from EVERY branch becomes ``a`` cash again; allowed at any time
  until settlement.

These are the database form of `market.conditional.Holdings.split` / ``merge``, with the
same refusals and messages. Both also keep the account's stake in the proposal
(`market.settlement_models.Stake`: ``Σ splits − Σ merges``) in the same transaction,
under the proposal's row lock, so settling never sums the ledger. Each operation is one
balanced ledger posting (`market.ledger`), runs inside the caller's transaction and only
flushes; a refusal raises before anything is written or inside the transaction that the
caller then rolls back.

Each change appends its audit event in the same transaction, after it was validated
(docs/audit.md): ``cash.credit`` / ``cash.debit`` to the governance stream (its head is the
last lock taken), ``split`` / ``merge`` to every branch's market stream, in market id order
(the market rows are locked right after the proposal's, before any account row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from db import audit
from db.audit_chain import Head, market_of_stream
from db.identity import get_account
from db.types import utcnow
from market import audit_trail
from market import repository as repo
from market.book import MAX_SHARES_MICROS, format_micros
from market.decision import DecisionRule, margin_multiple
from market.errors import InsufficientFunds, InsufficientMargin, InvalidMarketInput, MarketClosed
from market.ledger import Holder, Leg, OperationKind, post
from market.models import Proposal, ProposalStatus

MAX_AMOUNT_MICROS = MAX_SHARES_MICROS
"""Largest amount one credit, debit, split or merge may move: 1e9 units."""

MAX_BALANCE_MICROS = 10**17
"""Largest cash balance a credit may create: 1e11 units (far below BIGINT's 9.2e18)."""

_PAID_OUT = frozenset({ProposalStatus.SETTLED, ProposalStatus.UNWOUND})
"""Statuses after which a proposal's conditional cash has been redeemed."""


@dataclass(frozen=True, slots=True)
class BranchBalance:
    """Conditional cash in one branch, micro-units."""

    market_id: int
    proposal_id: int
    branch_index: int
    branch_name: str
    cash_micros: int


@dataclass(frozen=True, slots=True)
class Balances:
    """An account's unconditional cash and its conditional cash per branch, micro-units."""

    account_id: int
    cash_micros: int
    branches: tuple[BranchBalance, ...]


def check_amount(amount_micros: int, what: str) -> int:
    """Refuse a non-positive, non-integer or absurdly large amount (micro-units)."""
    if isinstance(amount_micros, bool) or not isinstance(amount_micros, int):
        raise InvalidMarketInput(f"the {what} must be a whole number of micro-units")
    if amount_micros <= 0:
        raise InvalidMarketInput(f"the {what} must be positive, got {format_micros(amount_micros)}")
    if amount_micros > MAX_AMOUNT_MICROS:
        raise InvalidMarketInput(
            f"the {what} {format_micros(amount_micros)} exceeds the limit of "
            f"{format_micros(MAX_AMOUNT_MICROS)} per operation"
        )
    return amount_micros


def balances(session: Session, account_id: int, proposal_id: int | None = None) -> Balances:
    """Cash and conditional cash of an account (optionally of one proposal only)."""
    rows = repo.branch_cash_of(session, account_id, proposal_id)
    return Balances(
        account_id=account_id,
        cash_micros=repo.cash_of(session, account_id),
        branches=tuple(
            BranchBalance(
                market_id=r.market_id,
                proposal_id=r.proposal_id,
                branch_index=r.branch_index,
                branch_name=r.branch_name,
                cash_micros=int(r.cash_micros),
            )
            for r in rows
        ),
    )


def credit(session: Session, account_id: int, amount_micros: int) -> int:
    """Give an account ``amount`` of cash from outside; returns the new balance.

    Raises:
        UnknownAccount: no such account.
        InvalidMarketInput: a non-positive or too large amount, or a balance beyond
            `MAX_BALANCE_MICROS`.
    """
    amount = check_amount(amount_micros, "credit")
    get_account(session, account_id)
    before = repo.cash_of(session, account_id)
    if before + amount > MAX_BALANCE_MICROS:
        raise InvalidMarketInput(
            f"a credit of {format_micros(amount)} would take the balance beyond "
            f"{format_micros(MAX_BALANCE_MICROS)}"
        )
    balance = repo.add_cash(session, account_id, amount)
    post(
        session,
        OperationKind.CREDIT,
        [
            Leg(Holder.OUTSIDE, -amount),
            Leg(Holder.ACCOUNT, amount, account_id=account_id),
        ],
    )
    audit.record(session, "cash.credit", {"account": account_id, "amount_micros": amount})
    return balance


def debit(session: Session, account_id: int, amount_micros: int) -> int:
    """Take ``amount`` of an account's cash out of the engine; returns the new balance.

    Raises:
        UnknownAccount: no such account.
        InvalidMarketInput: a non-positive or too large amount.
        InsufficientFunds: the account holds less cash than ``amount``.
    """
    amount = check_amount(amount_micros, "debit")
    get_account(session, account_id)
    balance = repo.take_cash(session, account_id, amount)
    if balance is None:
        raise InsufficientFunds(
            f"cannot debit {format_micros(amount)}: account {account_id} holds only "
            f"{format_micros(repo.cash_of(session, account_id))} of cash"
        )
    post(
        session,
        OperationKind.DEBIT,
        [
            Leg(Holder.ACCOUNT, -amount, account_id=account_id),
            Leg(Holder.OUTSIDE, amount),
        ],
    )
    audit.record(session, "cash.debit", {"account": account_id, "amount_micros": amount})
    return balance


def split(session: Session, account_id: int, proposal_id: int, amount_micros: int) -> Balances:
    """Turn ``a`` cash into ``a`` conditional cash in every branch of a proposal.

    ``cash −= a``; ``collateral += a``; ``branch_cash_j += a`` for every branch ``j``;
    the account's ``stake += a``; a ``split`` event in every branch's audit stream. Locks
    the proposal row first, then its market rows in id order (`market.audit_trail`), then
    the account's rows.

    Raises:
        UnknownProposal: no such proposal.
        MarketClosed: the proposal is no longer open (no new conditional cash then).
        InvalidMarketInput: a non-positive or too large amount.
        InsufficientFunds: less unconditional cash than ``a``.
    """
    amount = check_amount(amount_micros, "amount to split")
    proposal = repo.get_proposal(session, proposal_id, for_update=True)
    if proposal.status != ProposalStatus.OPEN:
        raise MarketClosed(
            f"proposal {proposal_id} is {proposal.status}: cash can no longer be split into it"
        )
    heads = audit_trail.lock_heads(session, proposal_id)
    market_ids = [_market_of(h) for h in heads]
    if repo.take_cash(session, account_id, amount) is None:
        raise InsufficientFunds(
            f"cannot split {format_micros(amount)}: only "
            f"{format_micros(repo.cash_of(session, account_id))} of cash is available"
        )
    collateral = _add_collateral(session, proposal_id, amount)
    repo.add_branch_cash_everywhere(session, account_id, proposal_id, market_ids, amount)
    stake = repo.add_stake(session, account_id, proposal_id, amount)
    post(session, OperationKind.SPLIT, _split_legs(account_id, proposal_id, market_ids, amount))
    after = balances(session, account_id, proposal_id)
    event = _move_event(proposal_id, account_id, amount, market_ids, after, stake, collateral)
    audit_trail.append(session, heads, ("split", event), utcnow())
    return after


def merge(session: Session, account_id: int, proposal_id: int, amount_micros: int) -> Balances:
    """Turn ``a`` conditional cash from every branch of a proposal back into ``a`` cash.

    ``branch_cash_j −= a`` for every branch ``j``; ``collateral −= a``; ``cash += a``; the
    account's ``stake −= a`` (it goes negative when trading gains let the account merge out
    more than it split in); a ``merge`` event in every branch's audit stream. Locks as
    `split` does.

    Raises:
        UnknownProposal: no such proposal.
        MarketClosed: the proposal is settled or unwound (its conditional cash has been
            redeemed).
        InvalidMarketInput: a non-positive or too large amount.
        InsufficientFunds: some branch holds less than ``a`` (names the first one).
    """
    amount = check_amount(amount_micros, "amount to merge")
    proposal = repo.get_proposal(session, proposal_id, for_update=True)
    if proposal.status in _PAID_OUT:
        raise MarketClosed(
            f"proposal {proposal_id} is {proposal.status}: its conditional cash can no longer "
            "be merged"
        )
    heads = audit_trail.lock_heads(session, proposal_id)
    market_ids = [_market_of(h) for h in heads]
    held = {b.market_id: b for b in balances(session, account_id, proposal_id).branches}
    for index, market_id in enumerate(market_ids):
        have = held[market_id].cash_micros if market_id in held else 0
        if have < amount:
            raise InsufficientFunds(
                f"cannot merge {format_micros(amount)}: branch {index} holds only "
                f"{format_micros(have)} of conditional cash (merging needs the amount in "
                "every branch)"
            )
    multiple = margin_multiple(_rule_of(proposal), len(market_ids))
    if multiple is not None:
        # ipw exploration: the cash left in each branch must still cover the margin of the
        # net spend there, as a buy's does (`market.deciding`); merging cannot take it out
        for index, market_id in enumerate(market_ids):
            have, spent = repo.branch_cash_and_spent(session, account_id, market_id)
            if have - amount < multiple * spent:
                raise InsufficientMargin(
                    f"cannot merge {format_micros(amount)}: branch {index} must keep "
                    f"{multiple:g} × your net spend there ({format_micros(spent)}) as margin "
                    f"under ipw exploration, and holds {format_micros(have)}"
                )
    repo.add_cash(session, account_id, amount)
    if repo.take_branch_cash_everywhere(session, account_id, proposal_id, amount) != len(
        market_ids
    ):
        # a branch no longer holds the amount (the market locks above keep trades out, so
        # this is a backstop)
        raise InsufficientFunds(
            f"cannot merge {format_micros(amount)}: a branch no longer holds that much "
            "conditional cash; check your balances and try again"
        )
    collateral = _add_collateral(session, proposal_id, -amount)
    stake = repo.add_stake(session, account_id, proposal_id, -amount)
    legs = [
        Leg(leg.holder, -leg.amount_micros, leg.market_id, leg.account_id, leg.proposal_id)
        for leg in _split_legs(account_id, proposal_id, market_ids, amount)
    ]
    post(session, OperationKind.MERGE, legs)
    after = balances(session, account_id, proposal_id)
    event = _move_event(proposal_id, account_id, amount, market_ids, after, stake, collateral)
    audit_trail.append(session, heads, ("merge", event), utcnow())
    return after


def _market_of(head: Head) -> int:
    market_id = market_of_stream(head.stream)
    assert market_id is not None  # lock_heads names market streams only
    return market_id


def _move_event(
    proposal_id: int,
    account_id: int,
    amount: int,
    market_ids: list[int],
    after: Balances,
    stake: int,
    collateral: int,
) -> dict[str, Any]:
    """The ``data`` of a ``split`` or ``merge`` event (docs/audit.md, "Market streams"): the
    same in every branch's stream."""
    cash = {b.market_id: b.cash_micros for b in after.branches}
    return {
        "proposal_id": proposal_id,
        "account": account_id,
        "amount_micros": amount,
        "markets": market_ids,
        "branch_cash_micros": [cash.get(m, 0) for m in market_ids],
        "stake_micros": stake,
        "collateral_micros": collateral,
    }


def _rule_of(proposal: Proposal) -> DecisionRule | None:
    """The proposal's decision rule, or None when it has none stored (an old row)."""
    return None if not proposal.decision_rule else DecisionRule.from_dict(proposal.decision_rule)


def _add_collateral(session: Session, proposal_id: int, amount_micros: int) -> int:
    """Add to the proposal's collateral (its row is locked); returns the new collateral."""
    return int(
        session.execute(
            update(repo.PROPOSAL)
            .where(repo.PROPOSAL.c.id == proposal_id)
            .values(collateral_micros=repo.PROPOSAL.c.collateral_micros + amount_micros)
            .returning(repo.PROPOSAL.c.collateral_micros)
        ).scalar_one()
    )


def _split_legs(account_id: int, proposal_id: int, market_ids: list[int], amount: int) -> list[Leg]:
    legs = [
        Leg(Holder.ACCOUNT, -amount, account_id=account_id, proposal_id=proposal_id),
        Leg(Holder.COLLATERAL, amount, proposal_id=proposal_id),
    ]
    for market_id in market_ids:
        legs.append(Leg(Holder.COLLATERAL, -amount, market_id, proposal_id=proposal_id))
        legs.append(
            Leg(Holder.ACCOUNT, amount, market_id, account_id=account_id, proposal_id=proposal_id)
        )
    return legs
