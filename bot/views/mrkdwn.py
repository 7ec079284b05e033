"""Putting text into Slack's mrkdwn safely."""

from __future__ import annotations

import re

_SLACK_ID = re.compile(r"^[UWBCGD][A-Z0-9]{1,31}$")


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters.

    Without this a customer named `<!channel>` would ping a whole channel.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str) -> str:
    """`<@U123>` for a well-formed user id; anything else is shown as escaped text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)
