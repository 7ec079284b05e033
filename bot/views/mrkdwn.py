"""Putting text into Slack's mrkdwn safely."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

_SLACK_ID = re.compile(r"^[UWBCGD][A-Z0-9]{1,31}$")


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters.

    Without this a customer named `<!channel>` would ping a whole channel.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str) -> str:
    """`<@U123>` for a well-formed user id; anything else is shown as escaped text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)


def slack_date(day: date) -> str:
    """A date each reader sees in their own locale; noon UTC keeps the same calendar
    day for readers from UTC-11 to UTC+11."""
    stamp = int(datetime.combine(day, time(12), tzinfo=UTC).timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}}|{day.isoformat()}>"


def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def number(value: int) -> str:
    return f"{value:,}"
