"""`/msp dashboard [share]`: the Command Center summary for the person, or posted
to the channel for everyone in it (through the outbox), only once the person has
clicked a button that names that channel."""

from __future__ import annotations

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.delivery import outbox
from bot.errors import InvalidInput
from bot.ids import ActionId
from bot.payloads import ShareTarget
from bot.services import dashboard
from bot.services.tenancy import Requester
from bot.views.dashboard import dashboard_message, share_preview_message
from bot.views.message import Message
from bot.views.mrkdwn import channel_link, mrkdwn
from bot.views.notices import done_message
from handlers.deps import Deps
from handlers.kit import FollowUp, Invocation, call_service
from handlers.middleware import requester_of
from handlers.payload_types import ActionPayload, InteractionBody
from handlers.registry import Route

USAGE = (
    "Usage: `/msp dashboard` (just for you) or `/msp dashboard share` (a preview, "
    "then a button that posts it here)."
)
NO_CHANNEL = "I can only share the dashboard in a channel or conversation."
ELSEWHERE = "That button shares the dashboard in another conversation: use the one shown here."


async def dashboard_command(call: Invocation) -> Message | FollowUp:
    requester = call.requester
    if call.args not in ([], ["share"]):
        raise InvalidInput(USAGE)
    channel_id = str(call.command.get("channel_id", ""))
    if call.args and not channel_id:
        raise InvalidInput(NO_CHANNEL)
    board = await call_service(
        call.deps, dashboard.dashboard, requester=requester, now=call.deps.clock()
    )
    if not call.args:
        return dashboard_message(board, share_in=channel_id or None, viewer=requester.user_id)
    return share_preview_message(board, user_id=requester.user_id, channel_id=channel_id)


async def share(deps: Deps, requester: Requester, *, channel_id: str) -> Message:
    """Post the person's dashboard to the channel. The worker joins public channels
    the bot is not in; what cannot be delivered shows in `/msp delivery`."""
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
    return done_message(mrkdwn("Posting the dashboard in {where}.", where=channel_link(channel_id)))


def clicked_channel(body: InteractionBody, target: ShareTarget) -> str:
    """The conversation the button was clicked in, when it is the one it named."""
    channel_id = str((body.get("channel") or {}).get("id", ""))
    if not channel_id:
        raise InvalidInput(NO_CHANNEL)
    if channel_id != target.channel:
        raise InvalidInput(ELSEWHERE)
    return channel_id


async def share_from_button(
    ack: AsyncAck,
    action: ActionPayload,
    body: InteractionBody,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    await ack()
    channel_id = clicked_channel(body, ShareTarget.decode(action.get("value")))
    notice = await share(deps, requester_of(context), channel_id=channel_id)
    await respond(response_type="ephemeral", replace_original=True, **notice.as_kwargs())


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (Route("action", ActionId.DASHBOARD_SHARE, share_from_button),)
