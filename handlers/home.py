"""The App Home tab, published when someone opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.delivery import outbox
from bot.domain import subcommands
from bot.domain.subcommands import Subcommand
from bot.ids import EventType, SlashCommand
from bot.views.home import home_view
from handlers.deps import Deps
from handlers.middleware import requester_of
from handlers.registry import Listeners


def register(listeners: Listeners, deps: Deps) -> None:
    async def publish_home(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("tab") != "home":
            return
        requester = requester_of(context)
        view = home_view(
            role=requester.role,
            command=SlashCommand.MSP,
            entries=subcommands.available_to(requester.role),
            may_add_customers=subcommands.may_use(requester.role, Subcommand.ADD),
        )
        async with deps.db.unit_of_work() as session:
            await outbox.publish_home(
                session, msp_id=requester.msp_id, user_id=requester.user_id, view=view
            )
        deps.delivery.wake()

    listeners.event(EventType.APP_HOME_OPENED, publish_home)
