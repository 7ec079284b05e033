"""Which bot token a message for a workspace goes out with.

One workspace (SLACK_BOT_TOKEN): that token, for the MSP of any team. Distribution
mode (OAuth installs): the workspace's own token from slack_sdk's installation
store, rotated when it is close to expiring (token rotation), remembered for a
little while so a busy lane does not read the store for every message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

# Bolt's default: a token expiring within two hours is rotated before it is used.
ROTATE_MINUTES_BEFORE_EXPIRY = 120
REMEMBER_SECONDS = 30.0
# How long a replica refused a refresh waits for the one that won to save its token.
RACE_RETRIES, RACE_WAIT_SECONDS = 5, 0.2


class SharedTokenRotator(AsyncTokenRotator):
    """Token rotation for replicas sharing one installation store.

    Slack revokes a refresh token when it is used, so when two replicas (or two
    requests on one) rotate the same token at once, one is refused. The refused one
    then takes the token the other saved, instead of failing its request. Within a
    replica, one rotation per workspace at a time, saved before the next starts.
    """

    def __init__(
        self,
        *,
        store: AsyncInstallationStore,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, client=client)
        self._store = store
        self._locks: dict[str | None, asyncio.Lock] = {}

    async def perform_bot_token_rotation(
        self, *, bot: Bot, minutes_before_expiration: int = ROTATE_MINUTES_BEFORE_EXPIRY
    ) -> Bot | None:
        async with self._locks.setdefault(bot.team_id, asyncio.Lock()):
            latest = await self._latest(bot)
            if latest is not None and latest.bot_refresh_token != bot.bot_refresh_token:
                bot = latest  # rotated meanwhile, by this replica or another
                if not _expiring(bot, minutes_before_expiration):
                    return bot
            try:
                rotated = await super().perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=minutes_before_expiration
                )
            except SlackTokenRotationError as refused:
                return await self._rotated_elsewhere(bot, refused)
            if rotated is not None:
                await self._store.async_save_bot(rotated)
            return rotated

    async def _rotated_elsewhere(self, bot: Bot, refused: SlackTokenRotationError) -> Bot:
        for _ in range(RACE_RETRIES):
            latest = await self._latest(bot)
            if latest is not None and latest.bot_refresh_token != bot.bot_refresh_token:
                return latest
            await asyncio.sleep(RACE_WAIT_SECONDS)
        raise refused  # nobody rotated it: the refresh token is really refused

    async def _latest(self, bot: Bot) -> Bot | None:
        return await self._store.async_find_bot(
            enterprise_id=bot.enterprise_id, team_id=bot.team_id
        )


def _expiring(bot: Bot, minutes: int) -> bool:
    expires_at = bot.bot_token_expires_at
    return expires_at is not None and expires_at <= time.time() + minutes * 60


class BotTokens(Protocol):
    async def token_for(self, team_id: str) -> str | None:
        """The workspace's bot token; None when it has none (not installed)."""
        ...

    def forget(self, team_id: str) -> None:
        """Drop what is remembered of a workspace (uninstalled, token refused)."""
        ...


class OneWorkspaceToken:
    def __init__(self, token: str) -> None:
        self._token = token

    async def token_for(self, team_id: str) -> str | None:
        return self._token

    def forget(self, team_id: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Remembered:
    token: str
    until: float  # monotonic


class InstalledBotTokens:
    def __init__(
        self,
        *,
        store: AsyncInstallationStore,
        rotator: SharedTokenRotator,
        remember_seconds: float = REMEMBER_SECONDS,
        rotate_minutes_before_expiry: int = ROTATE_MINUTES_BEFORE_EXPIRY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._rotator = rotator
        self._remember_seconds = remember_seconds
        self._rotate_minutes = rotate_minutes_before_expiry
        self._monotonic = monotonic
        self._remembered: dict[str, _Remembered] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token_for(self, team_id: str) -> str | None:
        remembered = self._remembered.get(team_id)
        if remembered is not None and remembered.until > self._monotonic():
            return remembered.token
        # One lookup (and at most one rotation) per workspace at a time on this
        # replica: a burst for one lane must not refresh the token ten times.
        async with self._locks.setdefault(team_id, asyncio.Lock()):
            remembered = self._remembered.get(team_id)
            if remembered is not None and remembered.until > self._monotonic():
                return remembered.token
            return await self._look_up(team_id)

    def forget(self, team_id: str) -> None:
        self._remembered.pop(team_id, None)

    async def _look_up(self, team_id: str) -> str | None:
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            self.forget(team_id)
            return None
        if bot.bot_refresh_token:
            rotated = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self._rotate_minutes
            )
            if rotated is not None:  # and saved, for every replica
                bot = rotated
        remember_for = self._remember_seconds
        if bot.bot_token_expires_at is not None:
            # Never remember a token past the point where it should be rotated.
            left = bot.bot_token_expires_at - time.time() - self._rotate_minutes * 60
            remember_for = max(0.0, min(remember_for, left))
        assert bot.bot_token is not None
        self._remembered[team_id] = _Remembered(bot.bot_token, self._monotonic() + remember_for)
        return bot.bot_token
