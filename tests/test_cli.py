"""The operator's command line, driven as the operator runs it."""

from __future__ import annotations

import pytest

from storage import migrate
from tests.support import invoke_cli


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


def test_check_config_without_tokens_exits_2(env):
    result = invoke(["check-config"], env)
    assert result.exit_code == 2
    assert "Missing environment variables: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in result.output
