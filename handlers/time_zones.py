"""A person's time zone as Slack has it (`users.info`), remembered for a while.

Quiet hours are read in it, so "22:00-07:00" means the person's night wherever
the MSP is. The lookup runs before an answer that Slack waits for, so it is
bounded: a slow or failed call gives None (the MSP's zone is used instead, and
the subscription says so), never a late answer.
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.expiring import PersonCache

logger = logging.getLogger(__name__)

LOOKUP_TIMEOUT_S = 1.0  # well within the 3 s Slack gives the answer it waits on


class PersonTimeZones:
    """The IANA zone of each person looked up in the last `ttl_seconds`."""

    def __init__(self, zones: PersonCache[str] | None = None) -> None:
        self._zones = zones if zones is not None else PersonCache[str](ttl_seconds=3600.0)

    async def of(self, client: AsyncWebClient, *, team_id: str, user_id: str) -> str | None:
        found = self._zones.get(team_id, user_id)
        if found is not None:
            return found
        zone = await _looked_up(client, user_id)
        if zone is not None:
            self._zones.put(team_id, user_id, zone)
        return zone


async def _looked_up(client: AsyncWebClient, user_id: str) -> str | None:
    try:
        response = await asyncio.wait_for(client.users_info(user=user_id), LOOKUP_TIMEOUT_S)
    except (SlackApiError, TimeoutError, OSError) as error:
        logger.warning("users.info failed (%s): the MSP's time zone is used", type(error).__name__)
        return None
    user = response.get("user")
    zone = user.get("tz") if isinstance(user, dict) else None
    if not isinstance(zone, str) or not zone or len(zone) > 64:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone
