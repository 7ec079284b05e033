"""`/msp settings`: every setting of the MSP, and the ones its owners and admins
change (where requests go, self-approval, expiry, the webhook, trial notices, the
time zone and the default monthly price)."""

from __future__ import annotations

import re

from bot.errors import InvalidInput
from bot.services import settings
from bot.views.message import Message
from bot.views.settings import settings_message
from handlers.kit import Invocation

SETTINGS_USAGE = (
    "Usage: `/msp settings` to see them all; `/msp settings approvals #channel` (or `none`: "
    "requests then go to the owners by DM), `/msp settings self-approval on|off`, "
    "`/msp settings expiry DAYS`, `/msp settings webhook https://...` (or `off`), "
    "`/msp settings trial-notices 7,3,1` (days before a trial ends), "
    "`/msp settings timezone Europe/Berlin`, `/msp settings price 75` (the monthly "
    "price per licence new customers start with)."
)
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
# With should_escape on, Slack sends a link as <https://...> or <https://...|label>.
_LINK = re.compile(r"^<([^|>]+)(?:\|[^>]*)?>$")
_OFF_WORDS = frozenset({"off", "none"})


async def settings_command(call: Invocation) -> Message:
    requester = call.requester
    change = parse_settings_arguments(call.args)
    async with call.deps.db.unit_of_work() as session:
        if change is None:
            current = await settings.msp_settings(session, requester=requester)
            return settings_message(current)
        changed = await settings.change_settings(
            session,
            requester=requester,
            change=change,
            now=call.deps.clock(),
            webhooks_enabled=call.deps.webhooks_enabled,
            webhook_destinations=call.deps.webhook_destinations,
        )
    return settings_message(changed.overview, change=changed)


def parse_settings_arguments(args: list[str]) -> settings.SettingsChange | None:
    if not args:
        return None
    if args[0].lower() == "webhook" and len(args) > 1:
        return _webhook_change(" ".join(args[1:]))  # a link's label may have spaces
    if len(args) != 2:
        raise InvalidInput(SETTINGS_USAGE)
    word, value = args[0].lower(), args[1]
    if word == "approvals":
        if value.lower() == "none":
            return settings.SettingsChange(clear_channel=True)
        match = _CHANNEL.match(value)
        if match is None:
            raise InvalidInput(
                "Name the channel with #, for example `/msp settings approvals #approvals`."
            )
        return settings.SettingsChange(approvals_channel=match[1])
    if word == "self-approval" and value.lower() in ("on", "off"):
        return settings.SettingsChange(allow_self_approval=value.lower() == "on")
    if word == "expiry":
        return settings.SettingsChange(request_expiry_days=settings.parse_expiry_days(value))
    if word == "trial-notices":
        return settings.SettingsChange(trial_notice_days=settings.parse_trial_notice_days(value))
    if word in ("timezone", "time-zone", "tz"):
        return settings.SettingsChange(timezone=settings.parse_timezone(value))
    if word == "price":
        return settings.SettingsChange(default_monthly_price=settings.parse_default_price(value))
    raise InvalidInput(SETTINGS_USAGE)


def _webhook_change(value: str) -> settings.SettingsChange:
    if value.lower() in _OFF_WORDS:
        return settings.SettingsChange(clear_webhook=True)
    match = _LINK.match(value)
    url = match[1] if match else value
    # Slack escapes &, < and > in the text it sends, inside links too.
    url = url.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return settings.SettingsChange(webhook_url=settings.parse_webhook_url(url))
