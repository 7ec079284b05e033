"""Slack's request signature, checked on the raw request before Bolt sees it.

Bolt checks the signature too, but a header it cannot parse (a timestamp of `abc`)
raises inside its middleware, and its error path then runs the app's error
handler, which answers through the request's response_url: a forger's address.
It also logs the raw body of every request it refuses. So every request to
/slack/events passes this check first; what fails it gets a 401 and one short
log line (the reason, the body's length and a hash of it, never the body), and
nothing else runs.

The rules are Slack's (v0 signing): `X-Slack-Request-Timestamp` is Unix seconds
within five minutes of now either way, and `X-Slack-Signature` is
`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_AGE_SECONDS = 300  # Slack's rule, and Bolt's: five minutes either way
# Unix seconds in ASCII digits only: int() also takes signs, underscores, spaces
# and other scripts' digits, none of which Slack sends.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)
REFUSED_BODY = b'{"error":"invalid request"}'


class Headers(Protocol):
    """What the check reads of the request's headers (aiohttp's multidict has it)."""

    def getall(self, key: str, default: list[str]) -> list[str]: ...


class SignatureCheck:
    """Decides whether a request was signed by Slack with our signing secret."""

    def __init__(self, signing_secret: str, *, now: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._now = now

    def refusal(self, headers: Headers, body: bytes) -> str | None:
        """Why the request is refused, or None when it is Slack's."""
        timestamps = headers.getall(TIMESTAMP_HEADER, [])
        signatures = headers.getall(SIGNATURE_HEADER, [])
        if not timestamps:
            return "no timestamp"
        if not signatures:
            return "no signature"
        # Two of either: one reader may believe the first, another the last.
        if len(timestamps) > 1 or len(signatures) > 1:
            return "repeated signature header"
        timestamp, signature = timestamps[0], signatures[0]
        if not _TIMESTAMP.fullmatch(timestamp):
            return "timestamp not a number"
        if abs(self._now() - int(timestamp)) > MAX_AGE_SECONDS:
            return "stale timestamp"
        if not _SIGNATURE.fullmatch(signature):
            return "malformed signature"
        if not hmac.compare_digest(self._expected(timestamp, body), signature.encode()):
            return "bad signature"
        return None

    def _expected(self, timestamp: str, body: bytes) -> bytes:
        signed = b"v0:" + timestamp.encode() + b":" + body
        return b"v0=" + hmac.new(self._secret, signed, hashlib.sha256).hexdigest().encode()


def log_refusal(reason: str, body: bytes) -> None:
    """One line per refused request, safe whatever the body holds."""
    logger.warning(
        "Slack request refused (%s): %d bytes, sha256 %s",
        reason,
        len(body),
        hashlib.sha256(body).hexdigest()[:12],
    )


# Bolt's own check logs each request it refuses, raw body included, on this logger
# (named after its RequestVerification middleware class).
BOLT_VERIFICATION_LOGGER = "slack_bolt.RequestVerification"


class WithholdBoltRefusedBodies(logging.Filter):
    """Keeps the line Bolt logs when its signature check refuses a request, but
    not the raw body in it. Our check runs first, so Bolt should never refuse a
    request; if it ever does, the log still cannot be forged or flooded through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = "Bolt's signature check refused a request (body not logged)"
        record.args = None
        return True


def withhold_bodies_from_bolt_logs() -> None:
    bolt_logger = logging.getLogger(BOLT_VERIFICATION_LOGGER)
    if not any(isinstance(f, WithholdBoltRefusedBodies) for f in bolt_logger.filters):
        bolt_logger.addFilter(WithholdBoltRefusedBodies())
