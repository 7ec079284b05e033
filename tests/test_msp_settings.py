"""An MSP's settings: what the vendor grants it, set by the operator's command line
(`msp-bot msp show|set`), and what it decides itself, set by its owners and admins
with `/msp settings` (time zone, default price, and the request settings)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.customers import CustomerField, trial_end
from bot.domain.msp_settings import parse_default_price, parse_seat_allowance, parse_timezone
from bot.domain.roles import Role
from bot.errors import InvalidInput
from bot.services.audit import OPERATOR_ACTOR, AuditAction
from storage.engine import Database
from storage.models import AuditEvent, Customer, Msp
from tests.drive import add_customer, all_text, calls_to, invoke_cli, post, submit_add
from tests.rows import cli_rows
from tests.seed import grant, set_max_customers
from tests.support import TEAM_ID

OWNER, ADMIN, APPROVER = "U0001", "U0002", "U0003"
RAISE_MAXIMUM = f"msp-bot msp set --team {TEAM_ID} --max-customers N"


@pytest.fixture
def env(cli_env: dict[str, str], database_url: str) -> dict[str, str]:
    """The command line on this test's database (SQLite, or PostgreSQL when given)."""
    return {**cli_env, "DATABASE_URL": database_url}


def _csv(tmp_path: Path, count: int, *, first: int = 0) -> Path:
    rows = [f"Customer {n},c{n}@example.com" for n in range(first, first + count)]
    path = tmp_path / f"customers-{first}-{count}.csv"
    path.write_text("name,admin_email\n" + "\n".join(rows) + "\n")
    return path


def _import(env: dict[str, str], csv: Path) -> None:
    imported = invoke_cli(["customers", "import", str(csv), "--team", "T1"], env)
    assert imported.exit_code == 0, imported.output


def _owner_of(env: dict[str, str], team: str = "T1") -> None:
    granted = invoke_cli(["roles", "grant", "--team", team, "--user", "U1", "--role", "owner"], env)
    assert granted.exit_code == 0, granted.output


# ---------------------------------------------------------------- the operator's command line


def test_msp_show_lists_every_setting_with_what_counts_against_the_grants(env, tmp_path, backend):
    _owner_of(env)
    _import(env, _csv(tmp_path, 3))
    shown = invoke_cli(["msp", "show", "--team", "T1"], env)
    assert shown.exit_code == 0, shown.output
    lines = [line.split("(")[0].split() for line in shown.output.splitlines()]
    assert ["Customers:", "3", "/", "100", "max"] in lines
    assert ["Seats:", "0", "on", "paid", "plans", "/", "none", "allowed"] in lines
    assert ["Trial", "length:", "30", "days"] in lines
    assert ["Time", "zone:", "UTC"] in lines
    assert ["Default", "price:", "$75.00", "a", "month", "for", "new", "customers"] in lines
    for setting in ("Approvals channel:", "Self-approval:", "Trial notices:", "Webhook:"):
        assert setting in shown.output


def test_msp_set_changes_the_vendors_grants_audited_as_the_operator(env, tmp_path, backend):
    _owner_of(env)
    args = ["msp", "set", "--team", "T1", "--max-customers", "1,000", "--trial-days", "14"]
    changed = invoke_cli([*args, "--seat-allowance", "250"], env)
    assert changed.exit_code == 0, changed.output
    assert changed.output.splitlines() == [
        "Max customers: 100 -> 1,000",
        "Seat allowance: none -> 250",
        "Trial length: 30 days -> 14 days",
    ]
    [msp] = cli_rows(env, Msp)
    assert (msp.max_customers, msp.seat_allowance, msp.trial_days) == (1000, 250, 14)
    [event] = [e for e in cli_rows(env, AuditEvent) if e.action == AuditAction.SETTINGS_UPDATED]
    assert (event.actor, event.entity_id) == (OPERATOR_ACTOR, "T1")
    assert event.before == {"max_customers": 100, "seat_allowance": None, "trial_days": 30}
    assert event.after == {"max_customers": 1000, "seat_allowance": 250, "trial_days": 14}

    # A trial that starts from now on lasts the new length (R4).
    _import(env, _csv(tmp_path, 1))
    [trial] = cli_rows(env, Customer)
    assert trial.trial_end == trial_end(trial.trial_start, days=14)

    cleared = invoke_cli(["msp", "set", "--team", "T1", "--seat-allowance", "none"], env)
    assert "Seat allowance: 250 -> none" in cleared.output
    same = invoke_cli(["msp", "set", "--team", "T1", "--trial-days", "14"], env)
    assert same.exit_code == 0 and "Nothing changed for T1." in same.output
    events = [e for e in cli_rows(env, AuditEvent) if e.action == AuditAction.SETTINGS_UPDATED]
    assert [e.after["seat_allowance"] for e in events] == [250, None]  # nothing for "same"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--max-customers", "2"], "The MSP has 3 customers now, so its maximum cannot go below 3"),
        (["--max-customers", "0"], "--max-customers: The maximum number of customers must be at"),
        (["--max-customers", "lots"], "--max-customers: The maximum number of customers must be a"),
        (["--seat-allowance", "-1"], "--seat-allowance: The seat allowance must be at least 1"),
        (["--trial-days", "366"], "--trial-days: The trial length in days can be at most 365"),
        (["--trial-days", "0", "--max-customers", "5"], "--trial-days: The trial length"),
        ([], "Give what to set: --max-customers, --seat-allowance or --trial-days"),
        (["--team", "T9", "--trial-days", "5"], "No MSP for T9 yet"),
    ],
)
def test_msp_set_refusals_exit_1_and_change_nothing(env, tmp_path, options, says):
    _owner_of(env)
    _import(env, _csv(tmp_path, 3))
    refused = invoke_cli(["msp", "set", "--team", "T1", *options], env)
    assert refused.exit_code == 1, refused.output
    assert says in refused.output
    [msp] = cli_rows(env, Msp)
    assert (msp.max_customers, msp.seat_allowance, msp.trial_days) == (100, None, 30)


def test_msp_show_of_an_unknown_team_says_how_it_comes_to_be(env):
    shown = invoke_cli(["msp", "show", "--team", "T9"], env)
    assert shown.exit_code == 1
    assert "No MSP for T9 yet" in shown.output and "msp-bot roles grant --team T9" in shown.output


def test_an_import_past_the_maximum_names_the_command_that_raises_it(env, tmp_path, backend):
    """The default maximum is 100: the import says how to raise it, and then fits."""
    _owner_of(env)
    big = _csv(tmp_path, 101)
    refused = invoke_cli(["customers", "import", str(big), "--team", "T1"], env)
    assert refused.exit_code == 1
    assert "row 102: Your MSP already manages 100 of its 100 customers" in refused.output
    assert "msp-bot msp set --team T1 --max-customers N" in refused.output
    assert invoke_cli(["msp", "set", "--team", "T1", "--max-customers", "150"], env).exit_code == 0
    imported = invoke_cli(["customers", "import", str(big), "--team", "T1"], env)
    assert imported.exit_code == 0, imported.output
    assert "101 customers imported into T1." in imported.output


# ---------------------------------------------------------------- Slack: /msp settings


@pytest.fixture
async def staff(db: Database) -> None:
    await grant(db, OWNER, Role.OWNER)
    await grant(db, ADMIN, Role.ADMIN)
    await grant(db, APPROVER, Role.APPROVER)


async def _msp(db: Database) -> Msp:
    async with db.unit_of_work() as session:
        msp = await session.scalar(select(Msp).where(Msp.team_id == TEAM_ID))
    assert msp is not None
    return msp


async def _settings_events(db: Database) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        events = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.SETTINGS_UPDATED)
            .order_by(AuditEvent.id)
        )
        return list(events.all())


async def test_settings_alone_shows_every_setting_and_how_to_change_it(client, slack, db, staff):
    await set_max_customers(db, 40)
    reply = await post(client, slack.slash_command("settings", user_id=ADMIN))
    text = all_text(reply.json["blocks"])
    for shown in (
        "*Requests go to* the owners, by DM",
        "*Approving your own requests* not allowed",
        "*Pending requests expire after* 7 days",
        "*Webhook for decisions* none",
        "*Trial notices* 7, 3, 1 days before a trial ends",
        "*Time zone* UTC · `/msp settings timezone Europe/Berlin`",
        "*Default price per licence* $75.00 a month, for new customers · `/msp settings price 75`",
        "*Max customers* 40 (0 now)\n",
        "*Seat allowance* none (0 users on paid plans now)\n",
        "*Trial length* 30 days (for trials that start from now on)\n",
    ):
        assert shown in text
    # What the vendor grants: whom to ask in the text; the operator's command only in a
    # line addressed to them.
    assert "The person who runs msp-bot (the operator) sets these: ask them" in text
    [for_operator] = [line for line in text.splitlines() if "msp-bot msp set" in line]
    assert for_operator == (
        f"For the operator: `msp-bot msp set --team {TEAM_ID}` with `--max-customers N`, "
        "`--seat-allowance N|none` or `--trial-days N`."
    )


async def test_a_change_says_what_changed_or_that_nothing_did(client, slack, db, staff):
    changed = await post(client, slack.slash_command("settings trial-notices 7,3", user_id=OWNER))
    first = changed.json["blocks"][0]["text"]["text"].splitlines()[0]
    assert first == ":white_check_mark: Settings saved: *Trial notices* 7, 3, 1 days → 7, 3 days"
    assert "Settings saved" in changed.json["text"]  # the notification says what changed
    assert "7, 3, 1 days → 7, 3 days" in changed.json["text"]
    again = await post(client, slack.slash_command("settings trial-notices 7,3", user_id=ADMIN))
    first = again.json["blocks"][0]["text"]["text"].splitlines()[0]
    assert first == ":information_source: Nothing changed: *Trial notices* stays 7, 3 days."
    channel = await post(
        client, slack.slash_command("settings approvals <#C0APPROVE|approvals>", user_id=OWNER)
    )
    assert channel.json["blocks"][0]["text"]["text"].startswith(
        ":white_check_mark: Settings saved: *Requests go to* the owners, by DM (no approvals "
        "channel set) → <#C0APPROVE>\n"
    )
    assert len(await _settings_events(db)) == 2  # nothing changed is not audited


async def test_owners_and_admins_set_the_time_zone_and_default_price_audited(
    client, slack, db, staff, fake_slack
):
    zone = await post(client, slack.slash_command("settings timezone europe/berlin", user_id=OWNER))
    assert "*Time zone* Europe/Berlin" in all_text(zone.json["blocks"])
    price = await post(client, slack.slash_command("settings price $80.50", user_id=ADMIN))
    assert "*Default price per licence* $80.50 a month" in all_text(price.json["blocks"])
    msp = await _msp(db)
    assert (msp.timezone, msp.default_monthly_price_cents) == ("Europe/Berlin", 8050)
    by_zone, by_price = await _settings_events(db)
    assert by_zone.actor == OWNER and by_zone.entity_id == TEAM_ID
    assert (by_zone.before["timezone"], by_zone.after["timezone"]) == ("UTC", "Europe/Berlin")
    assert by_price.actor == ADMIN
    assert (by_price.before["default_monthly_price"], by_price.after["default_monthly_price"]) == (
        "75.00",
        "80.50",
    )
    # R18: a new customer starts at the MSP's default price.
    await post(client, slack.slash_command("add", user_id=OWNER))
    [opened] = await calls_to(fake_slack, "views.open")
    form = {block["block_id"]: block for block in opened.args["view"]["blocks"]}
    assert "a licence costs $80.50 a month" in form[CustomerField.PLAN]["hint"]["text"]
    await add_customer(client, slack, user_id=OWNER, price=None)
    async with db.unit_of_work() as session:
        [customer] = (await session.scalars(select(Customer))).all()
    assert customer.unit_price_cents == 8050


@pytest.mark.parametrize(
    ("words", "says"),
    [
        ("timezone Mars/Olympus", '"Mars/Olympus" is not a time zone name'),
        ("timezone CEST", "For example /msp settings timezone Europe/Berlin"),
        ("timezone localtime", "use an IANA name such as Europe/Berlin"),
        ("price 0", "The default price per licence must be more than $0."),
        ("price -5", "cannot be negative"),
        ("price 75.555", "at most two decimals"),
        ("price 100001", "at most $100,000"),
        ("price 75,50", "Use a decimal point"),
        ("price seventy", "For example /msp settings price 75"),
        ("price", "/msp settings price 75"),
    ],
)
async def test_a_bad_time_zone_or_price_is_refused_with_an_example(
    client, slack, db, staff, words, says
):
    reply = await post(client, slack.slash_command(f"settings {words}", user_id=OWNER))
    assert says in reply.json["text"]
    msp = await _msp(db)
    assert (msp.timezone, msp.default_monthly_price_cents) == ("UTC", 7500)
    assert await _settings_events(db) == []


async def test_only_owners_and_admins_change_them(client, slack, db, staff):
    reply = await post(
        client, slack.slash_command("settings timezone Asia/Tokyo", user_id=APPROVER)
    )
    # Their role in plain words, and who may use it.
    assert all_text(reply.json["blocks"]) == (
        ":no_entry: You are an approver, so you cannot use /msp settings: "
        "only owners and admins can."
    )
    assert (await _msp(db)).timezone == "UTC"


async def test_the_add_refusal_at_the_maximum_names_the_command_that_raises_it(
    client, slack, db, staff, fake_slack
):
    """R3, in Slack: staff cannot raise the maximum, so the refusal says whom to ask,
    not a command line they cannot run (the operator's import names it: above)."""
    await add_customer(client, slack, user_id=OWNER, name="One", email="one@x.com")
    await set_max_customers(db, 1)
    refused = await post(client, slack.slash_command("add", user_id=OWNER))
    said = all_text(refused.json["blocks"])
    assert said == (
        ":no_entry: Your MSP already manages 1 of its 1 customers, the most it may have. Remove "
        "a customer first, or ask the person who runs msp-bot (the operator) to raise the limit."
    )
    late = await submit_add(client, slack, user_id=OWNER, name="Two", email="two@x.com")
    error = late.json["errors"][CustomerField.NAME]
    assert "ask the person who runs msp-bot (the operator)" in error
    assert "msp-bot msp set" not in error


# ---------------------------------------------------------------- the rules


def test_time_zones_are_iana_names_in_any_case():
    assert parse_timezone(" america/new_york ", field="tz") == "America/New_York"
    assert parse_timezone("UTC", field="tz") == "UTC"
    for not_a_place in ("Factory", "localtime", "posixrules", "", "Europe/", "../etc/passwd"):
        with pytest.raises(InvalidInput):
            parse_timezone(not_a_place, field="tz")


def test_the_default_price_is_dollars_and_cents_above_zero():
    assert parse_default_price("75", field="price") == Decimal("75.00")
    assert parse_default_price("$1,250.5", field="price") == Decimal("1250.50")
    for bad in ("0", "0.00", "", "-1", "NaN", "100000.01"):
        with pytest.raises(InvalidInput):
            parse_default_price(bad, field="price")


def test_a_seat_allowance_is_a_number_or_none():
    assert parse_seat_allowance("NONE", field="s") is None
    assert parse_seat_allowance("1,500", field="s") == 1500
    for bad in ("0", "1.5", "100000001"):
        with pytest.raises(InvalidInput):
            parse_seat_allowance(bad, field="s")
