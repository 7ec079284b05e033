"""`/msp settings`: every setting of the MSP, each with how to change it. What the
MSP decides comes first; what the vendor grants (the operator's to set) after it,
read-only, with whom to ask, and the operator's command in a line addressed to them.
After a change, the first line says what changed, or that nothing did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.models.blocks import ContextBlock, DividerBlock, MarkdownTextObject, SectionBlock

from bot.domain.customers import MAX_CUSTOMERS_OPTION
from bot.domain.msp_settings import SEAT_ALLOWANCE_OPTION, TRIAL_DAYS_OPTION
from bot.results.settings import MspSettings, SettingsChanged, SettingsOverview
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, channel_link, join, money, mrkdwn, number


@dataclass(frozen=True, slots=True)
class _Setting:
    """One setting as the list shows it: `value` is what a change line shows too,
    `after` what the list adds (the days are "before a trial ends")."""

    name: str  # the MspSettings field
    label: str
    value: Callable[[MspSettings], str | Mrkdwn]
    how: str  # after `/msp settings `
    after: str = ""


def _approvals(settings: MspSettings) -> str | Mrkdwn:
    if settings.approvals_channel:
        return channel_link(settings.approvals_channel)
    return "the owners, by DM (no approvals channel set)"


SETTINGS: tuple[_Setting, ...] = (
    _Setting("approvals_channel", "Requests go to", _approvals, "approvals #channel|none"),
    _Setting(
        "allow_self_approval",
        "Approving your own requests",
        lambda s: "allowed (one-person MSP)" if s.allow_self_approval else "not allowed",
        "self-approval on|off",
    ),
    _Setting(
        "request_expiry_days",
        "Pending requests expire after",
        lambda s: f"{s.request_expiry_days} days",
        "expiry DAYS",
    ),
    _Setting(
        "webhook_url",
        "Webhook for decisions",
        lambda s: s.webhook_url or "none",
        "webhook https://...|off",
    ),
    _Setting(
        "trial_notice_days",
        "Trial notices",
        lambda s: f"{s.trial_notice_days.replace(',', ', ')} days",
        "trial-notices 7,3,1",
        after=" before a trial ends",
    ),
    _Setting("timezone", "Time zone", lambda s: s.timezone, "timezone Europe/Berlin"),
    _Setting(
        "default_monthly_price",
        "Default price per licence",
        lambda s: f"{money(s.default_monthly_price)} a month",
        "price 75",
        after=", for new customers",
    ),
)


def settings_message(
    overview: SettingsOverview, *, change: SettingsChanged | None = None
) -> Message:
    """Every setting; after `change`, headed by what it changed."""
    current, grants = overview.settings, overview.grants
    title = _changed_line(change) if change is not None else mrkdwn("*Settings of your MSP*")
    ours = join(
        "\n",
        (
            mrkdwn(
                "{title}\n_Owners and admins change these with the command beside each._",
                title=title,
            ),
            *(_line(setting, current) for setting in SETTINGS),
        ),
    )
    seats = number(grants.seat_allowance) if grants.seat_allowance is not None else "none"
    granted = join(
        "\n",
        (
            Mrkdwn(
                "*Granted by the vendor*\n_The person who runs msp-bot (the operator) sets "
                "these: ask them to raise one._"
            ),
            _granted(
                "Max customers",
                f"{number(grants.max_customers)} ({number(overview.customers)} now)",
            ),
            _granted(
                "Seat allowance",
                f"{seats} ({number(overview.billable_users)} users on paid plans now)",
            ),
            _granted(
                "Trial length", f"{grants.trial_days} days (for trials that start from now on)"
            ),
            mrkdwn(
                "*MAU allowance* {allowance} · owners order more with `/msp licence`",
                allowance=number(overview.mau_allowance),
            ),
        ),
    )
    # Staff cannot run it: the command is for them to pass on, and says so.
    for_operator = mrkdwn(
        "For the operator: `msp-bot msp set --team {team}` with `{customers} N`, "
        "`{seats} N|none` or `{trial} N`.",
        team=overview.team_id,
        customers=MAX_CUSTOMERS_OPTION,
        seats=SEAT_ALLOWANCE_OPTION,
        trial=TRIAL_DAYS_OPTION,
    )
    note = Mrkdwn(
        "The time zone decides the MSP's days: when trials end, which month usage counts "
        "in, when notices go out. Dates shown in Slack are in each reader's own time zone."
    )
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=ours)),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=granted)),
        ContextBlock(elements=[MarkdownTextObject(text=for_operator)]),
        ContextBlock(elements=[MarkdownTextObject(text=note)]),
    ]
    return Message.of(title, blocks)


def _changed_line(change: SettingsChanged) -> Mrkdwn:
    """`Settings saved: Trial notices 7, 3, 1 days → 7, 3 days`, or, when the setting
    already had the value asked for, `Nothing changed: Trial notices stays 7, 3 days`."""
    after = change.overview.settings
    named = [setting for setting in SETTINGS if setting.name in change.named]
    moved = [s for s in named if s.value(change.before) != s.value(after)]
    if moved:
        changes = join(
            "; ",
            (
                mrkdwn(
                    "*{label}* {before} → {after}",
                    label=s.label,
                    before=s.value(change.before),
                    after=s.value(after),
                )
                for s in moved
            ),
        )
        return mrkdwn(":white_check_mark: Settings saved: {changes}", changes=changes)
    kept = join(
        "; ",
        (mrkdwn("*{label}* stays {value}", label=s.label, value=s.value(after)) for s in named),
    )
    return mrkdwn(":information_source: Nothing changed: {kept}.", kept=kept or "no setting named")


def _line(setting: _Setting, current: MspSettings) -> Mrkdwn:
    return mrkdwn(
        "*{label}* {value}{after} · `/msp settings {how}`",
        label=setting.label,
        value=setting.value(current),
        after=setting.after,
        how=setting.how,
    )


def _granted(label: str, value: str) -> Mrkdwn:
    return mrkdwn("*{label}* {value}", label=label, value=value)
