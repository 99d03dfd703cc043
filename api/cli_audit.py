"""``futarchy audit``: export the audit log, print its heads, verify it.

::

    futarchy audit heads [--out FILE]          every stream's head, as JSON (publish it)
    futarchy audit export DIR                  every stream as JSON lines + a manifest
    futarchy audit verify                      verify the database's streams
    futarchy audit verify --from DIR           verify an export, with no database
         [--published FILE] [--chain-only]     … against heads published earlier

``verify`` prints one line: what it recomputed and that everything agrees (exit 0), or
``error: <stream> #<seq>: <what was expected>`` on stderr for the first record that
disagrees (exit 1). A bad argument is one line on stderr (exit 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from db.session import Database
from db.settings import Settings, get_settings
from market.audit_verify import (
    DirectorySource,
    UnreadableExport,
    VerifyReport,
    read_heads_file,
    verify,
)

audit_app = typer.Typer(
    name="audit", help="Export, publish and verify the audit log.", no_args_is_help=True
)
_out = Console(soft_wrap=True, highlight=False)
_err = Console(stderr=True, soft_wrap=True, highlight=False)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
]


def _database(database_url: str | None) -> Database:
    settings = Settings(database_url=database_url) if database_url else get_settings()
    return Database.from_settings(settings)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err.print(f"error: {' '.join(message.split())}", markup=False)
    return typer.Exit(code)


@audit_app.command("heads")
def heads_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the heads to this file (JSON).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Every stream's head (sequence number and hash) as JSON: publish it, and anyone can
    later check that the history up to these heads is unchanged."""
    from db.audit_chain import iso_instant
    from db.types import utcnow
    from market.audit_trail import stream_heads

    database = _database(database_url)
    try:
        with database.read() as session:
            heads = stream_heads(session)
    finally:
        database.dispose()
    document = {"taken_at": iso_instant(utcnow()), "streams": [h.to_dict() for h in heads]}
    text = json.dumps(document, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        _out.print(f"wrote the heads of {len(heads)} streams to {out}", markup=False)


@audit_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Write every stream as JSON lines (DIR/streams/<stream>.jsonl, each line exactly the
    text that was hashed) and DIR/manifest.json with every head, streaming."""
    from market.audit_export import ExportRefused, export

    database = _database(database_url)
    try:
        result = export(database, directory)
    except ExportRefused as refused:
        raise _fail(str(refused), 2) from None
    finally:
        database.dispose()
    _out.print(
        f"exported {result.events} events of {len(result.heads)} streams to {directory}",
        markup=False,
    )


def _summary(report: VerifyReport) -> str:
    return (
        f"verified {report.events} events in {report.streams} streams: "
        f"{report.motions_checked} motion results, {report.trades_checked} trades, "
        f"{report.decisions_checked} decisions and {report.settlements_checked} settlements "
        f"recomputed; everything agrees ({report.seconds:.2f} s)"
    )


@audit_app.command("verify")
def verify_command(
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Verify this export directory instead (no database)."),
    ] = None,
    published: Annotated[
        Path | None,
        typer.Option(
            "--published",
            help="Heads published earlier (a manifest or `audit heads` output): each must "
            "still be in its stream with the same hash.",
        ),
    ] = None,
    chain_only: Annotated[
        bool, typer.Option("--chain-only", help="Check the hash chains only.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Recompute every chain, motion result, decision, settlement and balance; print the
    first record that disagrees (exit 1) or a summary (exit 0)."""
    try:
        heads = None if published is None else read_heads_file(published)
        if source is not None:
            report = verify(DirectorySource(source), heads, replay=not chain_only)
        else:
            from market.audit_export import verify_database

            database = _database(database_url)
            try:
                report = verify_database(database, heads, replay=not chain_only)
            finally:
                database.dispose()
    except UnreadableExport as unreadable:
        raise _fail(str(unreadable), 2) from None
    if report.disagreement is not None:
        raise _fail(str(report.disagreement), 1)
    _out.print(_summary(report), markup=False)


def register(app: typer.Typer) -> None:
    """Add ``audit`` to the ``futarchy`` command line."""
    app.add_typer(audit_app)
