"""The `msp-bot` command line: run the bot, manage the database, roles and customers."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import system_clock
from bot.config import ConfigError, Settings, load_settings
from bot.config_reference import config_reference
from bot.delivery import webhooks
from bot.domain import msp_settings as grant_rules
from bot.domain.alerts import ReportedStatus, Severity
from bot.domain.customers import MAX_CUSTOMERS_OPTION
from bot.domain.roles import Role
from bot.domain.text import first_not_text, not_text_message
from bot.errors import BotError, InvalidInput
from bot.logging_setup import configure_logging
from bot.notify.notifiers import outbox_notifiers
from bot.results.settings import Grants, SettingsOverview
from bot.services import alerts, api_tokens, audit, customer_csv, staff
from bot.services import settings as msp_settings
from bot.services.settings import webhook_url_as_operator
from bot.services.tenancy import msp_of_team
from scheduler.jobs import RUNNABLE
from storage import backup, migrate, token_encryption
from storage.encryption import TokenCipher, UnreadableToken, new_key, split_keys
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
customers_cli = typer.Typer(
    help="Customers in and out of CSV files, for the operator (see docs/CSV.md).",
    no_args_is_help=True,
)
cli.add_typer(db_cli, name="db")
cli.add_typer(roles_cli, name="roles")
cli.add_typer(customers_cli, name="customers")
tokens_cli = typer.Typer(
    help="API tokens for the usage and alerts API, one set per MSP (see docs/API.md).",
    no_args_is_help=True,
)
cli.add_typer(tokens_cli, name="tokens")
webhooks_cli = typer.Typer(
    help="Outgoing webhooks: each MSP's signing key (see docs/DELIVERY.md).",
    no_args_is_help=True,
)
cli.add_typer(webhooks_cli, name="webhooks")
alerts_cli = typer.Typer(
    help="Alerts about customers, as other systems send them (see docs/API.md).",
    no_args_is_help=True,
)
cli.add_typer(alerts_cli, name="alerts")
scheduler_cli = typer.Typer(help="Run a scheduled job by hand.", no_args_is_help=True)
cli.add_typer(scheduler_cli, name="scheduler")
msp_cli = typer.Typer(
    help="An MSP's settings; sets what the vendor grants it (maximum customers, seat "
    "allowance, trial length). Its owners and admins set the rest with /msp settings.",
    no_args_is_help=True,
)
cli.add_typer(msp_cli, name="msp")
secrets_cli = typer.Typer(
    help="The keys the stored Slack tokens are encrypted with (see docs/OPERATIONS.md).",
    no_args_is_help=True,
)
cli.add_typer(secrets_cli, name="secrets")


def _settings(*, require_slack: bool) -> Settings:
    try:
        settings = load_settings(require_slack=require_slack)
    except ConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    configure_logging(
        level=settings.log_level,
        log_format=settings.log_format,
        secrets=settings.secret_values(),
    )
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
    encrypted = _upgrade_database(settings)
    if encrypted:
        typer.echo(f"Encrypted {encrypted} Slack token(s) stored in plain text.", err=True)
    asyncio.run(serve(build_app(settings)))


def _upgrade_database(settings: Settings, revision: str = "head") -> int:
    """Migrate, then encrypt the Slack tokens still stored in plain text (the key is a
    setting, out of the migrations' reach). Returns how many were encrypted."""
    migrate.upgrade(settings.database_url, revision)
    keys = settings.encryption_key
    if keys is None:
        return 0
    cipher = TokenCipher.from_setting(keys)

    async def encrypt(database: Database) -> int:
        if not await migrate.is_at_head(database.engine):
            return 0  # the token columns may not have room for ciphertext yet
        return await token_encryption.encrypt_plaintext_tokens(database, cipher)

    try:
        return _with_database(settings, encrypt)
    except UnreadableToken as error:
        raise _fail(str(error), EXIT_CONFIG) from None


@cli.command("config-reference")
def config_reference_command() -> None:
    """Print the configuration reference (every variable, its default and meaning)."""
    typer.echo(config_reference())


@cli.command("check-config")
def check_config() -> None:
    """Validate the configuration and check that the database answers."""
    settings = _settings(require_slack=True)
    database = Database(settings.database_url)
    typer.echo(f"Slack API:   {settings.slack_api_url}")
    typer.echo(
        f"Mode:        {'Socket Mode' if settings.socket_mode else 'HTTP (POST /slack/events)'}"
    )
    workspaces = (
        f"many (OAuth installs at /slack/install, client {settings.slack_client_id})"
        if settings.oauth_install
        else "one (SLACK_BOT_TOKEN)"
    )
    typer.echo(f"Workspaces:  {workspaces}")
    typer.echo(f"Listen on:   {settings.host}:{settings.port}")
    typer.echo(f"Database:    {database.safe_url()}")
    typer.echo(f"Owners:      {', '.join(sorted(settings.mspbot_owners)) or '(none)'}")
    typer.echo(f"Time zone:   {settings.mspbot_timezone}")
    try:
        current = asyncio.run(_current_revision(database))
    except Exception as error:  # report it, do not crash
        raise _fail(f"Database:    NOT reachable ({type(error).__name__}: {error})") from None
    head = migrate.head_revision()
    state = "up to date" if current == head else f"needs `msp-bot db upgrade` (latest is {head})"
    typer.echo(f"Migrations:  at {current or 'none'}: {state}")
    typer.echo(f"Tokens:      {_stored_tokens(settings, at_head=current == head)}")
    typer.echo("Configuration OK.")


def _stored_tokens(settings: Settings, *, at_head: bool) -> str:
    """How the stored Slack tokens are kept; refuses keys that cannot read them."""
    keys = settings.encryption_key
    if keys is None:
        return "none stored (one workspace: SLACK_BOT_TOKEN)"
    key_count = len(split_keys(keys))
    kept = f"encrypted with MSPBOT_ENCRYPTION_KEY ({key_count} key{'s' if key_count > 1 else ''})"
    if not at_head:
        return kept
    cipher = TokenCipher.from_setting(keys)

    async def survey(database: Database) -> token_encryption.TokenSurvey:
        return await token_encryption.survey_tokens(database, cipher)

    found = _with_database(settings, survey)
    try:
        token_encryption.refuse_unreadable(found)
    except UnreadableToken as error:
        raise _fail(f"Tokens:      {error}") from None
    plain = f"; {found.plain} in plain text (`msp-bot db upgrade` encrypts them)"
    return f"{kept}: {found.encrypted} stored" + (plain if found.plain else "")


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
    encrypted = _upgrade_database(settings, revision)
    if encrypted:
        typer.echo(f"Encrypted {encrypted} Slack token(s) stored in plain text.")
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


@db_cli.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file)")],
) -> None:
    """Copy the SQLite database while the bot runs (SQLite's online backup). For
    PostgreSQL, use pg_dump: it is the consistent copy there."""
    settings = _settings(require_slack=False)
    try:
        written = backup.backup_sqlite(settings.database_url, path)
    except backup.BackupRefused as refused:
        raise _fail(str(refused)) from None
    typer.echo(f"Backed up to {written} ({written.stat().st_size:,} bytes).")


def _in_one_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """What every command that reads or changes one MSP's book does: the schema
    brought up to date, `work` in one unit of work, and a refusal printed as one
    line with exit 1, never a traceback."""
    migrate.upgrade(settings.database_url)

    async def in_a_unit_of_work(database: Database) -> T:
        async with database.unit_of_work() as session:
            return await work(session)

    try:
        return _with_database(settings, in_a_unit_of_work)
    except BotError as error:
        raise _fail(error.message) from None


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

    async def grant(session: AsyncSession) -> staff.RoleChange:
        return await staff.grant_role_as_operator(
            session,
            team_id=team,
            target_user_id=user,
            new_role=role,
            timezone=settings.mspbot_timezone,
            now=system_clock(),
        )

    change = _in_one_transaction(settings, grant)
    before = change.before.value if change.before else "none"
    typer.echo(
        f"{user} in {team}: {before} -> {role.value}" + ("" if change.changed else " (unchanged)")
    )


@roles_cli.command("list")
def roles_list(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id")],
) -> None:
    """List the staff of a workspace's MSP and their roles."""
    entries = _in_one_transaction(
        _settings(require_slack=False),
        lambda session: staff.list_staff_as_operator(session, team_id=team),
    )
    if not entries:
        typer.echo(f"No staff for {team} yet.")
    for entry in entries:
        typer.echo(f"{entry.user_id}\t{entry.role.value}")


@msp_cli.command("show")
def msp_show(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
) -> None:
    """Every setting of a workspace's MSP, with its customers and seats in use."""
    overview: SettingsOverview = _in_one_transaction(
        _settings(require_slack=False),
        lambda session: msp_settings.settings_as_operator(session, team_id=team),
    )
    typer.echo("\n".join(_overview_lines(overview)))


@msp_cli.command("set")
def msp_set(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
    max_customers: Annotated[
        str | None,
        typer.Option(
            MAX_CUSTOMERS_OPTION,
            metavar="N",
            help="How many customers the MSP may manage (not below how many it has)",
        ),
    ] = None,
    seat_allowance: Annotated[
        str | None,
        typer.Option(
            grant_rules.SEAT_ALLOWANCE_OPTION,
            metavar="N|none",
            help="Licensed users across its paid customers, or none",
        ),
    ] = None,
    trial_days: Annotated[
        str | None,
        typer.Option(
            grant_rules.TRIAL_DAYS_OPTION,
            metavar="N",
            help=f"Days a new trial lasts ({grant_rules.MIN_TRIAL_DAYS}-"
            f"{grant_rules.MAX_TRIAL_DAYS}; running trials keep their end)",
        ),
    ] = None,
) -> None:
    """Set what the vendor grants a workspace's MSP (audited as operator:cli)."""
    try:
        change = _grants_change(max_customers, seat_allowance, trial_days)
    except BotError as error:
        raise _fail(error.message) from None
    result = _in_one_transaction(
        _settings(require_slack=False),
        lambda session: msp_settings.change_grants_as_operator(
            session, team_id=team, change=change, now=system_clock()
        ),
    )
    before, after = _grant_lines(result.before), _grant_lines(result.overview.grants)
    for label, old in before.items():
        new = after[label]
        typer.echo(f"{label}: {old} -> {new}" if new != old else f"{label}: {new} (unchanged)")
    overview = result.overview
    allowance = overview.grants.seat_allowance
    if allowance is not None and overview.billable_users > allowance:
        typer.echo(
            f"Note: {overview.billable_users:,} users on paid plans already, above the "
            "new seat allowance."
        )
    if not result.changed:
        typer.echo(f"Nothing changed for {team}.")


def _grants_change(
    max_customers: str | None, seat_allowance: str | None, trial_days: str | None
) -> msp_settings.GrantsChange:
    """The options given, each checked; refuses a call that changes nothing."""
    if max_customers is None and seat_allowance is None and trial_days is None:
        options = (MAX_CUSTOMERS_OPTION, grant_rules.SEAT_ALLOWANCE_OPTION)
        raise InvalidInput(
            f"Give what to set: {', '.join(options)} or {grant_rules.TRIAL_DAYS_OPTION} "
            "(`msp-bot msp show --team T...` shows them now)."
        )
    seats = _parsed_option(
        seat_allowance, grant_rules.parse_seat_allowance, grant_rules.SEAT_ALLOWANCE_OPTION
    )
    return msp_settings.GrantsChange(
        max_customers=_parsed_option(
            max_customers, grant_rules.parse_max_customers, MAX_CUSTOMERS_OPTION
        ),
        seat_allowance=seats,
        clear_seat_allowance=seat_allowance is not None and seats is None,
        trial_days=_parsed_option(
            trial_days, grant_rules.parse_trial_days, grant_rules.TRIAL_DAYS_OPTION
        ),
    )


def _parsed_option(text: str | None, parse: Callable[..., int | None], option: str) -> int | None:
    """The option's value as `parse` reads it; a refusal names the option."""
    if text is None:
        return None
    try:
        return parse(text, field=option)
    except InvalidInput as error:
        raise InvalidInput(f"{option}: {error.message}") from None


def _grant_lines(grants: Grants) -> dict[str, str]:
    seats = f"{grants.seat_allowance:,}" if grants.seat_allowance is not None else "none"
    return {
        "Max customers": f"{grants.max_customers:,}",
        "Seat allowance": seats,
        "Trial length": f"{grants.trial_days} days",
    }


def _overview_lines(overview: SettingsOverview) -> list[str]:
    grants, ours = overview.grants, overview.settings
    seats = f"{grants.seat_allowance:,}" if grants.seat_allowance is not None else "none"
    team = overview.team_id
    return [
        f"MSP of {team}",
        f"Granted by the vendor (msp-bot msp set --team {team} ...):",
        f"  Customers:          {overview.customers:,} / {grants.max_customers:,} max"
        f"  ({MAX_CUSTOMERS_OPTION})",
        f"  Seats:              {overview.billable_users:,} on paid plans / {seats} allowed"
        f"  ({grant_rules.SEAT_ALLOWANCE_OPTION})",
        f"  Trial length:       {grants.trial_days} days  ({grant_rules.TRIAL_DAYS_OPTION})",
        "Decided by its owners and admins in Slack (/msp settings):",
        f"  Time zone:          {ours.timezone}",
        f"  Default price:      ${ours.default_monthly_price:,.2f} a month for new customers",
        f"  Approvals channel:  {ours.approvals_channel or 'none (the owners, by DM)'}",
        f"  Self-approval:      {'allowed' if ours.allow_self_approval else 'not allowed'}",
        f"  Requests expire:    after {ours.request_expiry_days} days",
        f"  Trial notices:      {ours.trial_notice_days.replace(',', ', ')} days before the end",
        f"  Webhook:            {ours.webhook_url or 'none'}",
        "Ordered by its owners in Slack (/msp licence):",
        f"  MAU allowance:      {overview.mau_allowance:,}",
    ]


@customers_cli.command("import")
def customers_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="The CSV file (UTF-8; columns in docs/CSV.md)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row against the database; write nothing")
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the good rows even if others have problems"),
    ] = False,
) -> None:
    """Add the customers of a CSV file to a workspace's MSP (creates the MSP if needed),
    each with its status, trial dates, contract, price, users and past-due flag.

    Every row is checked first: if any has a problem, nothing is imported (exit 1)
    unless --skip-invalid is given. The good rows are then written in batches, each
    its own short transaction; rows an earlier run imported (same name and admin
    email) are left as they are, so an interrupted import is finished by running it
    again. --dry-run reports what would be created, left as it is, or refused.
    """
    settings = _settings(require_slack=False)
    now = system_clock()
    try:
        parsed = customer_csv.parse_customer_csv(
            file.read_bytes(), today=now.astimezone(ZoneInfo(settings.mspbot_timezone)).date()
        )
    except BotError as error:
        raise _fail(f"{file}: {error.message}") from None
    migrate.upgrade(settings.database_url)
    # On stderr, so stdout is only the report; without a terminal it prints its label once.
    with typer.progressbar(
        length=len(parsed.rows), label="Checking" if dry_run else "Importing", file=sys.stderr
    ) as bar:

        async def import_them(database: Database) -> customer_csv.ImportReport:
            return await customer_csv.import_customers_as_operator(
                database.unit_of_work,
                team_id=team,
                timezone=settings.mspbot_timezone,
                parsed=parsed,
                now=now,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                progress=bar.update,
            )

        try:
            report = _with_database(settings, import_them)
        except customer_csv.ImportRolledBack as rolled_back:
            report = rolled_back.report
        except BotError as error:
            raise _fail(error.message) from None
    _echo_import_report(report, team=team, skip_invalid=skip_invalid)
    if report.problems:
        raise typer.Exit(1)


def _echo_import_report(
    report: customer_csv.ImportReport, *, team: str, skip_invalid: bool
) -> None:
    for problem in report.problems:
        where = f"row {problem.row}" + (f", {problem.field}" if problem.field else "")
        typer.echo(f"{where}: {problem.reason}")
    good, total, bad = len(report.accepted), report.row_count, report.rows_with_problems
    others = f" (--skip-invalid would import the other {good:,})" if good else ""
    if report.already_there:
        typer.echo(
            f"Already imported: {len(report.already_there):,} rows name a customer with the "
            "same name and admin email; left as they are."
        )
    if not report.problems:
        verb = "would be imported" if report.dry_run else "imported"
        typer.echo(f"{good:,} customers {verb} into {team}.")
    elif report.dry_run and skip_invalid:
        typer.echo(
            f"Dry run: rows with problems: {bad:,} of {total:,}. With --skip-invalid they would "
            f"be skipped and {good:,} customers imported into {team}."
        )
    elif report.dry_run:
        typer.echo(
            f"Dry run: rows with problems: {bad:,} of {total:,}, so NOTHING would be "
            f"imported{others}."
        )
    elif not report.written:
        typer.echo(f"Rows with problems: {bad:,} of {total:,}. NOTHING was imported{others}.")
    else:
        typer.echo(
            f"Rows with problems: {bad:,} of {total:,}, skipped. "
            f"{good:,} customers imported into {team}."
        )
    if report.dry_run:
        typer.echo("Dry run: nothing was written.")


@customers_cli.command("export")
def customers_export(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)"),
    ] = None,
) -> None:
    """Write every customer of a workspace's MSP as CSV (UTF-8 with BOM, for Excel)."""
    settings = _settings(require_slack=False)
    if output is None:
        stdout = io.TextIOWrapper(
            typer.get_binary_stream("stdout"), encoding="utf-8", newline="", write_through=False
        )
        try:
            _in_one_transaction(settings, _export_to(stdout, team))
        finally:
            stdout.flush()
            stdout.detach()  # standard output stays open for whatever comes next
        return
    # Written beside the output and renamed onto it once complete, so a failure
    # halfway never leaves half a file under the name asked for.
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            _in_one_transaction(settings, _export_to(out, team))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    typer.echo(f"Wrote the customers of {team} to {output}.", err=True)


def _export_to(
    out: TextIO, team: str
) -> Callable[[AsyncSession], Awaitable[customer_csv.ExportSummary]]:
    """The customers written a batch at a time as they are read: memory stays the
    same whatever the number of customers."""
    return lambda session: customer_csv.write_customers_csv_as_operator(
        session, team_id=team, out=out
    )


@tokens_cli.command("create")
def tokens_create(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
    name: Annotated[
        str, typer.Option("--name", help="What the token is for, e.g. the sending system")
    ] = "",
) -> None:
    """Create an API token for a workspace's MSP (creates the MSP if needed).

    The token is printed once, alone on standard output, so a script can capture it.
    """
    settings = _settings(require_slack=False)
    created = _in_one_transaction(
        settings,
        lambda session: api_tokens.create_token(
            session,
            team_id=team,
            name=name,
            timezone=settings.mspbot_timezone,
            created_by=audit.OPERATOR_ACTOR,
            now=system_clock(),
        ),
    )
    label = f" {created.name!r}" if created.name else ""
    typer.echo(f"Created API token {created.id}{label} for {team} ({created.prefix}...).", err=True)
    typer.echo(created.token)
    typer.echo(
        "Copy it now: it will not be shown again (only its hash is stored). "
        "Send it as: Authorization: Bearer <token>",
        err=True,
    )


@tokens_cli.command("list")
def tokens_list(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id")],
) -> None:
    """List a workspace's API tokens (never the tokens themselves)."""
    tokens = _in_one_transaction(
        _settings(require_slack=False),
        lambda session: api_tokens.list_tokens(session, team_id=team),
    )
    if not tokens:
        typer.echo(f"No API tokens for {team} yet.")
        return
    typer.echo("ID\tPREFIX\tNAME\tCREATED\tLAST USED\tSTATUS")
    for token in tokens:
        status = f"revoked {_when(token.revoked_at)}" if token.revoked else "active"
        typer.echo(
            f"{token.id}\t{token.prefix}\t{token.name or '-'}\t{_when(token.created_at)}\t"
            f"{_when(token.last_used_at)}\t{status}"
        )


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@tokens_cli.command("revoke")
def tokens_revoke(
    which: Annotated[str, typer.Argument(help="The token's id or prefix (see `tokens list`)")],
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id")],
) -> None:
    """Revoke an API token: requests with it are refused from now on."""
    revoked = _in_one_transaction(
        _settings(require_slack=False),
        lambda session: api_tokens.revoke_token(
            session,
            team_id=team,
            which=which,
            revoked_by=audit.OPERATOR_ACTOR,
            now=system_clock(),
        ),
    )
    token = revoked.token
    label = f" {token.name!r}" if token.name else ""
    if revoked.already_revoked:
        typer.echo(
            f"API token {token.id}{label} ({token.prefix}...) of {team} was already revoked "
            f"({_when(token.revoked_at)})."
        )
    else:
        typer.echo(f"Revoked API token {token.id}{label} ({token.prefix}...) of {team}.")


@webhooks_cli.command("secret")
def webhooks_secret(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id, e.g. T0123ABC")],
) -> None:
    """Print the key a workspace's webhook receiver verifies X-MspBot-Signature with.

    It is derived from MSPBOT_WEBHOOK_SECRET and the team id (nothing is stored), so it
    is the same on every replica; the key alone goes to standard output.
    """
    settings = _settings(require_slack=False)
    secret = settings.webhook_secret
    if secret is None:
        raise _fail(
            "MSPBOT_WEBHOOK_SECRET is not set: webhooks are signed with keys derived from it. "
            "Set it (a long random string, the same on every replica), then run this again.",
            EXIT_CONFIG,
        )
    url = _in_one_transaction(
        settings, lambda session: webhook_url_as_operator(session, team_id=team)
    )
    typer.echo(f"Webhook signing key of {team} (webhook: {url or 'none set yet'}):", err=True)
    typer.echo(webhooks.signing_key(secret, team))
    typer.echo(
        "Give it to the receiving system only. Changing MSPBOT_WEBHOOK_SECRET changes it.",
        err=True,
    )


@alerts_cli.command("send")
def alerts_send(
    team: Annotated[str, typer.Option("--team", help="Slack team (workspace) id")],
    customer: Annotated[str, typer.Option("--customer", help="Account number or exact name")],
    kind: Annotated[str, typer.Option("--kind", help="What happened, e.g. backup_failed")],
    severity: Annotated[Severity, typer.Option("--severity", case_sensitive=False)],
    title: Annotated[str, typer.Option("--title", help="One line, at most 200 characters")],
    details: Annotated[str, typer.Option("--details")] = "",
    dedup_key: Annotated[
        str | None,
        typer.Option("--dedup-key", help="Repeats share it (default: KIND:ACCOUNT-NUMBER)"),
    ] = None,
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Report the alert as over instead")
    ] = False,
) -> None:
    """Send one alert about a customer, as the API would take it (source "cli")."""
    not_text = first_not_text(customer)
    if not_text is not None:  # a lookup key: PostgreSQL cannot even compare a NUL
        raise _fail(f"--customer: {not_text_message(not_text)}")
    report = alerts.AlertReport(
        customer=customer.strip(),
        kind=kind.strip(),
        severity=severity,
        title=title.strip(),
        details=details.strip(),
        dedup_key=dedup_key.strip() if dedup_key else None,
        status=ReportedStatus.RESOLVED if resolved else ReportedStatus.FIRING,
    )

    notifiers = outbox_notifiers()
    result = _in_one_transaction(
        _settings(require_slack=False),
        lambda session: alerts.send_as_operator(
            session, team_id=team, report=report, now=system_clock(), notifier=notifiers.alerts
        ),
    )
    typer.echo(_alert_outcome(result))


def _alert_outcome(result: alerts.AlertResult) -> str:
    ids = ", ".join(str(alert_id) for alert_id in result.ids)
    if result.reopened:
        return f"Reopened as a new alert {ids} (the last one was resolved)."
    if result.created:
        return f"Created alert {ids}."
    if result.updated:
        return f"Alert {ids} was already open: counted one more occurrence."
    if result.resolved:
        return f"Resolved alert {ids}."
    return "No open alert has that dedup key: nothing to resolve."


def main() -> None:
    cli(prog_name="msp-bot")
    sys.exit(0)


@scheduler_cli.command("run")
def scheduler_run(
    job: Annotated[str, typer.Argument(help="The job's id (see `msp-bot scheduler jobs`)")],
    team: Annotated[
        str | None, typer.Option("--team", help="Only this workspace's MSP (notice jobs)")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Run as if it were this moment (ISO, e.g. 2026-12-01T09:00Z)"),
    ] = None,
) -> None:
    """Run one job now, as the schedule would. Its messages wait in the outbox for
    the running bot to deliver them."""
    if job not in RUNNABLE:
        raise _fail(f"No job {job!r}. Jobs: {', '.join(sorted(RUNNABLE))}.")
    moment = _moment(now) if now else system_clock()
    settings = _settings(require_slack=False)
    migrate.upgrade(settings.database_url)
    notifiers = outbox_notifiers()

    async def go(database: Database) -> int:
        only = None
        if team is not None:
            async with database.unit_of_work() as session:
                only = [(await msp_of_team(session, team)).id]
        return await RUNNABLE[job](
            db=database, clock=lambda: moment, wake=lambda: None, notifiers=notifiers, only=only
        )

    try:
        done = _with_database(settings, go)
    except (BotError, ValueError) as error:
        raise _fail(getattr(error, "message", None) or str(error)) from None
    typer.echo(f"{job}: {done} done at {moment.isoformat()}.")


@secrets_cli.command("new-key")
def secrets_new_key() -> None:
    """Print a new random key for MSPBOT_ENCRYPTION_KEY (nothing is stored)."""
    typer.echo(new_key())


@secrets_cli.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored Slack token with the first key of MSPBOT_ENCRYPTION_KEY.

    Each token is decrypted with whichever key of the list opens it. Safe while the
    bot serves (row by row; a token rotated meanwhile is kept) and to run again.
    """
    settings = _settings(require_slack=False)
    keys = settings.encryption_key
    if keys is None:
        raise _fail(
            "MSPBOT_ENCRYPTION_KEY is not set: give the new key first, then the old ones "
            "(comma-separated), and run this again.",
            EXIT_CONFIG,
        )
    migrate.upgrade(settings.database_url)
    cipher = TokenCipher.from_setting(keys)

    async def rotate(database: Database) -> int:
        return await token_encryption.reencrypt_tokens(database, cipher)

    try:
        rewritten = _with_database(settings, rotate)
    except UnreadableToken as error:
        raise _fail(str(error), EXIT_CONFIG) from None
    typer.echo(
        f"Re-encrypted {rewritten} stored Slack token(s) with the first key; "
        "every stored token now opens with it alone."
    )


@scheduler_cli.command("jobs")
def scheduler_jobs() -> None:
    """The jobs `scheduler run` takes."""
    for name in sorted(RUNNABLE):
        typer.echo(name)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--now {text!r} is not an ISO time, e.g. 2026-12-01T09:00Z.") from None
    if moment.tzinfo is None:
        raise _fail("--now needs a time zone, e.g. 2026-12-01T09:00Z or +01:00.")
    return moment.astimezone(UTC)
