"""How alerts reach their subscribers: a message per conversation through the
outbox, in the caller's transaction, updated in place under its key.

Posts are coalescible: when a storm queues many behind one another in a channel,
the worker merges them into one digest (bot.delivery.digest), read from each
post's message metadata. An update of a merged alert sends nothing: the digest's
"List all" shows it as it is now."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.services.alert_routing import AlertInfo
from bot.services.audience import Recipient
from bot.views.alerts import alert_message, message_metadata


class OutboxAlertNotifier:
    """The `AlertNotifier` the API, the command line, the handlers and the jobs hand in."""

    async def posted(
        self,
        session: AsyncSession,
        *,
        msp_id: int,
        alert: AlertInfo,
        recipients: Sequence[Recipient],
    ) -> dict[str, str]:
        message = alert_message(alert)
        metadata = message_metadata(alert)
        keys: dict[str, str] = {}
        for recipient in recipients:
            key = outbox.new_key(f"alert:{alert.id}")
            await outbox.post_message(
                session,
                msp_id=msp_id,
                key=key,
                channel=recipient.channel,
                thread_key=recipient.thread_of,
                metadata=metadata,
                coalescible=True,
                hold=recipient.hold,
                **message.as_kwargs(),
            )
            keys[recipient.channel] = key
        return keys

    async def changed(
        self, session: AsyncSession, *, msp_id: int, alert: AlertInfo, keys: Sequence[str]
    ) -> None:
        message = alert_message(alert)
        for target in keys:
            await outbox.update_message(
                session,
                msp_id=msp_id,
                key=outbox.new_key(f"alert-update:{alert.id}"),
                target_key=target,
                skip_if_merged=True,
                metadata=message_metadata(alert),
                **message.as_kwargs(),
            )


NOTIFIER = OutboxAlertNotifier()
