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
THREAD_KEY = outbox_repo.THREAD_KEY_FIELD
# In a reply's payload: stay in the thread (a grouped alert), rather than also be
# shown in the channel as a reopened alert is (not sent to Slack).
THREAD_ONLY = outbox_repo.THREAD_ONLY_FIELD
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
) -> None:
    """Change the message enqueued earlier under `target_key`, in place (`key`: the
    update's own, if one is enqueued).

    If that message has not left yet, it leaves with the new content instead (one
    message, not a post and an update). If it was merged into a digest, there is no
    message of its own to change: by default the new content is posted; with
    `skip_if_merged` (alerts, whose digest lists them as they are now) nothing is
    sent, and its own row keeps the new content. `metadata` refreshes a pending
    post's (what a digest will read)."""
    change = MessageChange(key, target_key, text, blocks, skip_if_merged, metadata)
    await update_many(session, msp_id=msp_id, changes=[change])


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
    every channel)."""
    await update_many(
        session,
        msp_id=msp_id,
        changes=[
            MessageChange(new_key(key_prefix), target, text, blocks, skip_if_merged, metadata)
            for target in target_keys
        ],
    )


@dataclass(frozen=True, slots=True)
class MessageChange:
    """New content for the message enqueued under `target_key` (`update_message`)."""

    key: str  # the update item's, when one is enqueued
    target_key: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    skip_if_merged: bool = False
    metadata: dict[str, Any] | None = None


async def update_many(
    session: AsyncSession, *, msp_id: int, changes: Sequence[MessageChange]
) -> None:
    """`update_message` for many messages at once, in a few statements whatever
    their number (a storm changes hundreds): the targets read in one query, those
    not sent yet given their new content in one conditional statement, updates
    still waiting replaced in one, and the new updates enqueued in one. An update
    replaces a message's whole content, so of two changes to one message only the
    later counts."""
    latest = list({change.target_key: change for change in changes}.values())
    if not latest:
        return
    targets = {
        item.key: item
        for item in await outbox_repo.by_keys(
            session, msp_id=msp_id, keys=[change.target_key for change in latest]
        )
    }
    unsent = {
        item.id: (item, _new_payload(item, change))
        for change in latest
        if (item := targets.get(change.target_key)) is not None and _still_unsent(item)
    }
    written = await outbox_repo.change_unsent(
        session, payloads={id_: payload for id_, (_item, payload) in unsent.items()}, now=_now()
    )
    for id_ in written:
        item, payload = unsent[id_]
        set_committed_value(item, "payload", payload)  # as written, not to flush
    claimed = [item for id_, (item, _payload) in unsent.items() if id_ not in written]
    for item in claimed:  # claimed for sending meanwhile: an update follows it
        await session.refresh(item)
    done = {item.key for item, _payload in (unsent[id_] for id_ in written)}
    await _enqueue_updates(
        session,
        msp_id=msp_id,
        changes=[change for change in latest if change.target_key not in done],
        targets=targets,
    )


def _still_unsent(target: OutboxItem) -> bool:
    """A post not sent yet, and not a digest waiting for a retry (the digest stays
    then, and the merged message's own copy changes)."""
    return (
        target.status == "pending" and target.kind == Kind.POST and target.original_payload is None
    )


def _new_payload(target: OutboxItem, change: MessageChange) -> dict[str, Any]:
    payload = {**target.payload, "text": change.text, "blocks": change.blocks or []}
    if change.metadata:
        payload["metadata"] = change.metadata
    return payload


async def _enqueue_updates(
    session: AsyncSession,
    *,
    msp_id: int,
    changes: Sequence[MessageChange],
    targets: dict[str, OutboxItem],
) -> None:
    """The changes whose message has left (or was merged into a digest)."""
    waiting: list[tuple[MessageChange, str, dict[str, Any]]] = []
    for change in changes:
        target = targets.get(change.target_key)
        content = {"text": change.text, "blocks": change.blocks or []}
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
            continue
        lane = target.lane if target is not None else f"update:{change.target_key}"
        waiting.append((change, lane, {"target_key": change.target_key, **content}))
    if not waiting:
        return
    now = _now()
    # A storm's parent message changes once per send, not once per alert: an update
    # still waiting for the same message takes the new content instead.
    replaced = await outbox_repo.replace_pending_updates(
        session,
        msp_id=msp_id,
        lanes={lane for _change, lane, _payload in waiting},
        payloads={change.target_key: payload for change, _lane, payload in waiting},
        now=now,
    )
    await outbox_repo.insert_many(
        session,
        [
            {
                "msp_id": msp_id,
                "key": change.key[:200],
                "kind": Kind.UPDATE.value,
                "lane": lane[:64],
                "payload": payload,
                "content": None,
                "coalescible": False,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for change, lane, payload in waiting
            if change.target_key not in replaced
        ],
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
