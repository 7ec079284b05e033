"""How alerts reach their subscribers: a message per conversation through the
outbox, in the caller's transaction, updated in place under its key.

Posts are coalescible: when a storm queues many behind one another in a channel,
the worker merges them into one digest (bot.notify.digest), read from each
post's message metadata. An update of a merged alert sends nothing: the digest's
"List all" shows it as it is now."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.results.alerts import AlertGroupSummary, AlertInfo
from bot.services.alert_routing import AlertUpdate
from bot.services.audience import Recipient
from bot.views.alerts import alert_message, message_metadata
from bot.views.message import Message


class OutboxAlertNotifier:
    """The `AlertNotifier` the API, the command line, the handlers and the jobs hand in."""

    async def posted(
        self,
        session: AsyncSession,
        *,
        msp_id: int,
        posts: Sequence[tuple[AlertInfo, Sequence[Recipient]]],
    ) -> dict[tuple[int, str], str]:
        keys: dict[tuple[int, str], str] = {}
        batch: list[outbox.Post] = []
        for alert, recipients in posts:
            message = alert_message(alert)
            metadata = message_metadata(alert)
            for recipient in recipients:
                key = outbox.new_key(f"alert:{alert.id}")
                batch.append(
                    outbox.Post(
                        key=key,
                        channel=recipient.channel,
                        text=message.text,
                        blocks=message.blocks,
                        thread_key=recipient.thread_of,
                        metadata=metadata,
                        # A grouped alert's reply is merged only with replies to
                        # the same thread (the digest stays in that thread).
                        coalescible=True,
                        hold=recipient.hold,
                        thread_only=recipient.thread_only,
                    )
                )
                keys[(alert.id, recipient.channel)] = key
        await outbox.post_messages(session, msp_id=msp_id, posts=batch)
        return keys

    async def changed(
        self, session: AsyncSession, *, msp_id: int, updates: Sequence[AlertUpdate]
    ) -> None:
        changes = []
        # A group's parent in several channels usually says the same: drawn once.
        drawn: dict[tuple[int, AlertGroupSummary | None], tuple[Message, dict[str, Any]]] = {}
        for update in updates:
            known = (update.alert.id, update.group)
            if known not in drawn:
                drawn[known] = (
                    alert_message(update.alert, update.group),
                    message_metadata(update.alert),
                )
            message, metadata = drawn[known]
            changes += [
                outbox.MessageChange(
                    outbox.new_key(f"alert-update:{update.alert.id}"),
                    key,
                    message.text,
                    message.blocks,
                    skip_if_merged=True,
                    metadata=metadata,
                )
                for key in update.keys
            ]
        await outbox.update_many(session, msp_id=msp_id, changes=changes)
