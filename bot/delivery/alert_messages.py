"""How alerts reach their subscribers: a message per conversation through the
outbox, in the caller's transaction, updated in place under its key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.services.alert_routing import AlertInfo
from bot.views.alerts import alert_message


class OutboxAlertNotifier:
    """The `AlertNotifier` the API, the command line and the handlers hand in."""

    async def posted(
        self, session: AsyncSession, *, msp_id: int, alert: AlertInfo, conversations: Sequence[str]
    ) -> dict[str, str]:
        message = alert_message(alert)
        keys: dict[str, str] = {}
        for channel in conversations:
            key = outbox.new_key(f"alert:{alert.id}")
            await outbox.post_message(
                session, msp_id=msp_id, key=key, channel=channel, **message.as_kwargs()
            )
            keys[channel] = key
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
                **message.as_kwargs(),
            )


NOTIFIER = OutboxAlertNotifier()
