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

from bot.config import LogFormat

_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+")
_SIGNING_KEY = re.compile(r"\b[0-9a-fA-F]{64}\b")  # bot.delivery.webhooks.signing_key
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    return _SIGNING_KEY.sub("[redacted-key]", _TOKEN.sub("[redacted-token]", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
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
            entry["traceback"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def configure_logging(*, level: str, log_format: LogFormat) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == LogFormat.JSON else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt logs every request at DEBUG and some routine things at WARNING/INFO.
    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.setLevel(max(logging.getLevelName(level), logging.INFO))
    bolt_logger.addFilter(DropBoltClientTokenWarning())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
