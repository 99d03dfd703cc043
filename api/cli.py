"""The `futarchy` command line. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from db.errors import FutarchyError
from db.identity import Role, create_account, issue_api_key
from db.settings import Settings, get_settings

app = typer.Typer(help="futarchy: vote on values, bet on beliefs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
admin_app = typer.Typer(help="Bootstrap accounts and keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")

out = Console(soft_wrap=True)  # keys and URLs stay on one line, whole, to copy
err = Console(stderr=True, soft_wrap=True)


def _settings(database_url: str | None) -> Settings:
    return Settings(database_url=database_url) if database_url else get_settings()


DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL."),
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
    with database.write() as session:
        account = create_account(session, name, role)
        key = issue_api_key(session, account)
    out.print(f"account {account.id} ({account.role}) created; API key: {key}")


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the API (the database must be migrated)."""
    import os

    import uvicorn

    if database_url:
        os.environ["DATABASE_URL"] = database_url
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command("run")
def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """The main job: migrate, seed the demo unless present, print the admin key, serve."""
    from api.seed import seed_demo
    from db.migrate import upgrade
    from db.session import Database

    settings = _settings(database_url)
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    with database.write() as session:
        report = seed_demo(session)
    database.dispose()
    out.print(f"database: {settings.database_url} ({'seeded' if report.created else 'existing'})")
    out.print(f"admin API key: [bold]{report.admin_key}[/bold]")
    out.print(f"council member councillor API key: {report.councillor_key}")
    for name, key in report.trader_keys.items():
        out.print(f"trader {name} API key: {key}")
    out.print(
        f"welfare metric in force: {report.metric_version_id} "
        f"(GET /metric-versions/{report.metric_version_id})"
    )
    if report.proposal_id is not None:
        out.print(f"demo proposal: id {report.proposal_id} (GET /proposals/{report.proposal_id})")
    out.print(f"API docs: http://{host}:{port}/docs")
    serve(host=host, port=port, workers=1, database_url=settings.database_url)


def main() -> None:
    """Entry point: run the Typer app, turning deliberate errors into one line."""
    try:
        app(standalone_mode=False)
    except FutarchyError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as exc:  # click usage errors are handled by click; this is the rest
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
