"""The operator's command line, driven as the operator runs it."""

from __future__ import annotations

import pytest

from storage import migrate
from tests.drive import invoke_cli
from tests.support import ENCRYPTION_KEY


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


invoke = invoke_cli


def test_roles_grant_and_list(env):
    granted = invoke(["roles", "grant", "--team", "T1", "--user", "U1", "--role", "owner"], env)
    assert granted.exit_code == 0, granted.output
    assert "U1 in T1: none -> owner" in granted.output
    invoke(["roles", "grant", "--team", "T1", "--user", "U2", "--role", "viewer"], env)
    listed = invoke(["roles", "list", "--team", "T1"], env)
    assert listed.output.splitlines() == ["U1\towner", "U2\tviewer"]
    assert "No staff for T2" in invoke(["roles", "list", "--team", "T2"], env).output


def test_roles_grant_refuses_to_demote_the_last_owner(env):
    invoke(["roles", "grant", "--team", "T1", "--user", "U1", "--role", "owner"], env)
    demoted = invoke(["roles", "grant", "--team", "T1", "--user", "U1", "--role", "admin"], env)
    assert demoted.exit_code == 1
    assert "last owner" in demoted.output
    assert "U1\towner" in invoke(["roles", "list", "--team", "T1"], env).output


def test_roles_grant_rejects_unknown_roles(env):
    result = invoke(["roles", "grant", "--team", "T1", "--user", "U1", "--role", "king"], env)
    assert result.exit_code == 2


def test_db_upgrade_current_downgrade(env):
    head = migrate.head_revision()
    assert f"Database at {head}" in invoke(["db", "upgrade"], env).output
    assert f"current: {head}" in invoke(["db", "current"], env).output
    assert "Database at 0001" in invoke(["db", "downgrade", "0001"], env).output
    assert "Database at None" in invoke(["db", "downgrade", "base"], env).output
    assert "current: none" in invoke(["db", "current"], env).output


def test_check_config(env):
    full = {**env, "SLACK_BOT_TOKEN": "xoxb-cli-secret", "SLACK_SIGNING_SECRET": "cli-secret"}
    invoke(["db", "upgrade"], full)
    result = invoke(["check-config"], full)
    assert result.exit_code == 0, result.output
    assert "Configuration OK." in result.output
    assert "up to date" in result.output
    assert "cli-secret" not in result.output


def test_check_config_in_distribution_mode_needs_no_bot_token(env):
    oauth = {
        **env,
        "SLACK_SIGNING_SECRET": "cli-secret",
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_CLIENT_SECRET": "cli-client-secret",
        "MSPBOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    invoke(["db", "upgrade"], oauth)
    result = invoke(["check-config"], oauth)
    assert result.exit_code == 0, result.output
    assert "Workspaces:  many (OAuth installs at /slack/install, client 1111.2222)" in result.output
    assert "cli-client-secret" not in result.output


def test_distribution_mode_wants_both_client_credentials(env):
    half = {**env, "SLACK_SIGNING_SECRET": "cli-secret", "SLACK_CLIENT_ID": "1111.2222"}
    result = invoke(["check-config"], half)
    assert result.exit_code == 2
    assert "Missing environment variables: SLACK_CLIENT_ID" not in result.output
    assert "Missing environment variables: SLACK_CLIENT_SECRET" in result.output


def test_check_config_without_tokens_exits_2(env):
    result = invoke(["check-config"], env)
    assert result.exit_code == 2
    assert "Missing environment variables: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in result.output


def test_alerts_send_creates_repeats_resolves_and_reopens(env, tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text("name,admin_email\nAcme Dental,admin@acme.example\n")
    assert invoke(["customers", "import", str(customers), "--team", "T1"], env).exit_code == 0
    send = ["alerts", "send", "--team", "T1", "--customer", "acme dental", "--kind", "disk_full"]
    alert = [*send, "--severity", "HIGH", "--title", "Disk full on FS01"]
    created = invoke(alert, env)
    assert created.exit_code == 0, created.output
    assert created.output.startswith("Created alert ")
    assert "already open: counted one more occurrence" in invoke(alert, env).output
    assert "Resolved alert" in invoke([*alert, "--resolved"], env).output
    assert "nothing to resolve" in invoke([*alert, "--resolved"], env).output
    assert "Reopened as a new alert" in invoke([*alert, "--details", "Again"], env).output


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (["--customer", "Nobody"], "No customer Nobody in this MSP. Nothing was recorded."),
        (["--customer", "Acme\x1bDental"], "--customer: "),
        (["--team", "T9"], "No MSP for T9 yet"),
        (["--title", "t" * 201], "title can be at most 200 characters"),
        (["--title", " "], "Give the title."),
    ],
)
def test_alerts_send_refusals_exit_1(env, tmp_path, changes, says):
    customers = tmp_path / "customers.csv"
    customers.write_text("name,admin_email\nAcme Dental,admin@acme.example\n")
    invoke(["customers", "import", str(customers), "--team", "T1"], env)
    base = {"--team": "T1", "--customer": "Acme Dental", "--title": "Disk full"}
    base.update(dict(zip(changes[::2], changes[1::2], strict=True)))
    args = ["alerts", "send", "--kind", "disk_full", "--severity", "low"]
    result = invoke([*args, *(part for pair in base.items() for part in pair)], env)
    assert result.exit_code == 1, result.output
    assert says in result.output


def test_alerts_send_rejects_an_unknown_severity(env):
    args = ["--team", "T1", "--customer", "A", "--kind", "k", "--title", "t"]
    result = invoke(["alerts", "send", *args, "--severity", "dire"], env)
    assert result.exit_code == 2


def test_db_backup_copies_the_sqlite_database_and_refuses_what_it_cannot(cli_env, tmp_path):
    import sqlite3

    granted = invoke_cli(
        ["roles", "grant", "--team", "T0B", "--user", "U0B", "--role", "owner"], cli_env
    )
    assert granted.exit_code == 0, granted.output
    target = tmp_path / "copy.db"
    done = invoke_cli(["db", "backup", str(target)], cli_env)
    assert done.exit_code == 0, done.output
    assert f"Backed up to {target}" in done.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("select slack_user_id from staff_members").fetchall() == [("U0B",)]
    assert not (tmp_path / "copy.db.partial").exists()
    again = invoke_cli(["db", "backup", str(target)], cli_env)
    assert again.exit_code == 1 and "exists already" in again.output
    nowhere = invoke_cli(["db", "backup", str(tmp_path / "no" / "such" / "x.db")], cli_env)
    assert nowhere.exit_code == 1 and "does not exist" in nowhere.output
    postgres = {**cli_env, "DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:1/x"}
    refused = invoke_cli(["db", "backup", str(tmp_path / "pg.db")], postgres)
    assert refused.exit_code == 1 and "pg_dump" in refused.output
