"""``futarchy settle PROPOSAL`` and ``futarchy settle --due``: settle or unwind proposals.

Each proposal is settled in its own transaction by `market.settling.settle`, so one that
is refused changes nothing and the others go on. One line per proposal on stdout; a
refusal is one line on stderr (``error: proposal N: …``) and the command exits 1.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from db.errors import FutarchyError
from db.paging import DEFAULT_PAGE
from db.session import Database
from db.settings import Settings, get_settings
from market import settling
from market.book import format_micros
from market.settlement_models import Settlement

_out = Console(soft_wrap=True, highlight=False)
_err = Console(stderr=True, soft_wrap=True, highlight=False)


def _line(proposal_id: int, row: Settlement) -> str:
    """One line saying how the proposal ended and what it paid."""
    paid = format_micros(row.paid_micros)
    sponsor = format_micros(row.sponsor_paid_micros)
    if row.kind == "settled":
        how = (
            f"settled against measurement {row.measurement_id} (W = {row.welfare_value!r}), "
            f"branch {row.executed_index} executed"
        )
        if row.reason:
            how += f"; {row.reason}"
    else:
        how = f"unwound: {row.reason}"
    return f"proposal {proposal_id} {how}; traders paid {paid}, sponsor {sponsor}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _settle_one(database: Database, proposal_id: int) -> bool:
    """Settle one proposal and print its line; False (after an error line) if refused."""
    try:
        with database.write() as session:
            row = settling.settle(session, proposal_id)
    except FutarchyError as exc:
        _err.print(f"error: proposal {proposal_id}: {_one_line(str(exc))}", markup=False)
        return False
    _out.print(_line(proposal_id, row), markup=False)
    return True


def settle_command(
    proposal: Annotated[
        int | None,
        typer.Argument(min=1, max=2**31 - 1, help="The proposal to settle or unwind."),
    ] = None,
    due: Annotated[
        bool,
        typer.Option(
            "--due",
            help=(
                "Settle every decided proposal whose measurement is certified (or whose "
                "draw unwinds it) and unwind every one the council declared void."
            ),
        ),
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
    ] = None,
) -> None:
    """Settle or unwind a proposal (exactly once; a settled one is shown again), or every
    proposal that is due."""
    if (proposal is None) == (not due):
        raise typer.BadParameter("give either a PROPOSAL id or --due (exactly one of them)")
    settings = Settings(database_url=database_url) if database_url else get_settings()
    database = Database.from_settings(settings)
    ok = True
    try:
        if proposal is not None:
            ok = _settle_one(database, proposal)
        else:
            after, done = 0, 0
            while True:
                with database.read() as session:
                    batch = settling.due_proposals(session, after_id=after, limit=DEFAULT_PAGE)
                for proposal_id in batch:
                    ok = _settle_one(database, proposal_id) and ok
                    done += 1
                if len(batch) < DEFAULT_PAGE:
                    break
                after = batch[-1]
            if done == 0:
                _out.print("no proposal is due for settlement", markup=False)
    finally:
        database.dispose()
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``settle`` to the ``futarchy`` command line."""
    app.command("settle")(settle_command)
