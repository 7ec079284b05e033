"""Putting messages (and webhooks) in the outbox, inside the caller's transaction.

If the transaction rolls back, the message was never queued; if it commits, the
delivery worker will send it, after restarts too. Nothing here talks to Slack.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import OutboxItem
from storage.repositories import outbox as outbox_repo


class Kind(StrEnum):
    POST = "post"
    UPDATE = "update"
    EPHEMERAL = "ephemeral"
    HOME = "home"
    UPLOAD = "upload"
    WEBHOOK = "webhook"  # a signed POST to the MSP's own system, not to Slack


# In a post's payload: the outbox key of the message it replies to (not sent to Slack).
THREAD_KEY = "thread_key"
# In a reply's payload: stay in the thread (a grouped alert), rather than also be
# shown in the channel as a reopened alert is (not sent to Slack).
THREAD_ONLY = "thread_only"
# A queued file's bytes stay in its row until the row is pruned (14 days after
# delivery, 90 after a failure) and are read back whole: right for a chart, not for a
# large file or one with customers' data (bot.delivery.direct_files streams those).
MAX_FILE_BYTES = 1024 * 1024


def _now() -> datetime:
    # Delivery runs on real time (retries, leases, pacing), not the business clock.
    return datetime.now(UTC)


def new_key(prefix: str) -> str:
    return f"{prefix}:{uuid.uuid4().hex}"


async def _enqueue(
    session: AsyncSession,
    *,
    msp_id: int,
    key: str,
    kind: Kind,
    lane: str,
    payload: dict[str, Any],
    content: bytes | None = None,
    coalescible: bool = False,
    hold: timedelta | None = None,
) -> OutboxItem:
    now = _now()
    return await outbox_repo.insert(
        session,
        {
            "msp_id": msp_id,
            "key": key[:200],
            "kind": kind.value,
            "lane": lane[:64],
            "payload": payload,
            "content": content,
            "coalescible": coalescible,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now + hold if hold else now,
            "created_at": now,
            "updated_at": now,
        },
    )


async def post_message(
    session: AsyncSession,
    *,
    msp_id: int,
    key: str,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    thread_key: str | None = None,
    metadata: dict[str, Any] | None = None,
    coalescible: bool = False,
    hold: timedelta | None = None,
) -> OutboxItem:
    """A message to a channel, or to a person (their user id: Slack opens the DM).

    `thread_key`: reply in the thread of the message enqueued under that key (its
    ts is known only once it is sent; without one, the reply is a plain post).
    `metadata`: Slack message metadata, which a digest reads (bot.notify.digest).
    `coalescible`: may be merged with the messages queued behind it in a storm.
    `hold`: kept back this long (a person's quiet hours)."""
    payload: dict[str, Any] = {"channel": channel, "text": text}
    if blocks:
        payload["blocks"] = blocks
    if thread_ts:
        payload["thread_ts"] = thread_ts
    if thread_key:
        payload[THREAD_KEY] = thread_key
    if metadata:
        payload["metadata"] = metadata
    return await _enqueue(
        session,
        msp_id=msp_id,
        key=key,
        kind=Kind.POST,
        lane=channel,
        payload=payload,
        coalescible=coalescible,
        hold=hold,
    )


@dataclass(frozen=True, slots=True)
class Post:
    """One message of a batch (`post_messages`); the fields as in `post_message`."""

    key: str
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_key: str | None = None
    metadata: dict[str, Any] | None = None
    coalescible: bool = False
    hold: timedelta | None = None
    thread_only: bool = False  # a reply seen in its thread only, not also in the channel


async def post_messages(session: AsyncSession, *, msp_id: int, posts: Sequence[Post]) -> None:
    """Many messages in one statement (a storm's alerts, a morning's notices): no
    row is read back, so a batch costs one round trip, not two per message."""
    if not posts:
        return
    now = _now()
    rows = []
    for post in posts:
        payload: dict[str, Any] = {"channel": post.channel, "text": post.text}
        if post.blocks:
            payload["blocks"] = post.blocks
        if post.thread_key:
            payload[THREAD_KEY] = post.thread_key
            if post.thread_only:
                payload[THREAD_ONLY] = True
        if post.metadata:
            payload["metadata"] = post.metadata
        rows.append(
            {
                "msp_id": msp_id,
                "key": post.key[:200],
                "kind": Kind.POST.value,
                "lane": post.channel[:64],
                "payload": payload,
                "content": None,
                "coalescible": post.coalescible,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now + post.hold if post.hold else now,
                "created_at": now,
                "updated_at": now,
            }
        )
    await outbox_repo.insert_many(session, rows)


async def update_message(
    session: AsyncSession,
    *,
    msp_id: int,
    key: str,
    target_key: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    skip_if_merged: bool = False,
    metadata: dict[str, Any] | None = None,
) -> OutboxItem | None:
    """Change the message enqueued earlier under `target_key`, in place.

    If that message has not left yet, it leaves with the new content instead (one
    message, not a post and an update). If it was merged into a digest, there is no
    message of its own to change: by default the new content is posted; with
    `skip_if_merged` (alerts, whose digest lists them as they are now) nothing is
    sent, and its own row keeps the new content. `metadata` refreshes a pending
    post's (what a digest will read). Returns the item written, if any."""
    target = await outbox_repo.by_key(session, msp_id=msp_id, key=target_key)
    change = _Change(text, blocks, skip_if_merged, metadata)
    return await _update(
        session, msp_id=msp_id, key=key, target_key=target_key, target=target, change=change
    )


async def update_messages(
    session: AsyncSession,
    *,
    msp_id: int,
    key_prefix: str,
    target_keys: Sequence[str],
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    skip_if_merged: bool = False,
    metadata: dict[str, Any] | None = None,
) -> None:
    """`update_message` for several messages showing the same thing (an alert in
    every channel), their targets read in one query."""
    targets = {
        item.key: item
        for item in await outbox_repo.by_keys(session, msp_id=msp_id, keys=target_keys)
    }
    change = _Change(text, blocks, skip_if_merged, metadata)
    for target_key in target_keys:
        await _update(
            session,
            msp_id=msp_id,
            key=new_key(key_prefix),
            target_key=target_key,
            target=targets.get(target_key),
            change=change,
        )


@dataclass(frozen=True, slots=True)
class _Change:
    text: str
    blocks: list[dict[str, Any]] | None
    skip_if_merged: bool
    metadata: dict[str, Any] | None


async def _update(
    session: AsyncSession,
    *,
    msp_id: int,
    key: str,
    target_key: str,
    target: OutboxItem | None,
    change: _Change,
) -> OutboxItem | None:
    content = {"text": change.text, "blocks": change.blocks or []}
    digest = target is not None and target.original_payload is not None
    # A pending post takes the new content, unless it became a digest (and waits for
    # a retry): then the digest stays, and the merged message's own copy changes.
    if (
        target is not None
        and target.status == "pending"
        and target.kind == Kind.POST
        and not digest
    ):
        payload = {**target.payload, **content}
        if change.metadata:
            payload["metadata"] = change.metadata
        if await outbox_repo.change_if_pending(
            session, item_id=target.id, payload=payload, now=_now()
        ):
            set_committed_value(target, "payload", payload)  # as written, not to flush
            return target
        await session.refresh(target)  # claimed meanwhile: an update follows it
    merged = target is not None and (
        target.status == "coalesced" or target.original_payload is not None
    )
    if merged and change.skip_if_merged:
        assert target is not None
        if target.original_payload is not None:  # the digest went out in its place
            target.original_payload = {**target.original_payload, **content}
        else:
            target.payload = {**target.payload, **content}
        target.updated_at = _now()
        return None
    lane = target.lane if target is not None else f"update:{target_key}"
    payload = {"target_key": target_key, **content}
    # An update replaces the message's whole content, so of two waiting for the
    # same message only the newer matters: a storm's parent message changes once
    # per send, not once per alert.
    if await outbox_repo.replace_pending_update(
        session, msp_id=msp_id, lane=lane, target_key=target_key, payload=payload, now=_now()
    ):
        return None
    return await _enqueue(
        session, msp_id=msp_id, key=key, kind=Kind.UPDATE, lane=lane, payload=payload
    )


async def post_ephemeral(
    session: AsyncSession,
    *,
    msp_id: int,
    key: str,
    channel: str,
    user: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> OutboxItem:
    payload: dict[str, Any] = {"channel": channel, "user": user, "text": text}
    if blocks:
        payload["blocks"] = blocks
    return await _enqueue(
        session, msp_id=msp_id, key=key, kind=Kind.EPHEMERAL, lane=channel, payload=payload
    )


async def publish_home(
    session: AsyncSession, *, msp_id: int, user_id: str, view: dict[str, Any]
) -> OutboxItem:
    """Publish a Home tab; a newer publish for the same person replaces older pending ones."""
    lane = f"home:{user_id}"
    await outbox_repo.supersede_pending(session, msp_id=msp_id, lane=lane, now=_now())
    return await _enqueue(
        session,
        msp_id=msp_id,
        key=new_key(lane),
        kind=Kind.HOME,
        lane=lane,
        payload={"user_id": user_id, "view": view},
    )


async def upload_file(
    session: AsyncSession,
    *,
    msp_id: int,
    key: str,
    channel: str,
    filename: str,
    content: bytes,
    title: str,
    initial_comment: str | None = None,
) -> OutboxItem:
    if len(content) > MAX_FILE_BYTES:
        raise ValueError(
            f"a file of {len(content):,} bytes is too large for the outbox: "
            "stream it with bot.delivery.direct_files"
        )
    payload = {
        "channel": channel,
        "filename": filename,
        "title": title,
        "initial_comment": initial_comment,
    }
    return await _enqueue(
        session,
        msp_id=msp_id,
        key=key,
        kind=Kind.UPLOAD,
        lane=channel,
        payload=payload,
        content=content,
    )


async def enqueue_webhook(
    session: AsyncSession, *, msp_id: int, key: str, url: str, body: dict[str, Any]
) -> OutboxItem:
    """A JSON POST to the MSP's webhook URL. One lane per MSP, so its receiver gets
    the events in the order they happened, whatever retries happen."""
    return await _enqueue(
        session,
        msp_id=msp_id,
        key=key,
        kind=Kind.WEBHOOK,
        lane=f"webhook:{msp_id}",
        payload={"url": url, "body": body},
    )
