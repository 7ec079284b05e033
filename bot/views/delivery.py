"""`/msp delivery`: the outbox at a glance, for admins."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.results.delivery_status import DeliveryStatus
from bot.views.message import Message
from bot.views.mrkdwn import channel_link, escape, mention, mrkdwn, slack_time

REASON_HINTS = {
    "not_in_channel": "invite the bot to the channel (/invite)",
    "channel_not_found": "the channel was deleted, or is private and the bot is not in it",
    "is_archived": "the channel is archived",
    "invalid_auth": "the bot token is wrong: check SLACK_BOT_TOKEN",
    "token_revoked": "the app was uninstalled or its token revoked: reinstall it",
    "account_inactive": "the bot user was deactivated: reinstall the app",
    "missing_scope": "the app lacks a scope: reinstall it from app-manifest.yml",
    "webhook_secret_missing": "set MSPBOT_WEBHOOK_SECRET on every replica: webhooks are "
    "signed with it",
    "could_not_connect": "could not connect to the webhook's receiver (or it did not answer "
    "in 10 s): check the URL and that the receiver is up",
    "address_not_allowed": "address not allowed: the webhook's host is not a public address; "
    "set a public https URL with `/msp settings webhook`",
}
GAVE_UP = "gave_up: "


def delivery_message(status: DeliveryStatus, *, this_process: dict[str, int]) -> Message:
    age = _age(status.oldest_age_seconds)
    sent = status.last_day.get("sent", 0)
    failed = status.last_day.get("failed", 0)
    lines = [
        f"*Waiting to go out:* {status.queued:,}" + (f" (oldest {age})" if age else ""),
        f"*Last 24 hours:* {sent:,} sent, {failed:,} failed for good, "
        f"{status.last_day.get('coalesced', 0):,} merged into digests",
    ]
    blocks: list[Block] = [
        HeaderBlock(text="Slack delivery"),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
    ]
    if status.failed_by_reason:
        reasons = "\n".join(
            f"• `{escape(reason)}`: {count}" + (f": {_hint(reason)}" if _hint(reason) else "")
            for reason, count in sorted(status.failed_by_reason.items(), key=lambda kv: -kv[1])
        )
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Failed in the last 7 days*\n{reasons}"))
        )
    if status.recent_failures:
        recent = "\n".join(
            f"• {slack_time(f.at)} · {_where(f.lane)}"
            + ("" if f.lane.startswith("webhook:") else f" ({escape(f.kind)})")
            + f": `{escape(f.reason)}`"
            for f in status.recent_failures
        )
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Latest failures*\n{recent}"[:3000]))
        )
    counters = escape(
        ", ".join(f"{name} {count:,}" for name, count in sorted(this_process.items()))
        or "nothing yet"
    )
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=f"This replica since it started: {counters}")]
        )
    )
    text = mrkdwn(
        "Slack delivery: {queued} waiting, {failed} failed today",
        queued=status.queued,
        failed=failed,
    )
    return Message.of(text, blocks)


def _hint(reason: str) -> str | None:
    """What to do about a failure (also after the retries gave up on it)."""
    return REASON_HINTS.get(reason.removeprefix(GAVE_UP))


def _where(lane: str) -> str:
    if lane.startswith("webhook:"):
        return "The webhook"
    if lane.startswith("home:"):
        return mrkdwn("Home tab of {who}", who=mention(lane.removeprefix("home:")))
    if lane[:1] in ("C", "G"):
        return channel_link(lane)
    if lane[:1] in ("U", "W", "D"):
        return f"DM {escape(lane)}"
    return escape(lane)


def _age(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
