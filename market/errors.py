"""The errors of the market package, all rooted in `db.errors.FutarchyError`.

::

    FutarchyError
    └── MarketError
        ├── InvalidMarketInput     (also InvalidInputError -> 422): NaN/inf, b <= 0, empty or
        │                          mismatched vectors, bad outcome index, non-positive amounts,
        │                          quantities beyond the documented hard bounds
        ├── PriceLimitExceeded     (also ConflictError -> 409): the quote breaks the caller's limit
        ├── InsufficientFunds      (also ConflictError -> 409): cash would go below zero
        ├── InsufficientShares     (also ConflictError -> 409): selling shares not held
        ├── StaleQuote             (also ConflictError -> 409): the book moved since the quote
        ├── InsufficientMargin     (also ConflictError -> 409): under ipw exploration a buy or a
        │                          merge would leave less than the margin of the net spend
        ├── SettlementShortfall    (also ConflictError -> 409): payouts would exceed the
        │                          collateral (inconsistent books); nothing is paid
        └── InvalidDecisionRule    (an InvalidMarketInput, in `market.decision`): a decision
                                   rule field out of range, named by ``.field``

Every refusal is raised before anything changes: the market values are frozen, so an
operation either returns a new value or raises and leaves the old one as it was. Messages
are sentences a trader can act on; they never mention HTTP.
"""

from __future__ import annotations

from db.errors import ConflictError, FutarchyError, InvalidInputError, NotFoundError


class MarketError(FutarchyError):
    """Base of every deliberate error raised by the market package."""


class InvalidMarketInput(MarketError, InvalidInputError):
    """The input is malformed or out of range (NaN, inf, b <= 0, wrong length, overflow...)."""


class PriceLimitExceeded(MarketError, ConflictError):
    """The quoted price or amount breaks the limit the trader set."""


class InsufficientFunds(MarketError, ConflictError):
    """Cash or conditional cash would go below zero."""


class InsufficientShares(MarketError, ConflictError):
    """The trader tried to sell (or merge) more than they hold."""


class StaleQuote(MarketError, ConflictError):
    """The quote was priced for a different market state; ask for a fresh quote."""


# --- trading service (persistence): raised by market.proposals, market.funding, market.trading
#
#     MarketError
#     ├── UnknownProposal, UnknownMarket     (also NotFoundError -> 404)
#     ├── InvalidProposal                    (also InvalidInputError -> 422)
#     ├── MarketClosed                       (also ConflictError -> 409)
#     ├── MetricNotInForce                   (also ConflictError -> 409)
#     └── IdempotencyKeyReused               (also InvalidInputError -> 422)


class UnknownProposal(MarketError, NotFoundError):
    """No proposal with that id."""


class UnknownMarket(MarketError, NotFoundError):
    """No market with that id."""


class InvalidProposal(MarketError, InvalidInputError):
    """The proposal's definition is malformed (bounds, bins, window, alternatives, subsidy)."""


class MarketClosed(MarketError, ConflictError):
    """The market does not trade now: closed, settled, or its trading window has not begun."""


class MetricNotInForce(MarketError, ConflictError):
    """A proposal cannot bind to the metric version: none is in force when trading opens,
    or the version named is a draft or not the one in force then."""


class IdempotencyKeyReused(MarketError, InvalidInputError):
    """An Idempotency-Key was sent again with a different request."""


class SettlementShortfall(MarketError, ConflictError):
    """The payouts of a settlement would exceed the proposal's collateral."""


class InsufficientMargin(MarketError, ConflictError):
    """With ipw exploration, the conditional cash kept would not cover the scaled losses."""
