"""The one workspace a one-workspace bot serves: the one its token belongs to.

Slack signs every request with the app's signing secret, whichever workspace it
comes from, so a valid signature does not say the request is for this bot's
workspace. The token does: `auth.test` names its team (and its Enterprise Grid
organisation, if any). The bot asks at start-up; until Slack has answered, it
serves nobody rather than everybody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

# What a request waits for an `auth.test` already under way before it is refused,
# so Slack still gets its answer within its 3 seconds.
WAIT_SECONDS = 2.0
# What the start-up waits for the answer, so the first requests find it known; a
# slow Slack holds the start-up no longer (the call goes on; requests wait for it).
START_WAIT_SECONDS = 5.0
_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError, OSError, KeyError, TypeError)


@dataclass(frozen=True, slots=True)
class WorkspaceIdentity:
    team_id: str
    enterprise_id: str | None = None

    def serves(self, *, team_id: str | None, enterprise_id: str | None) -> bool:
        """A request from this workspace: its team, and no other organisation. A
        request naming an organisation only (no team) is not for a workspace token."""
        return team_id == self.team_id and enterprise_id in (None, self.enterprise_id)


async def identity_from_auth_test(client: AsyncWebClient) -> WorkspaceIdentity:
    """The workspace of the client's token, as Slack's `auth.test` names it."""
    answer = await client.auth_test()
    team_id = answer["team_id"]
    if not isinstance(team_id, str) or not team_id:
        raise TypeError("auth.test answered without a team id")
    return WorkspaceIdentity(team_id=team_id, enterprise_id=answer.get("enterprise_id") or None)


class HomeWorkspace:
    """Learns the workspace once and remembers it for the life of the process.

    One `auth.test` at a time, shared by every request waiting for it; after a
    failure the next request asks again (Bolt's own authorization asks on every
    request while Slack refuses the token, so this adds at most one call to each)."""

    def __init__(
        self,
        identify: Callable[[], Awaitable[WorkspaceIdentity]],
        *,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self._identify = identify
        self._wait = wait_seconds
        self._known: WorkspaceIdentity | None = None
        self._asking: asyncio.Task[WorkspaceIdentity | None] | None = None

    async def start(self, wait_seconds: float = START_WAIT_SECONDS) -> None:
        """Ask Slack at start-up, and wait a little for the answer."""
        if self._known is not None:
            return
        asking = self._asking or self._ask()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(asking), wait_seconds)

    async def identity(self) -> WorkspaceIdentity | None:
        """The workspace, or None while Slack has not said (requests are then refused)."""
        if self._known is not None:
            return self._known
        asking = self._asking or self._ask()
        try:
            return await asyncio.wait_for(asyncio.shield(asking), self._wait)
        except TimeoutError:
            return None

    async def stop(self) -> None:
        if self._asking is not None:
            self._asking.cancel()
            await asyncio.gather(self._asking, return_exceptions=True)

    def _ask(self) -> asyncio.Task[WorkspaceIdentity | None]:
        self._asking = asyncio.create_task(self._learn(), name="auth.test")
        return self._asking

    async def _learn(self) -> WorkspaceIdentity | None:
        try:
            identity = await self._identify()
        except _FAILURES as error:
            logger.error(
                "auth.test failed (%s: %s): cannot tell which workspace SLACK_BOT_TOKEN "
                "belongs to, so every Slack request is refused until it answers "
                "(asked again on the next request)",
                type(error).__name__,
                error,
            )
            return None
        finally:
            self._asking = None
        self._known = identity
        logger.info(
            "serving workspace %s%s only",
            identity.team_id,
            f" (organisation {identity.enterprise_id})" if identity.enterprise_id else "",
        )
        return identity
