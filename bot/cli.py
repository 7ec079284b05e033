"""The `msp-bot` command line: run the bot, manage the database and roles."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from bot.clock import system_clock
from bot.config import ConfigError, Settings, load_settings
from bot.domain.roles import Role
from bot.errors import BotError
from bot.logging_setup import configure_logging
from bot.services import staff
from storage import migrate
from storage.engine import Database

EXIT_CONFIG = 2
T = TypeVar("T")

cli = typer.Typer(
    help="msp-bot: a Managed Service Provider's Command Center in Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_cli = typer.Typer(help="Database migrations.", no_args_is_help=True)
roles_cli = typer.Typer(
    help="Staff roles, for the operator (bootstrap the first owner).", no_args_is_help=True
)
cli.add_typer(db_cli, name="db")
cli.add_typer(roles_cli, name="roles")


def _settings(*, require_slack: bool) -> Settings:
    try:
        settings = load_settings(require_slack=require_slack)
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    configure_logging(level=settings.log_level, log_format=settings.log_format)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@cli.command()
def run() -> None:
    """Bring the database to the latest migration, then serve Slack requests."""
    from bot.app import build_app
    from bot.server import serve

    settings = _settings(require_slack=True)
    migrate.upgrade(settings.database_url)
    asyncio.run(serve(build_app(settings)))


@cli.command("check-config")
def check_config() -> None:
    """Validate the configuration and check that the database answers."""
    settings = _settings(require_slack=True)
    database = Database(settings.database_url)
    typer.echo(f"Slack API:   {settings.slack_api_url}")
    typer.echo(
        f"Mode:        {'Socket Mode' if settings.socket_mode else 'HTTP (POST /slack/events)'}"
    )
    typer.echo(f"Listen on:   {settings.host}:{settings.port}")
    typer.echo(f"Database:    {database.safe_url()}")
    typer.echo(f"Owners:      {', '.join(sorted(settings.mspbot_owners)) or '(none)'}")
    typer.echo(f"Time zone:   {settings.mspbot_timezone}")
    try:
        current = asyncio.run(_current_revision(database))
    except Exception as error:
        raise _fail(f"Database:    NOT reachable ({type(error).__name__}: {error})") from None
    head = migrate.head_revision()
    state = "up to date" if current == head else f"needs `msp-bot db upgrade` (latest is {head})"
    typer.echo(f"Migrations:  at {current or 'none'}: {state}")
    typer.echo("Configuration OK.")


async def _current_revision(database: Database) -> str | None:
    try:
        return await migrate.current_revision(database.engine)
    finally:
        await database.dispose()


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = _settings(require_slack=False)
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"Database at {asyncio.run(_current_revision(Database(settings.database_url)))}.")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's migration revision and the latest one."""
    settings = _settings(require_slack=False)
    current = asyncio.run(_current_revision(Database(settings.database_url)))
    head = migrate.head_revision()
    typer.echo(f"current: {current or 'none'}\nlatest:  {head}")


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. base")],
) -> None:
    """Revert migrations down to REVISION."""
    settings = _settings(require_slack=False)
    migrate.downgrade(settings.database_url, revision)
    typer.echo(f"Database at {asyncio.run(_current_revision(Database(settings.database_url)))}.")


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on a fresh Database in its own event loop, closing it afterwards."""

    async def go() -> T:
        database = Database(settings.database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(go())


@roles_cli.command("grant")
def roles_grant(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
    user: Annotated[str, typer.Option("--user", help="Slack user id, e.g. U0123ABC")],
    role: Annotated[Role, typer.Option("--role", help="owner|admin|approver|member|viewer")],
) -> None:
    """Give a person a role in a workspace's MSP (creates the MSP if needed)."""
    settings = _settings(require_slack=False)
    migrate.upgrade(settings.database_url)

    async def grant(database: Database) -> staff.RoleChange:
        async with database.unit_of_work() as session:
            return await staff.grant_role_as_operator(
                session,
                team_id=team,
                target_user_id=user,
                new_role=role,
                timezone=settings.mspbot_timezone,
                now=system_clock(),
            )

    try:
        change = _with_database(settings, grant)
    except BotError as error:
        raise _fail(error.message) from None
    before = change.before.value if change.before else "none"
    typer.echo(
        f"{user} in {team}: {before} -> {role.value}" + ("" if change.changed else " (unchanged)")
    )


@roles_cli.command("list")
def roles_list(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id")],
) -> None:
    """List the staff of a workspace's MSP and their roles."""
    settings = _settings(require_slack=False)

    async def list_them(database: Database) -> list[staff.StaffEntry]:
        async with database.unit_of_work() as session:
            return await staff.list_staff_as_operator(session, team_id=team)

    entries = _with_database(settings, list_them)
    if not entries:
        typer.echo(f"No staff for {team} yet.")
    for entry in entries:
        typer.echo(f"{entry.user_id}\t{entry.role.value}")


def main() -> None:
    cli(prog_name="msp-bot")
    sys.exit(0)
