"""``futarchy decide`` and ``futarchy crank``: decide due proposals, advance quiet averages.

`register` adds both commands to the `futarchy` Typer app (`api.cli`)::

    futarchy decide PROPOSAL     decide one proposal (idempotent: prints its decision)
    futarchy decide --due        decide every proposal whose decision time has passed
    futarchy crank [PROPOSAL]    advance the averages of one proposal, or of every
                                 undecided one

Each prints one line per proposal on stdout. A refusal (not due yet, unknown proposal) is
one line on stderr, ``error: …``, and the exit code is 1 (with ``--due`` or a crank of
every proposal, the others still run first). Giving both or neither of PROPOSAL and
``--due`` is a usage error (exit 2).
"""

from __future__ import annotations

from typing import Annotated

import typer

from db.errors import FutarchyError
from db.session import Database
from db.settings import Settings, get_settings
from market import deciding
from market import repository as repo
from market.deciding import UNDECIDED, CrankResult
from market.proposal_rule import iso_utc
from market.settlement_models import Decision

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
]


def _database(database_url: str | None) -> Database:
    settings = Settings(database_url=database_url) if database_url else get_settings()
    return Database.from_settings(settings)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> None:
    typer.echo(f"error: {_one_line(message)}", err=True)


def decision_line(decision: Decision, names: dict[int, str]) -> str:
    """``proposal 3 decided: executes branch 1 'Leave at 18' (greedy 1, margin +2.5, settles)``."""
    executed = decision.executed_index
    how = "settles" if decision.settles else "unwinds: the draw did not explore"
    chance = ", explored" if decision.explored else ""
    return (
        f"proposal {decision.proposal_id} decided: executes branch {executed} "
        f"{names.get(executed, '?')!r} (greedy {decision.greedy_index}, margin "
        f"{decision.margin:+.6g}{chance}, {how})"
    )


def crank_line(result: CrankResult) -> str:
    """``proposal 3 cranked: 'Leave at 18' 52.5, 'Status quo' 50 (averages at …)``."""
    averages = ", ".join(f"{b.branch_name!r} {b.average:.6g}" for b in result.branches)
    verb = "cranked" if result.advanced else "is decided (averages frozen)"
    return (
        f"proposal {result.proposal_id} {verb}: {averages} "
        f"(averages at {iso_utc(result.decides_at)} if nothing trades until then)"
    )


def _names(database: Database, proposal_id: int) -> dict[int, str]:
    with database.read() as session:
        return {m.branch_index: m.branch_name for m in repo.markets_of(session, [proposal_id])}


def register(app: typer.Typer) -> None:
    """Add ``decide`` and ``crank`` to the `futarchy` app."""

    @app.command("decide")
    def decide(
        proposal: Annotated[
            int | None, typer.Argument(min=1, help="The proposal to decide.", show_default=False)
        ] = None,
        due: Annotated[
            bool, typer.Option("--due", help="Decide every proposal whose time has come.")
        ] = False,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Decide a proposal whose decision time has come (or every due one with --due)."""
        if (proposal is None) == (not due):
            raise typer.BadParameter("give a PROPOSAL id or --due, not both and not neither")
        database = _database(database_url)
        try:
            if proposal is not None:
                try:
                    with database.write() as session:
                        decision = deciding.decide(session, proposal)
                except FutarchyError as exc:
                    _fail(str(exc))
                    raise typer.Exit(1) from None
                typer.echo(decision_line(decision, _names(database, proposal)))
                return
            outcomes = deciding.decide_each_due(database)
            if not outcomes:
                typer.echo("no proposal is due to be decided")
            for outcome in outcomes:
                if outcome.decision is None:
                    _fail(f"proposal {outcome.proposal_id}: {outcome.error}")
                else:
                    names = _names(database, outcome.proposal_id)
                    typer.echo(decision_line(outcome.decision, names))
            if any(o.decision is None for o in outcomes):
                raise typer.Exit(1)
        finally:
            database.dispose()

    @app.command("crank")
    def crank(
        proposal: Annotated[
            int | None,
            typer.Argument(
                min=1, help="The proposal (default: every undecided one).", show_default=False
            ),
        ] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Advance the averages of a proposal's quiet markets to now (of every undecided
        proposal without PROPOSAL) and print each branch's average."""
        database = _database(database_url)
        failed = False
        try:
            if proposal is not None:
                ids = [proposal]
            else:
                ids = []
                with database.read() as session:
                    statuses = [s.value for s in UNDECIDED]
                    while page := repo.proposal_ids_by_status(
                        session, statuses, after_id=ids[-1] if ids else 0
                    ):
                        ids.extend(page)
                if not ids:
                    typer.echo("no undecided proposal to crank")
            for pid in ids:
                try:
                    with database.write() as session:
                        result = deciding.crank(session, proposal_id=pid)
                except FutarchyError as exc:
                    _fail(str(exc) if proposal is not None else f"proposal {pid}: {exc}")
                    failed = True
                    continue
                typer.echo(crank_line(result))
        finally:
            database.dispose()
        if failed:
            raise typer.Exit(1)
