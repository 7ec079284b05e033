"""Every identifier Slack routes on, in one place (commands, events, callback,
action and block ids). Handlers register on these; the manifest test checks them."""

from __future__ import annotations

from enum import StrEnum


class SlashCommand(StrEnum):
    MSP = "/msp"


class EventType(StrEnum):
    APP_HOME_OPENED = "app_home_opened"


class BlockId(StrEnum):
    HELP_HEADER = "help_header"
    HELP_COMMANDS = "help_commands"
    HOME_HEADER = "home_header"
    HOME_BODY = "home_body"
