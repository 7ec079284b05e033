"""Pacing: Slack's per-channel posting limit and its per-method tiers.

Per channel: GCRA (generic cell rate algorithm), whose state is one timestamp per
lane kept in the database, so every replica paces the same channel together.
Per method tier: a token bucket in this process (replicas each get a share; the
429 handling covers the rest).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    channel_per_second: float = 1.0  # Slack: about one message per second per channel
    channel_burst: int = 3  # short bursts are tolerated
    # Slack counts a post when it arrives, 20-40 ms after we pace it: keeping this much
    # inside the burst allowance stops a slightly faster post from arriving early
    # (bench/delivery.py: 5 429s per 600 messages -> 0).
    channel_margin_seconds: float = 0.1
    per_minute: dict[str, int] = field(
        default_factory=lambda: {
            "chat.postMessage": 300,  # "special" tier: several hundred a minute per workspace
            "chat.postEphemeral": 100,  # tier 4
            "chat.update": 50,  # tier 3
            "conversations.join": 50,  # tier 3
            "conversations.open": 50,  # tier 3
            "views.publish": 100,  # tier 4
            "files.getUploadURLExternal": 100,  # tier 4
            "files.completeUploadExternal": 100,  # tier 4
        }
    )
    lease_seconds: float = 60.0  # a claimed item is retried when its sender vanished this long
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 300.0
    max_attempts: int = 12
    request_timeout_seconds: float = 10.0
    poll_seconds: float = 0.5
    batch: int = 20  # lanes claimed per round
    concurrency: int = 8  # sends in flight at once
    coalesce_threshold: int = 10  # a lane with this many pending coalescible items gets a digest
    coalesce_max: int = 40  # items in one digest (stays under 50 blocks)


def gcra(
    *, tat: datetime, now: datetime, per_second: float, burst: int, margin: float = 0.0
) -> tuple[bool, datetime, datetime]:
    """(allowed, new TAT, earliest time it would be allowed).

    Up to `burst` messages may go at once, then one every 1/per_second seconds;
    `margin` seconds are kept back from the burst allowance.
    """
    interval = timedelta(seconds=1.0 / per_second)
    tat = max(tat, now)
    allowance = max(interval * (burst - 1) - timedelta(seconds=margin), timedelta(0))
    allow_at = tat - allowance
    if allow_at > now:
        return False, tat, allow_at
    return True, tat + interval, now


class TierLimiter:
    """In-process token buckets, one per Web API method. `monotonic` and `sleep` are
    the clock it reads and waits on (a benchmark's virtual time, say)."""

    def __init__(
        self,
        per_minute: dict[str, int],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._monotonic, self._sleep = monotonic, sleep
        self._rates = {method: count / 60.0 for method, count in per_minute.items()}
        self._tokens = {method: float(max(1, rate * 10)) for method, rate in self._rates.items()}
        self._updated = {method: monotonic() for method in self._rates}
        self._paused_until: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self.waits: Counter[str] = Counter()  # how often a send of each method waited

    async def acquire(self, method: str) -> None:
        rate = self._rates.get(method)
        if rate is None:
            return
        while True:
            async with self._lock:
                now = self._monotonic()
                wait = self._paused_until.get(method, 0.0) - now
                if wait <= 0:
                    capacity = max(1.0, rate * 10)
                    elapsed = now - self._updated[method]
                    self._tokens[method] = min(capacity, self._tokens[method] + elapsed * rate)
                    self._updated[method] = now
                    if self._tokens[method] >= 1:
                        self._tokens[method] -= 1
                        return
                    wait = (1 - self._tokens[method]) / rate
            self.waits[method] += 1
            await self._sleep(wait)

    def pause(self, method: str, seconds: float) -> None:
        """After a 429 on a method, hold every send of it for Retry-After."""
        self._paused_until[method] = max(
            self._paused_until.get(method, 0.0), self._monotonic() + seconds
        )
