"""Logging as text (for people) or JSON lines (for log collectors).

A redacting filter hides anything shaped like a Slack token or a webhook signing
key (64 hex digits), as a second line of defence: the code never logs secrets on
purpose.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot import log_context
from bot.config import LogFormat

# Slack tokens: bot, user, app-level, and rotation's `xoxe.xoxb-...` and `xoxe-...`
# refresh tokens (distribution mode keeps them in the database, not in Settings).
_TOKEN = re.compile(r"\bx(?:ox[abposre]|app)[.-][A-Za-z0-9.-]+")
_SIGNING_KEY = re.compile(r"\b[0-9a-fA-F]{64}\b")  # bot.delivery.webhooks.signing_key
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str, known: tuple[str, ...] = ()) -> str:
    for secret in known:
        text = text.replace(secret, "[redacted-secret]")
    return _SIGNING_KEY.sub("[redacted-key]", _TOKEN.sub("[redacted-token]", text))


class RedactingFilter(logging.Filter):
    """Hides tokens by their shape, and the configured secrets (the signing secret,
    the webhook and metrics secrets) by their value, in messages and in extras.
    Adds the request, team and user ids of the work that logged."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        # Long ones first, so a secret containing another is hidden whole.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, redact(value, self._secrets))
        for name, value in log_context.fields().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self._secrets
            )
        return True


class DropBoltClientTokenWarning(logging.Filter):
    """Bolt falls back to SLACK_BOT_TOKEN from the environment even when we hand it a
    configured client, then warns that the token is unused: true and harmless."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {
                k: v
                for k, v in record.__dict__.items()
                if k not in _STANDARD_ATTRS and not k.startswith("_")
            }
        )
        if record.exc_info:
            entry["traceback"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "team_id", "user_id", "error_id")
            if getattr(record, name, None)
        )
        return f"{text} [{ids}]" if ids else text

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def configure_logging(
    *, level: str, log_format: LogFormat, secrets: tuple[str, ...] = (), stream: Any = None
) -> None:
    """`secrets`: values never to write (the configured tokens and secrets)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == LogFormat.JSON else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt logs every request at DEBUG and some routine things at WARNING/INFO.
    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.setLevel(max(logging.getLevelName(level), logging.INFO))
    bolt_logger.addFilter(DropBoltClientTokenWarning())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
