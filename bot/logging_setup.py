"""Logging as text (for people) or JSON lines (for log collectors).

A redacting filter hides anything shaped like a Slack token or a webhook signing
key (64 hex digits), as a second line of defence: the code never logs secrets on
purpose.

A text log is one line per record: control characters in any field (a request's
team or user id, a command name, an exception's message) are written as escapes
(`\\n`, `\\x1b`, `\\u2028`), so nothing a request carries can end a line and
forge the next. Tracebacks keep their own line breaks; the exception messages in
them are escaped. JSON lines need none of this: JSON escapes them itself.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from bot import log_context
from bot.config import LogFormat

# Slack tokens: bot, user, app-level, and rotation's `xoxe.xoxb-...` and `xoxe-...`
# refresh tokens (distribution mode keeps them in the database, not in Settings).
_TOKEN = re.compile(r"\bx(?:ox[abposre]|app)[.-][A-Za-z0-9.-]+")
_SIGNING_KEY = re.compile(r"\b[0-9a-fA-F]{64}\b")  # bot.delivery.webhooks.signing_key
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# What can end a line or hide text on a terminal: the C0 controls (CR, LF, tab...),
# DEL, the C1 controls (NEL among them) and Unicode's line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


def redact(text: str, known: tuple[str, ...] = ()) -> str:
    for secret in known:
        text = text.replace(secret, "[redacted-secret]")
    return _SIGNING_KEY.sub("[redacted-key]", _TOKEN.sub("[redacted-token]", text))


def escape_controls(text: str) -> str:
    """`text` with its control characters written as escapes, so it stays on one line.
    Backslashes are left alone: messages stay readable, and an escape typed by someone
    can only look like one, never break the line."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def format_exception_escaped(exc_info: ExcInfo) -> str:
    """The traceback Python prints, frames and chained exceptions included, with each
    exception's message (which may quote a request) escaped onto one line."""
    exc = exc_info[1]
    if exc is None:
        return escape_controls(logging.Formatter().formatException(exc_info))
    text = "".join(_traceback_lines(exc, seen=set()))
    return text[:-1] if text.endswith("\n") else text


def _traceback_lines(exc: BaseException, *, seen: set[int]) -> Iterator[str]:
    seen.add(id(exc))
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        yield from _traceback_lines(cause, seen=seen)
        yield "\nThe above exception was the direct cause of the following exception:\n\n"
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        yield from _traceback_lines(context, seen=seen)
        yield "\nDuring handling of the above exception, another exception occurred:\n\n"
    if exc.__traceback__ is not None:
        yield "Traceback (most recent call last):\n"
        yield from traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__)).format()
    message = "".join(traceback.format_exception_only(type(exc), exc))
    yield escape_controls(message.rstrip("\n")) + "\n"
    if isinstance(exc, BaseExceptionGroup):
        for number, inner in enumerate(exc.exceptions, 1):
            yield f"+---------------- {number} ----------------\n"
            yield from _traceback_lines(inner, seen=seen)


class RedactingFilter(logging.Filter):
    """Hides tokens by their shape, and the configured secrets (the signing secret,
    the webhook and metrics secrets) by their value, in messages and in extras.
    Adds the request, team and user ids of the work that logged. With `one_line`
    (text logs) it also escapes control characters in every one of those fields and
    in exception messages."""

    def __init__(self, secrets: tuple[str, ...] = (), *, one_line: bool = False) -> None:
        super().__init__()
        # Long ones first, so a secret containing another is hidden whole.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True))
        self._one_line = one_line

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.getMessage())
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, self._clean(value))
        for name, value in log_context.fields().items():
            if not hasattr(record, name):
                setattr(record, name, self._clean(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self._format_exception(record.exc_info), self._secrets)
        return True

    def _clean(self, text: str) -> str:
        text = redact(text, self._secrets)
        return escape_controls(text) if self._one_line else text

    def _format_exception(self, exc_info: ExcInfo) -> str:
        if self._one_line:
            return format_exception_escaped(exc_info)
        return logging.Formatter().formatException(exc_info)


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
    """One line per record (a traceback follows on lines of its own). Escapes again
    what the filter escaped (escaping twice changes nothing), so a record that
    reached this formatter some other way is one line too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(
            f"{name}={escape_controls(str(getattr(record, name)))}"
            for name in ("request_id", "team_id", "user_id", "error_id")
            if getattr(record, name, None)
        )
        return f"{text} [{ids}]" if ids else text

    def formatException(self, ei: Any) -> str:
        return redact(format_exception_escaped(ei))


def configure_logging(
    *, level: str, log_format: LogFormat, secrets: tuple[str, ...] = (), stream: Any = None
) -> None:
    """`secrets`: values never to write (the configured tokens and secrets)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == LogFormat.JSON else TextFormatter())
    handler.addFilter(RedactingFilter(secrets, one_line=log_format == LogFormat.TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt logs every request at DEBUG and some routine things at WARNING/INFO.
    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.setLevel(max(logging.getLevelName(level), logging.INFO))
    bolt_logger.addFilter(DropBoltClientTokenWarning())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
