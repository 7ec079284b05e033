"""The App Home tab: the Command Center dashboard, drawn when someone opens it or
clicks Refresh, and redrawn by `bot/notify/home_tabs.py` after changes."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.ids import ActionId, EventType
from bot.notify.home_tabs import publish_home_tab
from bot.services import home_viewers
from bot.services.tenancy import Requester
from handlers.deps import Deps
from handlers.middleware import requester_of
from handlers.registry import Listeners


def register(listeners: Listeners, deps: Deps) -> None:
    async def draw(requester: Requester) -> None:
        now = deps.clock()
        async with deps.db.unit_of_work() as session:
            await home_viewers.opened(session, requester=requester, now=now)
            await publish_home_tab(session, requester=requester, now=now)
        deps.delivery.wake()

    async def on_home_opened(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("tab") == "home":
            await draw(requester_of(context))

    async def on_refresh(ack: AsyncAck, context: AsyncBoltContext) -> None:
        await ack()
        await draw(requester_of(context))

    listeners.event(EventType.APP_HOME_OPENED, on_home_opened)
    listeners.action(ActionId.HOME_REFRESH, on_refresh)
