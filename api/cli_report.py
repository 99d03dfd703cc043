"""``futarchy report PROPOSAL``: write a proposal's policy-decision report.

`register` adds the command to the `futarchy` Typer app (`api.cli`)::

    futarchy report PROPOSAL [--format html|json|md] [--out FILE]

The report is built from the same read model as ``GET /proposals/{id}/report``
(`reports.read_model.build`) and written to FILE, or to standard output without
``--out``. With ``--out`` one line on stdout says what was written. A refusal (an unknown
proposal, a file that cannot be written) is one line on stderr, ``error: …``, exit 1; a
command line that does not parse (a bad ``--format``, a proposal id that is not a positive
whole number) exits 2 with one line, as every ``futarchy`` command does.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.params import MAX_ID
from db.errors import FutarchyError
from db.session import Database
from db.settings import Settings, get_settings
from reports import read_model, render_html, render_json, render_md
from reports.model import PolicyReport

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
]


class Format(enum.StrEnum):
    """The report's renderings."""

    HTML = "html"
    JSON = "json"
    MD = "md"


RENDER = {
    Format.HTML: render_html.render,
    Format.JSON: render_json.render,
    Format.MD: render_md.render,
}


def _database(database_url: str | None) -> Database:
    settings = Settings(database_url=database_url) if database_url else get_settings()
    return Database.from_settings(settings)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {_one_line(message)}", err=True)
    return typer.Exit(1)


def render(report: PolicyReport, fmt: Format) -> str:
    """The report in one rendering (text)."""
    return RENDER[fmt](report)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the `futarchy` app."""

    @app.command("report")
    def report(
        proposal: Annotated[
            int,
            typer.Argument(min=1, max=MAX_ID, help="The proposal.", show_default=False),
        ],
        fmt: Annotated[
            Format, typer.Option("--format", "-f", help="html, json or md.")
        ] = Format.HTML,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                help="The file to write (default: standard output).",
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Write the policy-decision report of a proposal (HTML, JSON or Markdown)."""
        database = _database(database_url)
        try:
            with database.read() as session:
                model = read_model.build(session, proposal)
        except FutarchyError as exc:
            raise _fail(str(exc)) from None
        finally:
            database.dispose()
        text = render(model, fmt)
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {out}: {exc.strerror or exc}") from None
        typer.echo(
            f"report of proposal {proposal} ({fmt.value}, {len(text.encode()):,} bytes, "
            f"{model.total_trades} trades) written to {out}"
        )
