"""Slack tokens are stored encrypted (distribution mode): what an OAuth install and a
token rotation write holds no token, the bot still works with what it stored, rows
stored in plain text before are encrypted by the upgrade, `msp-bot secrets rotate`
moves every token to the first key, and a missing or wrong key is a clear error.

The database's own rows are read raw (the models' tables, no decryption), as
someone holding a copy of the database would read them."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from bot.config import Settings
from storage.encryption import TokenCipher, UnreadableToken, looks_encrypted
from storage.installation_store import EncryptedInstallationStore
from storage.models import SLACK_BOTS, SLACK_INSTALLATIONS, OutboxItem, secret_columns
from storage.repositories import installs as install_repo
from tests.drive import invoke_cli, post
from tests.support import ENCRYPTION_KEY, FAST_DELIVERY, SIGNING_SECRET, distribution_settings
from tests.test_oauth import (
    ACME,
    add_customer_shortcut,
    expire_soon,
    install,
    queue_post,
    refreshes,
    tokens_used,
)
from tests.wait import settle_bot

OLD_KEY = ENCRYPTION_KEY
NEW_KEY = "4fUyIV6ozCSETgjXZeILEIG55aQf7kl9ZXU_tim85wI="
UNRELATED_KEY = "RqHHbIxGFBUXyYgsxFRMlNapaRYRbCY9SbMTH0dIWOY="


@pytest.fixture
def settings(fake_slack, database_url) -> Settings:
    return distribution_settings(fake_slack, database_url, OLD_KEY)


@pytest.fixture
async def bot(settings, db, clock):
    from bot.app import build_app

    return build_app(settings, clock=clock, db=db, delivery_limits=FAST_DELIVERY)


@pytest.fixture
def cli(cli_env, database_url, fake_slack):
    """`msp-bot` against the test's database, in distribution mode."""
    env = {
        **cli_env,
        "DATABASE_URL": database_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CLIENT_ID": fake_slack.client_id,
        "SLACK_CLIENT_SECRET": fake_slack.client_secret,
        "SLACK_API_URL": fake_slack.base_url,
    }

    async def run(args: list[str], *, key: str | None):
        with_key = {**env, "MSPBOT_ENCRYPTION_KEY": key} if key else env
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            # The commands run their own event loop: off this one.
            return await asyncio.to_thread(invoke_cli, args, with_key)
        finally:  # the command set up logging to its own, now closed, output
            root.handlers[:], root.level = handlers, level

    return run


async def raw_secrets(db) -> list[str]:
    """Every credential value stored, exactly as the database holds it."""
    values: list[str] = []
    async with db.unit_of_work() as session:
        for table in (SLACK_BOTS, SLACK_INSTALLATIONS):
            for row in await session.execute(select(*secret_columns(table))):
                values.extend(value for value in row if value is not None)
    return values


def assert_no_token_in_clear(values: list[str]) -> None:
    assert values, "nothing stored"
    for value in values:
        assert "xox" not in value
        assert looks_encrypted(value)


async def store_in_plain_text_as_before(db, settings) -> None:
    """Rewrite the stored install the way the bot stored it before tokens were
    encrypted: slack_sdk's own store, plain text."""
    encrypted = EncryptedInstallationStore(
        client_id=settings.slack_client_id,
        engine=db.engine,
        cipher=TokenCipher.from_setting(OLD_KEY),
        logger=logging.getLogger("test"),
    )
    installation = await encrypted.async_find_installation(enterprise_id=None, team_id=ACME)
    assert installation is not None
    async with db.unit_of_work() as session:
        await install_repo.forget_tokens(session, team_id=ACME)
    plain = AsyncSQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=db.engine)
    await plain.async_save(installation)
    assert any("xox" in value for value in await raw_secrets(db))


# ---------------------------------------------------------------- installing and using


async def test_an_install_stores_its_tokens_encrypted_and_the_bot_works_with_them(
    client, db, fake_slack, slack, backend
):
    page = await install(client, fake_slack, team_id=ACME)
    assert page.status == 200
    [token] = fake_slack.tokens_of(ACME)
    stored = await raw_secrets(db)
    assert len(stored) == 2  # the bot token, in slack_bots and in slack_installations
    assert_no_token_in_clear(stored)
    assert all(token not in value for value in stored)

    reply = await post(client, add_customer_shortcut(slack))  # a signed request, answered
    assert reply.status == 200
    await queue_post(db, ACME, "the delivery worker")
    await settle_bot(client)
    assert tokens_used(fake_slack, "views.open") == [token]
    [sent] = fake_slack.calls_to("chat.postMessage")
    assert sent.args["text"] == "the delivery worker" and sent.token == token


async def test_a_rotated_token_is_stored_encrypted_too(client, db, fake_slack, slack, backend):
    fake_slack.token_rotation = True
    await install(client, fake_slack, team_id=ACME)
    await expire_soon(db, ACME)
    await post(client, add_customer_shortcut(slack))
    await settle_bot(client)
    assert refreshes(fake_slack) == 1
    first, second = fake_slack.tokens_of(ACME)
    stored = await raw_secrets(db)
    assert_no_token_in_clear(stored)
    cipher = TokenCipher.from_setting(OLD_KEY)
    async with db.unit_of_work() as session:
        bot_row = (
            await session.execute(
                select(SLACK_BOTS.c.bot_token, SLACK_BOTS.c.bot_refresh_token).where(
                    SLACK_BOTS.c.team_id == ACME
                )
            )
        ).one()
    assert cipher.decrypt(bot_row.bot_token) == second
    assert cipher.decrypt(bot_row.bot_refresh_token).startswith("xoxe-1-")

    # The delivery worker reads the rotated token back from its ciphertext.
    await queue_post(db, ACME, "after rotation")
    await settle_bot(client)
    [sent] = fake_slack.calls_to("chat.postMessage")
    assert sent.token == second and first != second
    async with db.unit_of_work() as session:
        assert set(await session.scalars(select(OutboxItem.status))) == {"sent"}


async def test_a_token_as_long_as_slack_sdk_allows_fits_encrypted(db, fake_slack, backend):
    store = EncryptedInstallationStore(
        client_id=fake_slack.client_id,
        engine=db.engine,
        cipher=TokenCipher.from_setting(OLD_KEY),
        logger=logging.getLogger("test"),
    )
    long_token = "xoxe.xoxb-1-" + "A" * 188  # slack_sdk's column held 200 characters
    await store.async_save_bot(
        Bot(
            app_id="A0",
            enterprise_id=None,
            team_id=ACME,
            bot_token=long_token,
            bot_refresh_token="xoxe-1-" + "B" * 193,
            bot_id="B0",
            bot_user_id="U0BOT",
            bot_scopes="commands",
            installed_at=1_700_000_000.0,
        )
    )
    found = await store.async_find_bot(enterprise_id=None, team_id=ACME)
    assert found is not None and found.bot_token == long_token
    assert_no_token_in_clear(await raw_secrets(db))


# ---------------------------------------------------------------- upgrading


async def test_tokens_stored_in_plain_text_are_encrypted_by_the_upgrade_and_still_work(
    client, db, fake_slack, slack, settings, cli, backend
):
    await install(client, fake_slack, team_id=ACME)
    [token] = fake_slack.tokens_of(ACME)
    await store_in_plain_text_as_before(db, settings)

    upgraded = await cli(["db", "upgrade"], key=OLD_KEY)
    assert upgraded.exit_code == 0, upgraded.output
    assert "Encrypted 2 Slack token(s) stored in plain text." in upgraded.output
    encrypted = await raw_secrets(db)
    assert_no_token_in_clear(encrypted)

    again = await cli(["db", "upgrade"], key=OLD_KEY)  # already encrypted: left alone
    assert again.exit_code == 0 and "Encrypted" not in again.output
    assert await raw_secrets(db) == encrypted

    reply = await post(client, add_customer_shortcut(slack))
    assert reply.status == 200
    await queue_post(db, ACME, "after the upgrade")
    await settle_bot(client)
    assert tokens_used(fake_slack, "views.open") == [token]
    [sent] = fake_slack.calls_to("chat.postMessage")
    assert sent.token == token


# ---------------------------------------------------------------- rotating keys


async def test_secrets_rotate_moves_every_token_to_the_first_key(
    client, db, fake_slack, settings, cli, backend
):
    await install(client, fake_slack, team_id=ACME)
    [token] = fake_slack.tokens_of(ACME)
    await store_in_plain_text_as_before(db, settings)
    await cli(["db", "upgrade"], key=OLD_KEY)  # one row encrypted with the old key...
    await install(client, fake_slack, team_id="T0GLOBEX")  # ...and another

    rotated = await cli(["secrets", "rotate"], key=f"{NEW_KEY},{OLD_KEY}")
    assert rotated.exit_code == 0, rotated.output
    assert "Re-encrypted 4 stored Slack token(s)" in rotated.output
    stored = await raw_secrets(db)
    assert_no_token_in_clear(stored)
    new_only, old_only = TokenCipher([NEW_KEY]), TokenCipher([OLD_KEY])
    assert all(new_only.readable(value) for value in stored)
    assert not any(old_only.readable(value) for value in stored)

    again = await cli(["secrets", "rotate"], key=f"{NEW_KEY},{OLD_KEY}")
    assert "Re-encrypted 0 stored Slack token(s)" in again.output
    assert await raw_secrets(db) == stored

    # A replica configured with the new key alone serves the workspace.
    replica_settings = distribution_settings(fake_slack, settings.database_url, NEW_KEY)
    from bot.oauth import build_installs

    replica = build_installs(replica_settings, db, AsyncWebClient(base_url=fake_slack.base_url))
    assert await replica.tokens.token_for(ACME) == token


async def test_rotating_keeps_a_token_a_replica_saved_meanwhile(client, db, fake_slack, backend):
    """The rewrite of a row only replaces the values it read: a token rotated by a
    serving replica in between is not overwritten with the old one."""
    await install(client, fake_slack, team_id=ACME)
    async with db.unit_of_work() as session:
        [row_id] = await install_repo.row_ids(session, SLACK_BOTS)
        read = await install_repo.stored_secrets(session, SLACK_BOTS, row_id)
    newer = TokenCipher([OLD_KEY]).encrypt("xoxb-saved-by-a-replica")
    async with db.unit_of_work() as session:  # the replica's save
        await session.execute(
            update(SLACK_BOTS).where(SLACK_BOTS.c.id == row_id).values(bot_token=newer)
        )
    rewrite = {"bot_token": TokenCipher([NEW_KEY]).encrypt("xoxb-stale")}
    async with db.unit_of_work() as session:
        replaced = await install_repo.replace_secrets(
            session, SLACK_BOTS, row_id, was=read, now=rewrite
        )
    assert not replaced
    async with db.unit_of_work() as session:
        kept = await install_repo.stored_secrets(session, SLACK_BOTS, row_id)
    assert kept["bot_token"] == newer


# ---------------------------------------------------------------- wrong or missing keys


async def test_a_wrong_key_is_a_clear_error_and_changes_nothing(client, db, fake_slack, cli):
    await install(client, fake_slack, team_id=ACME)
    before = await raw_secrets(db)
    for args in (["secrets", "rotate"], ["db", "upgrade"], ["check-config"]):
        result = await cli(args, key=UNRELATED_KEY)
        assert result.exit_code != 0, args
        assert "cannot be decrypted with any key in MSPBOT_ENCRYPTION_KEY" in result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert UNRELATED_KEY not in result.output
    assert await raw_secrets(db) == before

    with pytest.raises(UnreadableToken):
        TokenCipher([UNRELATED_KEY]).decrypt(before[0])


async def test_a_malformed_key_is_named_by_position_and_not_shown(cli):
    result = await cli(["check-config"], key=f"{NEW_KEY},not-a-fernet-key")
    assert result.exit_code == 2
    assert "MSPBOT_ENCRYPTION_KEY: not a Fernet key: key 2 of 2" in result.output
    assert "not-a-fernet-key" not in result.output and NEW_KEY not in result.output


async def test_distribution_mode_without_a_key_is_refused(fake_slack, database_url, cli):
    with pytest.raises(ValidationError, match="MSPBOT_ENCRYPTION_KEY is required"):
        distribution_settings(fake_slack, database_url, None)
    result = await cli(["check-config"], key=None)
    assert result.exit_code == 2
    assert "Missing environment variables: MSPBOT_ENCRYPTION_KEY" in result.output
    assert "msp-bot secrets new-key" in result.output
    # One workspace stores no token: no key needed there.
    assert Settings(_env_file=None, slack_bot_token="xoxb-1").encryption_key is None  # type: ignore[call-arg]


def test_a_new_key_from_the_command_line_is_a_working_key(cli_env):
    result = invoke_cli(["secrets", "new-key"], cli_env)
    assert result.exit_code == 0
    key = result.output.strip()
    cipher = TokenCipher([key])
    assert cipher.decrypt(cipher.encrypt("xoxb-1")) == "xoxb-1"
    assert invoke_cli(["secrets", "new-key"], cli_env).output.strip() != key


def test_the_keys_are_secrets_the_logs_never_show():
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-one-workspace",
        mspbot_encryption_key=f"{NEW_KEY}, {OLD_KEY}",
    )
    assert {NEW_KEY, OLD_KEY, f"{NEW_KEY}, {OLD_KEY}"} <= set(settings.secret_values())
    for shown in (repr(settings), str(settings.model_dump())):
        assert NEW_KEY not in shown and OLD_KEY not in shown
