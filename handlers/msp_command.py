"""`/msp` and its subcommands. Each subcommand is one small function that calls a
service and returns a view to ack with, work to do right after an empty ack
(opening a modal), or both (an answer, then a file built after it); `handle_msp`
routes, checks the role and acks."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import subcommands
from bot.domain.roles import Role, parse_role
from bot.domain.subcommands import Subcommand
from bot.errors import InvalidInput, NotAllowed
from bot.ids import SlashCommand
from bot.services import staff
from bot.services.delivery_status import delivery_status
from bot.services.tenancy import Requester
from bot.views.delivery import delivery_message
from bot.views.help import help_message, help_topic_message, unknown_subcommand_notice
from bot.views.message import Message
from bot.views.staff import role_change_message, staff_list_message, whoami_message
from handlers import (
    alerts,
    customer_export,
    customers,
    dashboard,
    licence,
    requests,
    settings,
    subscriptions,
)
from handlers.deps import Deps
from handlers.kit import AnswerThen, FollowUp, Invocation, call_service
from handlers.payload_types import CommandPayload
from handlers.registry import Route

# With should_escape on, Slack sends a mention as <@U123|name> (or <@U123>).
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_REMOVE_WORDS = frozenset({"none", "remove"})

ROLE_USAGE = "Usage: `/msp role @person owner|admin|approver|member|viewer|none`"

Subhandler = Callable[[Invocation], Awaitable[Message | FollowUp | AnswerThen]]


async def handle_msp(
    ack: AsyncAck,
    command: CommandPayload,
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    words = str(command.get("text", "")).split()
    call = Invocation(context, command, words[1:], deps, client, respond)
    result = await _run(call, words[0] if words else "")
    if isinstance(result, Message):
        await ack(response_type="ephemeral", **result.as_kwargs())
    elif isinstance(result, AnswerThen):
        await ack(response_type="ephemeral", **result.answer.as_kwargs())
        await result.then()
    else:
        await ack()
        await result()


async def _run(call: Invocation, word: str) -> Message | FollowUp | AnswerThen:
    requester = call.requester
    subcommand = subcommands.parse_subcommand(word)
    if subcommand is None:
        suggestion = subcommands.suggest(word)
        notice = unknown_subcommand_notice(
            command=SlashCommand.MSP, word=word, suggestion=suggestion.value if suggestion else None
        )
        return _help(requester, notice=notice)
    if not subcommands.may_use(requester.role, subcommand):
        raise NotAllowed(
            subcommands.not_allowed_reason(
                requester.role, subcommand, what=f"`{SlashCommand.MSP} {subcommand}`"
            )
        )
    return await SUBHANDLERS[subcommand](call)


def _staff_role(requester: Requester) -> Role:
    assert requester.role is not None, "the middleware turns away people who are not staff"
    return requester.role


def _help(requester: Requester, *, notice: str | None = None) -> Message:
    role = _staff_role(requester)
    if notice is None:
        return _plain_help(role)
    return help_message(
        command=SlashCommand.MSP, role=role, entries=subcommands.available_to(role), notice=notice
    )


@functools.cache
def _plain_help(role: Role) -> Message:
    """The help card depends only on the role; building Block Kit is the costliest
    part of answering `/msp help`, so each role's card is built once."""
    return help_message(command=SlashCommand.MSP, role=role, entries=subcommands.available_to(role))


async def _show_help(call: Invocation) -> Message:
    """`/msp help`, or `/msp help NAME`: one command's whole syntax."""
    if not call.args:
        return _help(call.requester)
    word = call.args[0]
    subcommand = subcommands.parse_subcommand(word)
    if subcommand is None:
        suggestion = subcommands.suggest(word)
        notice = unknown_subcommand_notice(
            command=SlashCommand.MSP, word=word, suggestion=suggestion.value if suggestion else None
        )
        return _help(call.requester, notice=notice)
    return help_topic_message(
        command=SlashCommand.MSP,
        role=_staff_role(call.requester),
        spec=subcommands.spec_of(subcommand),
    )


async def _show_whoami(call: Invocation) -> Message:
    requester = call.requester
    role = _staff_role(requester)
    return whoami_message(
        user_id=requester.user_id,
        role=role,
        command=SlashCommand.MSP,
        entries=subcommands.available_to(role),
    )


async def _show_roles(call: Invocation) -> Message:
    entries = await call_service(call.deps, staff.list_staff, requester=call.requester)
    return staff_list_message(staff=[(entry.user_id, entry.role) for entry in entries])


async def _change_role(call: Invocation) -> Message:
    requester = call.requester
    target_user_id, new_role = parse_role_arguments(call.args)
    change = await call_service(
        call.deps,
        staff.change_role,
        requester=requester,
        target_user_id=target_user_id,
        new_role=new_role,
        now=call.deps.clock(),
    )
    call.deps.requesters.forget(requester.team_id, change.user_id)
    return role_change_message(user_id=change.user_id, before=change.before, after=change.after)


async def _show_delivery(call: Invocation) -> Message:
    status = await call_service(
        call.deps, delivery_status, requester=call.requester, now=datetime.now(UTC)
    )
    stats = call.deps.delivery.stats
    counters = {
        "sent": sum(stats.sent.values()),
        "retried": sum(stats.retried.values()),
        "failed": sum(stats.failed.values()),
        "rate-limited": stats.rate_limited,
        "merged": stats.coalesced,
    }
    return delivery_message(status, this_process=counters)


def parse_role_arguments(args: list[str]) -> tuple[str, Role | None]:
    """`<@U123|name> admin` -> ("U123", Role.ADMIN); `none`/`remove` -> None."""
    if len(args) != 2:
        raise InvalidInput(ROLE_USAGE)
    match = _MENTION.match(args[0])
    if match is None:
        raise InvalidInput(f"Mention the person with @ (pick them from the list). {ROLE_USAGE}")
    if args[1].lower() in _REMOVE_WORDS:
        return match.group(1), None
    role = parse_role(args[1])
    if role is None:
        raise InvalidInput(f"`{args[1][:30]}` is not a role. {ROLE_USAGE}")
    return match.group(1), role


SUBHANDLERS: dict[Subcommand, Subhandler] = {
    Subcommand.HELP: _show_help,
    Subcommand.WHOAMI: _show_whoami,
    Subcommand.ROLES: _show_roles,
    Subcommand.ROLE: _change_role,
    Subcommand.ADD: customers.add_command,
    Subcommand.CUSTOMER: customers.customer_command,
    Subcommand.CUSTOMERS: customers.customers_command,
    Subcommand.EXPORT: customer_export.export_command,
    Subcommand.DELIVERY: _show_delivery,
    Subcommand.DASHBOARD: dashboard.dashboard_command,
    Subcommand.LICENCE: licence.licence_command,
    Subcommand.MAU: licence.mau_command,
    Subcommand.REQUEST: requests.request_command,
    Subcommand.REQUESTS: requests.requests_command,
    Subcommand.SETTINGS: settings.settings_command,
    Subcommand.SUBSCRIBE: subscriptions.subscribe_command,
    Subcommand.UNSUBSCRIBE: subscriptions.unsubscribe_command,
    Subcommand.SUBSCRIPTIONS: subscriptions.subscriptions_command,
    Subcommand.ALERTS: alerts.alerts_command,
}


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (Route("command", SlashCommand.MSP, handle_msp),)
