"""The `futarchy` command line.

Errors are one line on stderr: ``error: …``. A refusal of the project's own (an unknown
account, a bad name), a database that cannot be reached or is not migrated, and bad
settings exit 1; a command line that does not parse (an unknown option, ``PORT=abc``)
exits 2, as every Click program does.

``run`` and ``serve`` bind ``HOST``:``PORT`` from the environment (``--host``/``--port``
win), 127.0.0.1:8000 by default.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from db.errors import FutarchyError
from db.identity import Role, account_by_name, create_account, issue_api_key
from db.settings import Settings, get_settings

app = typer.Typer(help="futarchy: vote on values, bet on beliefs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
admin_app = typer.Typer(help="Bootstrap accounts and keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")

out = Console(soft_wrap=True)  # keys and URLs stay on one line, whole, to copy
err = Console(stderr=True, soft_wrap=True)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _settings(database_url: str | None) -> Settings:
    return Settings(database_url=database_url) if database_url else get_settings()


DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
]
Host = Annotated[str, typer.Option("--host", envvar="HOST", help="Interface to bind (env HOST).")]
Port = Annotated[
    int,
    typer.Option("--port", envvar="PORT", min=1, max=65535, help="TCP port to bind (env PORT)."),
]


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema."""
    from db.migrate import upgrade

    settings = _settings(database_url)
    upgrade(settings.database_url)
    out.print(f"database migrated: {settings.database_url}")


@db_app.command("check")
def db_check(database_url: DatabaseUrl = None) -> None:
    """Fail if the models and the migrated schema disagree."""
    from db.migrate import check

    check(_settings(database_url).database_url)
    out.print("models and migrations agree")


@admin_app.command("create-account")
def admin_create_account(
    name: str,
    role: Annotated[str, typer.Option(help="admin, council or trader")] = Role.TRADER.value,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account and print its first API key."""
    from db.session import Database

    database = Database.from_settings(_settings(database_url))
    try:
        with database.write() as session:
            account = create_account(session, name, role)
            key = issue_api_key(session, account)
    finally:
        database.dispose()
    out.print(f"account {account.id} ({account.role}) created; API key: {key}")


@admin_app.command("issue-key")
def admin_issue_key(name: str, database_url: DatabaseUrl = None) -> None:
    """Issue a new API key for an existing account, by name, and print it alone on one line.

    Older keys keep working; revoke one with DELETE /accounts/{id}/keys/{key_id}.
    """
    from db.session import Database

    database = Database.from_settings(_settings(database_url))
    try:
        with database.write() as session:
            key = issue_api_key(session, account_by_name(session, name))
    finally:
        database.dispose()
    typer.echo(key)


@app.command("serve")
def serve(
    host: Host = DEFAULT_HOST,
    port: Port = DEFAULT_PORT,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    database_url: DatabaseUrl = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            envvar="ACCESS_LOG",
            help="one JSON line per request on standard output",
        ),
    ] = True,
) -> None:
    """Serve the API (the database must be migrated)."""
    import os

    import uvicorn

    from api.logs import log_config

    if database_url:
        os.environ["DATABASE_URL"] = database_url
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,  # uvicorn's own; ours is futarchy.access (api.middleware)
        log_config=log_config(access_log),
    )


@app.command("run")
def run(
    host: Host = DEFAULT_HOST,
    port: Port = DEFAULT_PORT,
    database_url: DatabaseUrl = None,
) -> None:
    """The main job: migrate, seed the demo unless present, print its new keys, serve.

    A demo account's key is printed once, on the start that creates the account; a restart
    mints no key and says how to get one (``futarchy admin issue-key NAME``).
    """
    from api.seed import seed_demo
    from db.migrate import upgrade
    from db.session import Database

    settings = _settings(database_url)
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    try:
        with database.write() as session:
            report = seed_demo(session)
    finally:
        database.dispose()
    say = out.print
    say(f"database: {settings.database_url} ({'seeded' if report.created else 'existing'})")
    if report.keys:
        say("API keys of the new demo accounts (shown only now: keys are stored hashed):")
        for issued in report.keys:
            say(f"  {issued.name} ({issued.role.value}): [bold]{issued.key}[/bold]")
    printed = {issued.name for issued in report.keys}
    existing = [name for name in report.accounts if name not in printed]
    if existing:
        say(
            f"demo accounts {', '.join(existing)} exist already; their keys were printed when "
            "they were created. For a new key: futarchy admin issue-key NAME"
        )
    for seat in report.council:
        say(
            f"council: {seat.account} votes for {seat.bloc} "
            f"({seat.seats} of {report.total_seats} seats, from the seat of {seat.member})"
        )
    say(
        f"council rules: quorum {report.quorum}, threshold {report.threshold} "
        f"(GET /council/rules): a motion passes when its ballots carry at least "
        f"{report.quorum_seats} of the {report.total_seats} seats and more than "
        f"{report.threshold} of the yes-or-no seats vote yes"
    )
    say(
        f"welfare metric in force: {report.metric_version_id} "
        f"(GET /metric-versions/{report.metric_version_id})"
    )
    if report.proposal_id is not None:
        say(f"demo proposal: id {report.proposal_id} (GET /proposals/{report.proposal_id})")
    if report.finished_proposal_id is not None:
        done = report.finished_proposal_id
        say(
            f"a finished demo (2002, settled on 2007 data): id {done} "
            f"(GET /proposals/{done}/decision, /proposals/{done}/settlement)"
        )
    say(f"API docs: http://{host}:{port}/docs")
    serve(host=host, port=port, workers=1, database_url=settings.database_url)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _register_lifecycle() -> None:
    """The commands of a proposal's end live beside their services' CLI modules."""
    from api import cli_audit, cli_backtest, cli_decide, cli_report, cli_settle

    cli_decide.register(app)
    cli_settle.register(app)
    cli_report.register(app)
    cli_audit.register(app)
    cli_backtest.register(app)


_register_lifecycle()


def main() -> None:
    """Entry point: run the Typer app, turning every expected failure into one line."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    def fail(message: str, code: int = 1) -> NoReturn:
        err.print(f"error: {_one_line(message)}", markup=False, highlight=False)
        sys.exit(code)

    try:
        code = app(standalone_mode=False)
    except FutarchyError as exc:
        fail(str(exc))
    except ValidationError as exc:  # settings read from the environment
        fail("invalid settings: " + "; ".join(_setting_problem(e) for e in exc.errors()))
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip()
        first = cause.splitlines()[0] if cause else type(exc).__name__
        fail(f"the database refused: {first} (is it migrated? futarchy db upgrade)")
    except typer.TyperException as exc:  # the command line did not parse
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as asked for
            typer.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        fail(exc.format_message(), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _setting_problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where.upper()}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))
