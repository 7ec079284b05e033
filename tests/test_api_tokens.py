"""API tokens: made, listed and revoked by the operator's CLI; only their hash is kept."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from bot.services import api_tokens
from bot.services.audit import OPERATOR_ACTOR, AuditAction
from storage.engine import Database
from storage.models import ApiToken, AuditEvent
from tests.drive import invoke_cli
from tests.rows import cli_rows
from tests.support import FakeClock


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def _create(env: dict[str, str], team: str = "T1", *extra: str) -> tuple[str, str]:
    """Run `tokens create`; returns (the token, everything printed)."""
    result = invoke_cli(["tokens", "create", "--team", team, *extra], env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    return token, result.output


_stored = cli_rows


def test_create_prints_the_token_once_and_stores_only_its_hash(env):
    token, output = _create(env, "T1", "--name", "RMM sync")
    assert token.startswith("mspbot_")
    assert len(token) == len("mspbot_") + 43  # token_urlsafe(32)
    assert output.count(token) == 1
    assert "will not be shown again" in output
    [row] = _stored(env, ApiToken)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:12]
    assert row.name == "RMM sync"
    assert row.created_by == OPERATOR_ACTOR


def test_the_audit_log_never_holds_the_token_or_its_hash(env):
    token, _ = _create(env, "T1", "--name", "PSA")
    revoked = invoke_cli(["tokens", "revoke", "--team", "T1", token[:12]], env)
    assert revoked.exit_code == 0, revoked.output
    events = [e for e in _stored(env, AuditEvent) if e.entity_type == "api_token"]
    assert [e.action for e in events] == [
        AuditAction.API_TOKEN_CREATED,
        AuditAction.API_TOKEN_REVOKED,
    ]
    assert all(e.actor == OPERATOR_ACTOR for e in events)
    assert events[0].after == {"id": 1, "name": "PSA", "prefix": token[:12], "revoked_at": None}
    assert events[1].before["revoked_at"] is None and events[1].after["revoked_at"]
    written = json.dumps([[e.before, e.after, e.note] for e in events])
    assert token not in written
    assert token[12:20] not in written
    assert hashlib.sha256(token.encode()).hexdigest() not in written


def test_list_shows_prefixes_and_status_never_the_token(env):
    first, _ = _create(env, "T1", "--name", "RMM")
    second, _ = _create(env, "T1")
    _create(env, "T2", "--name", "other MSP")
    invoke_cli(["tokens", "revoke", "--team", "T1", "1"], env)
    listed = invoke_cli(["tokens", "list", "--team", "T1"], env)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split("\t") == ["ID", "PREFIX", "NAME", "CREATED", "LAST USED", "STATUS"]
    assert lines[1].split("\t")[:3] == ["1", first[:12], "RMM"]
    assert lines[1].split("\t")[4] == "never"
    assert lines[1].split("\t")[5].startswith("revoked ")
    assert lines[2].split("\t")[:3] == ["2", second[:12], "-"]
    assert lines[2].endswith("\tactive")
    assert len(lines) == 3  # T2's token is not listed
    assert first not in listed.output and second not in listed.output


def test_list_for_a_workspace_without_tokens(env):
    assert "No API tokens for T9 yet." in invoke_cli(["tokens", "list", "--team", "T9"], env).output


def test_revoke_by_id_twice_says_it_was_already_revoked(env):
    _create(env, "T1", "--name", "RMM")
    first = invoke_cli(["tokens", "revoke", "--team", "T1", "1"], env)
    assert first.exit_code == 0, first.output
    assert "Revoked API token 1 'RMM'" in first.output
    again = invoke_cli(["tokens", "revoke", "--team", "T1", "1"], env)
    assert again.exit_code == 0
    assert "already revoked" in again.output
    revocations = [e for e in _stored(env, AuditEvent) if e.action == AuditAction.API_TOKEN_REVOKED]
    assert len(revocations) == 1


@pytest.mark.parametrize(
    ("team", "which", "says"),
    [
        ("T1", "99", "T1 has no API token with id 99."),
        ("T1", "mspbot_zzzzz", "no API token with prefix 'mspbot_zzzzz'"),
        ("T1", "mspbot_", "no API token with prefix"),
        ("T2", "1", "T2 has no API token with id 1."),  # another MSP's token
        ("T3", "1", "Workspace T3 has no MSP"),
    ],
)
def test_revoke_refuses_what_it_cannot_find(env, team, which, says):
    _create(env, "T1")
    _create(env, "T2")
    invoke_cli(["tokens", "revoke", "--team", "T2", "2"], env)  # T2's own token is id 2
    result = invoke_cli(["tokens", "revoke", "--team", team, which], env)
    assert result.exit_code == 1
    assert says in result.output
    assert "Traceback" not in result.output
    assert [t.revoked_at is None for t in _stored(env, ApiToken)] == [True, False]


def test_create_refuses_a_name_that_is_too_long(env):
    result = invoke_cli(["tokens", "create", "--team", "T1", "--name", "x" * 101], env)
    assert result.exit_code == 1
    assert "at most 100 characters" in result.output
    assert "Traceback" not in result.output
    assert _stored(env, ApiToken) == []


# The service, on each backend.


async def _new_token(db: Database, clock: FakeClock, team: str = "T1") -> api_tokens.NewToken:
    async with db.unit_of_work() as session:
        return await api_tokens.create_token(
            session,
            team_id=team,
            name="test",
            timezone="UTC",
            created_by=OPERATOR_ACTOR,
            now=clock(),
        )


async def _authenticate(db: Database, token: str, clock: FakeClock):
    async with db.unit_of_work() as session:
        return await api_tokens.authenticate(session, token=token, now=clock())


async def _last_used(db: Database, token_id: int):
    async with db.unit_of_work() as session:
        return (await session.get(ApiToken, token_id)).last_used_at


async def test_authenticate_finds_the_tokens_msp(backend, db, clock):
    created = await _new_token(db, clock, "T1")
    other = await _new_token(db, clock, "T2")
    caller = await _authenticate(db, created.token, clock)
    assert caller is not None and caller.token_id == created.id
    assert caller.actor == f"api:token:{created.id}"
    other_caller = await _authenticate(db, other.token, clock)
    assert other_caller is not None and other_caller.msp_id != caller.msp_id


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t + "x",
        lambda t: t[:-1],
        lambda t: t.upper(),
        lambda t: t.removeprefix("mspbot_"),
        lambda t: "",
        lambda t: "mspbot_" + "a" * 500,
    ],
)
async def test_authenticate_refuses_anything_but_the_token(backend, db, clock, transform):
    created = await _new_token(db, clock)
    assert await _authenticate(db, transform(created.token), clock) is None


async def test_a_revoked_token_no_longer_authenticates(backend, db, clock):
    created = await _new_token(db, clock)
    async with db.unit_of_work() as session:
        revoked = await api_tokens.revoke_token(
            session, team_id="T1", which=created.prefix, revoked_by=OPERATOR_ACTOR, now=clock()
        )
    assert not revoked.already_revoked and revoked.token.revoked
    assert await _authenticate(db, created.token, clock) is None


async def test_last_use_is_recorded_at_most_once_a_minute(backend, db, clock):
    created = await _new_token(db, clock)
    assert await _last_used(db, created.id) is None
    first_use = clock()
    await _authenticate(db, created.token, clock)
    assert await _last_used(db, created.id) == first_use
    clock.advance(seconds=59)
    await _authenticate(db, created.token, clock)
    assert await _last_used(db, created.id) == first_use
    clock.advance(seconds=1)
    await _authenticate(db, created.token, clock)
    assert await _last_used(db, created.id) == first_use + timedelta(minutes=1)
