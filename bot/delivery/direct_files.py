"""A file for one person's eyes: sent to their direct message with the bot, streamed
from a file on disk (files.getUploadURLExternal, the bytes, then
files.completeUploadExternal in the DM that conversations.open gives).

This does not go through the outbox. The outbox keeps a file's bytes in the
database until the item is pruned (14 days after delivery, 90 after a failure):
for a customer export that would be a second copy of every customer's contacts,
as a row of tens of megabytes the worker reads back whole. An export that cannot
be delivered is reported to the person at once, and they can ask again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.limits import TierLimiter

CHUNK_BYTES = 256 * 1024
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=10, sock_read=60)


class Step(StrEnum):
    OPEN_DM = "open_dm"
    UPLOAD = "upload"


class NotDelivered(Exception):
    """Slack refused (`reason`: its error code) or could not be reached (`network`,
    `http_STATUS`) at `step`."""

    def __init__(self, step: Step, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file ready to send: `data` is read from its current position, `length` bytes."""

    data: BinaryIO
    length: int
    filename: str
    title: str
    initial_comment: str


async def open_direct_message(client: AsyncWebClient, tiers: TierLimiter, *, user_id: str) -> str:
    """The id of the person's DM with the bot (conversations.open needs `im:write`)."""
    await tiers.acquire("conversations.open")
    try:
        response = await client.conversations_open(users=user_id)
    except SlackApiError as error:
        raise NotDelivered(Step.OPEN_DM, _slack_error(error)) from None
    except (TimeoutError, aiohttp.ClientError, OSError):
        raise NotDelivered(Step.OPEN_DM, "network") from None
    channel = (response.get("channel") or {}).get("id")
    if not channel:
        raise NotDelivered(Step.OPEN_DM, "no_channel")
    return str(channel)


async def send_file(
    client: AsyncWebClient, tiers: TierLimiter, *, channel: str, file: OutgoingFile
) -> str:
    """Upload `file` and share it in `channel`; returns the file id. The bytes go
    to Slack in chunks straight from `file.data`, never whole in memory."""
    try:
        await tiers.acquire("files.getUploadURLExternal")
        issued = await client.files_getUploadURLExternal(filename=file.filename, length=file.length)
        await _put_bytes(client, str(issued["upload_url"]), file)
        await tiers.acquire("files.completeUploadExternal")
        await client.files_completeUploadExternal(
            files=[{"id": str(issued["file_id"]), "title": file.title}],
            channel_id=channel,
            initial_comment=file.initial_comment,
        )
    except SlackApiError as error:
        raise NotDelivered(Step.UPLOAD, _slack_error(error)) from None
    except (TimeoutError, aiohttp.ClientError, OSError):
        raise NotDelivered(Step.UPLOAD, "network") from None
    return str(issued["file_id"])


async def _put_bytes(client: AsyncWebClient, url: str, file: OutgoingFile) -> None:
    headers = {"Content-Length": str(file.length), "Content-Type": "application/octet-stream"}
    async with (
        aiohttp.ClientSession(
            timeout=UPLOAD_TIMEOUT, trust_env=client.trust_env_in_session
        ) as http,
        http.post(
            url,
            data=_chunks(file.data),
            headers=headers,
            allow_redirects=False,
            ssl=client.ssl if client.ssl is not None else True,
            proxy=client.proxy,
        ) as response,
    ):
        if response.status != 200:
            raise NotDelivered(Step.UPLOAD, f"http_{response.status}")


async def _chunks(data: BinaryIO) -> AsyncIterator[bytes]:
    """The file's bytes a chunk at a time, read off the event loop."""
    while chunk := await asyncio.to_thread(data.read, CHUNK_BYTES):
        yield chunk


def _slack_error(error: SlackApiError) -> str:
    response = error.response
    if response is not None and isinstance(response.data, dict) and response.data.get("error"):
        return str(response.data["error"])[:100]
    status = getattr(response, "status_code", 0) or 0
    return f"http_{status}"
