"""How alerts reach their subscribers: a message per conversation through the
outbox, in the caller's transaction, updated in place under its key.

Posts are coalescible: when a storm queues many behind one another in a channel,
the worker merges them into one digest (bot.notify.digest), read from each
post's message metadata. An update of a merged alert sends nothing: the digest's
"List all" shows it as it is now."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.results.alerts import AlertGroupSummary, AlertInfo
from bot.services.audience import Recipient
from bot.views.alerts import alert_message, message_metadata


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
                        # A grouped alert waits in its parent's thread: merging it
                        # into a digest would bring it back into the channel.
                        coalescible=not recipient.thread_only,
                        hold=recipient.hold,
                        thread_only=recipient.thread_only,
                    )
                )
                keys[(alert.id, recipient.channel)] = key
        await outbox.post_messages(session, msp_id=msp_id, posts=batch)
        return keys

    async def changed(
        self,
        session: AsyncSession,
        *,
        msp_id: int,
        alert: AlertInfo,
        keys: Sequence[str],
        group: AlertGroupSummary | None = None,
    ) -> None:
        message = alert_message(alert, group)
        await outbox.update_messages(
            session,
            msp_id=msp_id,
            key_prefix=f"alert-update:{alert.id}",
            target_keys=keys,
            skip_if_merged=True,
            metadata=message_metadata(alert),
            **message.as_kwargs(),
        )
