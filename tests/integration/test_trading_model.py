"""Model-based: random splits, merges, buys, spends and sells on the database agree with the
pure core (`market.book.Book` + `market.conditional.Holdings`) step by step, to the
micro-unit, including which operations are refused, and the audit stays clean.

SQLite only (a fresh migrated copy per example); PostgreSQL shares every statement and is
covered by the other integration tests.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from db.session import Database
from market import funding
from market import repository as repo
from market.book import Book, quote_buy, quote_sell, quote_spend
from market.conditional import Holdings
from market.conservation import check_conservation
from market.errors import InsufficientFunds, InsufficientShares, InvalidMarketInput
from market.proposals import create_proposal, markets_of
from market.trading import Order, Side, execute
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import F_BINARY, UNIT, market_row, new_account, spec

TRADERS = 2
CASH = 30 * UNIT
REFUSALS = (InsufficientFunds, InsufficientShares, InvalidMarketInput)

traders = st.integers(0, TRADERS - 1)
branches = st.integers(0, 1)
outcomes = st.integers(0, 1)
amounts = st.integers(1, 12 * UNIT)


class TradingAgainstTheModel(RuleBasedStateMachine):
    """One proposal (an alternative and the status quo), two traders; DB vs pure model."""

    def __init__(self, template: Path, workdir: Path) -> None:
        super().__init__()
        path = workdir / f"model-{next(_counter)}.db"
        shutil.copyfile(template, path)
        self.db = Database(f"sqlite:///{path}")
        with self.db.write() as s:
            adopt_metric(s)
            sponsor = new_account(s, "sponsor", "admin", cash=F_BINARY)
            self.pid = create_proposal(s, sponsor, spec()).id
            self.markets = [m.id for m in markets_of(s, self.pid)]
            self.accounts = [new_account(s, f"t{i}", cash=CASH) for i in range(TRADERS)]
        self.holdings = [Holdings.empty(2, 2, CASH) for _ in range(TRADERS)]
        self.books = [Book.from_subsidy(2, F_BINARY) for _ in range(2)]

    def teardown(self) -> None:
        self.db.dispose()

    def _both(self, db_call: object, model_call: object) -> None:
        """Run the DB operation and the model's; they must succeed or refuse alike."""
        assert callable(db_call)
        assert callable(model_call)
        model_error: type[Exception] | None = None
        try:
            model_result = model_call()
        except REFUSALS as exc:
            model_error = type(exc)
        db_error: type[Exception] | None = None
        try:
            with self.db.write() as s:
                db_call(s)
        except REFUSALS as exc:
            db_error = type(exc)
        assert db_error is model_error, (db_error, model_error)
        if db_error is None:
            model_result()

    @rule(t=traders, amount=amounts)
    def split(self, t: int, amount: int) -> None:
        def model():  # type: ignore[no-untyped-def]
            after = self.holdings[t].split(amount)
            return lambda: self.holdings.__setitem__(t, after)

        self._both(lambda s: funding.split(s, self.accounts[t], self.pid, amount), model)

    @rule(t=traders, amount=amounts)
    def merge(self, t: int, amount: int) -> None:
        def model():  # type: ignore[no-untyped-def]
            after = self.holdings[t].merge(amount)
            return lambda: self.holdings.__setitem__(t, after)

        self._both(lambda s: funding.merge(s, self.accounts[t], self.pid, amount), model)

    @rule(
        t=traders,
        j=branches,
        k=outcomes,
        side=st.sampled_from(["buy", "spend", "sell"]),
        amount=amounts,
    )
    def trade(self, t: int, j: int, k: int, side: str, amount: int) -> None:
        book = self.books[j]
        results: list[int] = []

        def model():  # type: ignore[no-untyped-def]
            if side == "buy":
                q = quote_buy(book, k, amount)
            elif side == "spend":
                q = quote_spend(book, k, amount)
            else:
                q = quote_sell(book, k, amount)
            after = self.holdings[t].apply_trade(j, q)

            def commit() -> None:
                self.holdings[t] = after
                self.books[j] = book.apply(q)
                assert results == [q.cash_micros]

            return commit

        if side == "buy":
            order = Order(k, Side.BUY, shares_micros=amount)
        elif side == "spend":
            order = Order(k, Side.BUY, spend_micros=amount)
        else:
            order = Order(k, Side.SELL, shares_micros=amount)

        def on_db(s):  # type: ignore[no-untyped-def]
            r = execute(s, self.accounts[t], self.markets[j], order)
            results.append(r.cash_micros if r.side is Side.BUY else -r.cash_micros)

        self._both(on_db, model)

    @invariant()
    def database_equals_model(self) -> None:
        with self.db.read() as s:
            for t, account in enumerate(self.accounts):
                b = funding.balances(s, account, self.pid)
                h = self.holdings[t]
                assert b.cash_micros == h.cash_micros
                by_market = {x.market_id: x.cash_micros for x in b.branches}
                assert [by_market.get(m, 0) for m in self.markets] == list(h.branch_cash_micros)
                held = tuple(
                    tuple(repo.shares_in(s, account, m, k) for k in range(2)) for m in self.markets
                )
                assert held == h.shares_micros
            for j, m in enumerate(self.markets):
                assert market_row(s, m).q_micros == list(self.books[j].q_micros)
            report = check_conservation(s)
            assert report.ok, report.problems


_counter = itertools.count()


@pytest.mark.slow
def test_the_database_follows_the_pure_model(sqlite_template: Path, tmp_path: Path) -> None:
    run_state_machine_as_test(
        # hypothesis accepts any factory of machines; its stub names only the class
        lambda: TradingAgainstTheModel(sqlite_template, tmp_path),  # type: ignore[arg-type]
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
