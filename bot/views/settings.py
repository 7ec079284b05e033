"""`/msp settings`: every setting of the MSP, each with how to change it. What the
MSP decides comes first; what the vendor grants (the operator's to set) after it,
read-only, with the command the operator runs."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, DividerBlock, MarkdownTextObject, SectionBlock

from bot.domain.customers import MAX_CUSTOMERS_OPTION, operator_set_command
from bot.domain.msp_settings import SEAT_ALLOWANCE_OPTION, TRIAL_DAYS_OPTION
from bot.results.settings import SettingsOverview
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, channel_link, join, money, mrkdwn, number


def settings_message(overview: SettingsOverview, *, changed: bool) -> Message:
    current, grants = overview.settings, overview.grants
    where = (
        channel_link(current.approvals_channel)
        if current.approvals_channel
        else "the owners, by DM (no approvals channel set)"
    )
    title = ":white_check_mark: Settings saved" if changed else "*Settings of your MSP*"
    ours = join(
        "\n",
        (
            mrkdwn(
                "{title}\n_Owners and admins change these with the command beside each._",
                title=mrkdwn(title),
            ),
            _line("Requests go to", where, "approvals #channel|none"),
            _line(
                "Approving your own requests",
                "allowed (one-person MSP)" if current.allow_self_approval else "not allowed",
                "self-approval on|off",
            ),
            _line(
                "Pending requests expire after",
                f"{current.request_expiry_days} days",
                "expiry DAYS",
            ),
            _line(
                "Webhook for decisions", current.webhook_url or "none", "webhook https://...|off"
            ),
            _line(
                "Trial notices",
                f"{current.trial_notice_days.replace(',', ', ')} days before a trial ends",
                "trial-notices 7,3,1",
            ),
            _line("Time zone", current.timezone, "timezone Europe/Berlin"),
            _line(
                "Default price per licence",
                f"{money(current.default_monthly_price)} a month, for new customers",
                "price 75",
            ),
        ),
    )
    seats = number(grants.seat_allowance) if grants.seat_allowance is not None else "none"
    team = overview.team_id
    granted = join(
        "\n",
        (
            Mrkdwn(
                "*Granted by the vendor*\n_Only the bot's operator changes these: ask them "
                "to run the command beside the one to change._"
            ),
            _granted(
                "Max customers",
                f"{number(grants.max_customers)} ({number(overview.customers)} now)",
                operator_set_command(team, MAX_CUSTOMERS_OPTION),
            ),
            _granted(
                "Seat allowance",
                f"{seats} ({number(overview.billable_users)} users on paid plans now)",
                operator_set_command(team, SEAT_ALLOWANCE_OPTION, "N|none"),
            ),
            _granted(
                "Trial length",
                f"{grants.trial_days} days (for trials that start from now on)",
                operator_set_command(team, TRIAL_DAYS_OPTION),
            ),
            mrkdwn(
                "*MAU allowance* {allowance} · owners order more with `/msp licence`",
                allowance=number(overview.mau_allowance),
            ),
        ),
    )
    note = Mrkdwn(
        "The time zone decides the MSP's days: when trials end, which month usage counts "
        "in, when notices go out. Dates shown in Slack are in each reader's own time zone."
    )
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=ours)),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=granted)),
        ContextBlock(elements=[MarkdownTextObject(text=note)]),
    ]
    return Message.of(mrkdwn(title), blocks)


def _line(label: str, value: str | Mrkdwn, how: str) -> Mrkdwn:
    return mrkdwn("*{label}* {value} · `/msp settings {how}`", label=label, value=value, how=how)


def _granted(label: str, value: str, command: str) -> Mrkdwn:
    return mrkdwn("*{label}* {value} · `{command}`", label=label, value=value, command=command)
