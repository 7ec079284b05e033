"""`/msp delivery`: the outbox at a glance, for admins."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.services.delivery_status import DeliveryStatus
from bot.views.message import Message
from bot.views.mrkdwn import escape

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
}


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
            f"• `{escape(reason)}`: {count}"
            + (f": {REASON_HINTS[reason]}" if reason in REASON_HINTS else "")
            for reason, count in sorted(status.failed_by_reason.items(), key=lambda kv: -kv[1])
        )
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Failed in the last 7 days*\n{reasons}"))
        )
    if status.recent_failures:
        recent = "\n".join(
            f"• {_where(f.lane)}: {escape(f.kind)} `{escape(f.reason)}`"
            for f in status.recent_failures
        )
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Latest failures*\n{recent}"[:3000]))
        )
    counters = (
        ", ".join(f"{name} {count:,}" for name, count in sorted(this_process.items()))
        or "nothing yet"
    )
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=f"This replica since it started: {counters}")]
        )
    )
    return Message.of(f"Slack delivery: {status.queued} waiting, {failed} failed today", blocks)


def _where(lane: str) -> str:
    if lane.startswith("webhook:"):
        return "The webhook"
    if lane.startswith("home:"):
        return f"Home tab of <@{escape(lane.removeprefix('home:'))}>"
    if lane[:1] in ("C", "G"):
        return f"<#{escape(lane)}>"
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
