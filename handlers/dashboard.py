"""`/msp dashboard [share]`: the Command Center summary for the person, or posted
to the channel for everyone in it (through the outbox)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.delivery import outbox
from bot.errors import InvalidInput
from bot.ids import ActionId
from bot.services import dashboard
from bot.services.tenancy import Requester
from bot.views.dashboard import dashboard_message
from bot.views.message import Message
from bot.views.notices import done_message
from handlers.customers import FollowUp, Invocation
from handlers.deps import Deps
from handlers.middleware import requester_of
from handlers.registry import Listeners

USAGE = "Usage: `/msp dashboard` (just for you) or `/msp dashboard share` (post it here)."


async def dashboard_command(call: Invocation) -> Message | FollowUp:
    requester = requester_of(call.context)
    if not call.args:
        async with call.deps.db.unit_of_work() as session:
            board = await dashboard.dashboard(session, requester=requester, now=call.deps.clock())
        return dashboard_message(board)
    if call.args != ["share"]:
        raise InvalidInput(USAGE)
    return await share(call.deps, requester, channel_id=str(call.command.get("channel_id", "")))


async def share(deps: Deps, requester: Requester, *, channel_id: str) -> Message:
    """Post the person's dashboard to the channel. The worker joins public channels
    the bot is not in; what cannot be delivered shows in `/msp delivery`."""
    if not channel_id:
        raise InvalidInput("I can only share the dashboard in a channel or conversation.")
    async with deps.db.unit_of_work() as session:
        board = await dashboard.dashboard(session, requester=requester, now=deps.clock())
        message = dashboard_message(board, shared_by=requester.user_id)
        await outbox.post_message(
            session,
            msp_id=requester.msp_id,
            key=outbox.new_key(f"dashboard:{requester.user_id}"),
            channel=channel_id,
            **message.as_kwargs(),
        )
    deps.delivery.wake()
    return done_message("Posting the dashboard to this conversation.")


def register(listeners: Listeners, deps: Deps) -> None:
    async def share_from_button(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        await ack()
        channel_id = str((body.get("channel") or {}).get("id", ""))
        notice = await share(deps, requester_of(context), channel_id=channel_id)
        await respond(response_type="ephemeral", replace_original=True, **notice.as_kwargs())

    listeners.action(ActionId.DASHBOARD_SHARE, share_from_button)
