"""How requests reach people: the approval message in the approvals channel (or
each owner's DM), updated in place once decided, and a DM to the requester; and,
when the MSP has a webhook, each decision as a signed POST to its own system.
Everything goes through the outbox, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.domain.requests import RequestStatus
from bot.notify.request_webhooks import request_event
from bot.results.requests import RequestInfo
from bot.services.settings import webhook_of
from bot.views.requests import approval_message, requester_notice


class OutboxRequestNotifier:
    """The `RequestNotifier` the handlers and the scheduler hand to the service."""

    async def submitted(
        self, session: AsyncSession, *, msp_id: int, info: RequestInfo, route: list[str]
    ) -> list[str]:
        message = approval_message(info)
        keys: list[str] = []
        for channel in route:
            key = outbox.new_key(f"request:{info.id}")
            await outbox.post_message(
                session, msp_id=msp_id, key=key, channel=channel, **message.as_kwargs()
            )
            keys.append(key)
        return keys

    async def decided(self, session: AsyncSession, *, msp_id: int, info: RequestInfo) -> None:
        message = approval_message(info)
        for target in info.message_keys:
            await outbox.update_message(
                session,
                msp_id=msp_id,
                key=outbox.new_key(f"request-update:{info.id}"),
                target_key=target,
                **message.as_kwargs(),
            )
        if info.status != RequestStatus.WITHDRAWN:  # the requester did that themselves
            notice = requester_notice(info)
            await outbox.post_message(
                session,
                msp_id=msp_id,
                key=outbox.new_key(f"request-notice:{info.id}"),
                channel=info.requested_by,
                **notice.as_kwargs(),
            )
        await _queue_webhook(session, msp_id=msp_id, info=info)


async def _queue_webhook(session: AsyncSession, *, msp_id: int, info: RequestInfo) -> None:
    """Called inside the deciding transaction, so each decision is queued once; the
    key names the request and the event, so even a second call would not repeat it."""
    webhook = await webhook_of(session, msp_id)
    if webhook is None:
        return
    team_id, url = webhook
    body = request_event(info, team_id=team_id)
    await outbox.enqueue_webhook(
        session,
        msp_id=msp_id,
        key=f"webhook:request:{info.id}:{body['event']}",
        url=url,
        body=body,
    )
