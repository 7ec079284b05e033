"""Re-encrypting the stored tokens with a new key (`msp-bot secrets rotate`) while a
replica rotates those same tokens (Slack's token rotation): no token the replica
saved is overwritten by the re-encryption's older copy, every stored value ends up
readable with the new key alone, and every workspace can still refresh its token
(its stored refresh token is the live one, the old one being revoked by Slack).

The worst interleaving is forced for every workspace: the re-encryption runs as the
operator's command does (its own thread, event loop and connections), and right
after it has read a workspace's row, before it writes it back, the replica rotates
that workspace's token and saves it. Figures: docs/RELIABILITY.md."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event, select

from bot.oauth import build_installs
from storage import token_encryption
from storage.encryption import TokenCipher
from storage.engine import Database
from storage.models import SLACK_BOTS
from tests.test_oauth import expire_soon, install, refreshes
from tests.test_secrets_at_rest import (
    NEW_KEY,
    OLD_KEY,
    distribution_settings,
    raw_secrets,
)
from tests.test_secrets_at_rest import (
    bot as bot,  # the distribution-mode app, encrypting with OLD_KEY
)
from tests.test_secrets_at_rest import (
    settings as settings,
)

pytestmark = pytest.mark.resilience
WORKSPACES = [f"T0WS{n:02d}" for n in range(12)]
# The re-encryption reads each row once to check every key opens it, then again to
# rewrite it: the replica steps in after that second read.
REWRITE_READ = 2


async def test_rotating_the_key_while_a_replica_rotates_tokens_loses_no_token(
    client, db, fake_slack, database_url, backend
):
    fake_slack.token_rotation = True
    for team_id in WORKSPACES:
        await install(client, fake_slack, team_id=team_id, user_id=f"U0{team_id}")
        await expire_soon(db, team_id)
    async with db.unit_of_work() as session:
        team_of_row = dict(
            (await session.execute(select(SLACK_BOTS.c.id, SLACK_BOTS.c.team_id))).all()
        )
    both = distribution_settings(fake_slack, database_url, f"{NEW_KEY},{OLD_KEY}")
    replica = build_installs(both, db, AsyncWebClient(base_url=fake_slack.base_url))
    serving = asyncio.get_running_loop()
    reads: Counter[int] = Counter()
    stepped_in: list[str] = []

    def replica_saves_meanwhile(_conn, _cursor, statement: str, parameters: Any, *_: Any) -> None:
        """On the operator's thread, after it read one slack_bots row to rewrite it."""
        if not statement.lstrip().upper().startswith("SELECT") or "slack_bots" not in statement:
            return
        row_id = _row_id(parameters)
        if row_id is None:
            return
        reads[row_id] += 1
        if reads[row_id] == REWRITE_READ:
            team_id = team_of_row[row_id]
            rotation = replica.tokens.token_for(team_id)
            asyncio.run_coroutine_threadsafe(rotation, serving).result(timeout=30)
            stepped_in.append(team_id)

    def operator_command() -> int:
        async def rotate() -> int:
            operator = Database(database_url)
            event.listen(
                operator.engine.sync_engine, "after_cursor_execute", replica_saves_meanwhile
            )
            try:
                return await token_encryption.reencrypt_tokens(
                    operator, TokenCipher([NEW_KEY, OLD_KEY])
                )
            finally:
                await operator.dispose()

        return asyncio.run(rotate())

    rewritten = await asyncio.to_thread(operator_command)

    assert sorted(stepped_in) == sorted(WORKSPACES)  # the race happened for every one
    latest = {team_id: fake_slack.tokens_of(team_id)[-1] for team_id in WORKSPACES}
    assert all(len(fake_slack.tokens_of(team_id)) == 2 for team_id in WORKSPACES)
    stored = await raw_secrets(db)
    assert all(TokenCipher([NEW_KEY]).readable(value) for value in stored)
    new_only = distribution_settings(fake_slack, database_url, NEW_KEY)
    fresh = build_installs(new_only, db, AsyncWebClient(base_url=fake_slack.base_url))
    for team_id in WORKSPACES:
        assert await fresh.tokens.token_for(team_id) == latest[team_id]

    # The stored refresh tokens are the live ones: one more rotation works everywhere.
    before = refreshes(fake_slack)
    for team_id in WORKSPACES:
        await expire_soon(db, team_id)
    fresh = build_installs(new_only, db, AsyncWebClient(base_url=fake_slack.base_url))
    for team_id in WORKSPACES:
        assert await fresh.tokens.token_for(team_id) == fake_slack.tokens_of(team_id)[-1]
    assert refreshes(fake_slack) - before == len(WORKSPACES)
    print(
        f"\nkey rotation racing token rotation ({backend}): {len(WORKSPACES)} workspaces, "
        f"a replica's save between every read and write; {rewritten} values re-encrypted "
        f"(the installs' copies), the replica's {len(stepped_in)} new tokens kept, "
        "every refresh token live"
    )


def _row_id(parameters: Any) -> int | None:
    """The id a `SELECT ... WHERE slack_bots.id = ?` is for (a one-row read)."""
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters or ())
    ids = [value for value in values if isinstance(value, int) and not isinstance(value, bool)]
    return ids[0] if len(ids) == 1 else None
