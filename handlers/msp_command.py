"""`/msp` and its subcommands. Each subcommand is one small function that calls a
service and returns a view; `handle_msp` routes, checks the role and acks once."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.domain import subcommands
from bot.domain.roles import Role, parse_role
from bot.domain.subcommands import Subcommand
from bot.errors import InvalidInput, NotAllowed
from bot.ids import SlashCommand
from bot.services import staff
from bot.services.tenancy import Requester
from bot.views.help import help_message, unknown_subcommand_notice
from bot.views.message import Message
from bot.views.staff import role_change_message, staff_list_message, whoami_message
from handlers.deps import Deps
from handlers.middleware import requester_of
from handlers.registry import Listeners

# With should_escape on, Slack sends a mention as <@U123|name> (or <@U123>).
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_REMOVE_WORDS = frozenset({"none", "remove"})

ROLE_USAGE = "Usage: `/msp role @person owner|admin|approver|member|viewer|none`"

Subhandler = Callable[[Requester, list[str], Deps], Awaitable[Message]]


def register(listeners: Listeners, deps: Deps) -> None:
    async def handle_msp(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
        requester = requester_of(context)
        message = await _run(requester, command.get("text", ""), deps)
        await ack(response_type="ephemeral", **message.as_kwargs())

    listeners.command(SlashCommand.MSP, handle_msp)


async def _run(requester: Requester, text: str, deps: Deps) -> Message:
    words = text.split()
    word = words[0] if words else ""
    subcommand = subcommands.parse_subcommand(word)
    if subcommand is None:
        suggestion = subcommands.suggest(word)
        notice = unknown_subcommand_notice(
            command=SlashCommand.MSP, word=word, suggestion=suggestion.value if suggestion else None
        )
        return _help(requester, notice=notice)
    if not subcommands.may_use(requester.role, subcommand):
        raise NotAllowed(f"Your role ({_role_label(requester)}) cannot use `/msp {subcommand}`.")
    return await SUBHANDLERS[subcommand](requester, words[1:], deps)


def _role_label(requester: Requester) -> str:
    return requester.role.value if requester.role else "none"


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


async def _show_help(requester: Requester, _args: list[str], _deps: Deps) -> Message:
    return _help(requester)


async def _show_whoami(requester: Requester, _args: list[str], _deps: Deps) -> Message:
    role = _staff_role(requester)
    return whoami_message(
        user_id=requester.user_id,
        role=role,
        command=SlashCommand.MSP,
        entries=subcommands.available_to(role),
    )


async def _show_roles(requester: Requester, _args: list[str], deps: Deps) -> Message:
    async with deps.db.unit_of_work() as session:
        entries = await staff.list_staff(session, requester=requester)
    return staff_list_message(staff=[(entry.user_id, entry.role) for entry in entries])


async def _change_role(requester: Requester, args: list[str], deps: Deps) -> Message:
    target_user_id, new_role = parse_role_arguments(args)
    async with deps.db.unit_of_work() as session:
        change = await staff.change_role(
            session,
            requester=requester,
            target_user_id=target_user_id,
            new_role=new_role,
            now=deps.clock(),
        )
    deps.requesters.forget(requester.team_id, change.user_id)
    return role_change_message(user_id=change.user_id, before=change.before, after=change.after)


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
}
