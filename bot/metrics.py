"""Prometheus metrics (`GET /metrics`): Slack requests and their latency by
listener, the outbox's depth and oldest age, deliveries by outcome, scheduled job
runs and durations, and alerts ingested.

Each Bot has its own registry (tests build many bots in one process). Counters
are this process's; the outbox figures are read from the database at scrape
time, so every replica reports the same queue.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bot.delivery.worker import DeliveryStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Slack allows 3 s to answer; the buckets are finest where we aim (milliseconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.listener_calls = Counter(
            "mspbot_listener_calls",
            "Slack listener calls, by kind, name and outcome (ok or error).",
            ["kind", "listener", "outcome"],
            registry=self.registry,
        )
        self.listener_seconds = Histogram(
            "mspbot_listener_seconds",
            "Time in each Slack listener, ack and follow-up work included.",
            ["kind", "listener"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "mspbot_http_requests",
            "HTTP requests answered, by route and status class.",
            ["route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "mspbot_http_request_seconds",
            "Time to answer an HTTP request (a Slack request's ack among them), by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.job_runs = Counter(
            "mspbot_job_runs",
            "Scheduled job runs, by job and outcome (ok or error).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "mspbot_job_seconds",
            "Time each scheduled job run took.",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.alerts_ingested = Counter(
            "mspbot_alerts_ingested",
            "Alerts accepted, by source (api, cli, bot).",
            ["source"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "mspbot_outbox_depth",
            "Outbox items waiting to be sent (pending or sending), all MSPs.",
            registry=self.registry,
        )
        self.outbox_oldest = Gauge(
            "mspbot_outbox_oldest_age_seconds",
            "Age of the oldest item waiting in the outbox (0 when empty).",
            registry=self.registry,
        )

    def watch_delivery(self, stats: DeliveryStats) -> None:
        """Report the delivery worker's counters (kept by the worker itself)."""
        self.registry.register(_DeliveryCollector(stats))

    def set_outbox(self, depth: int, oldest: datetime | None, *, now: datetime) -> None:
        self.outbox_depth.set(depth)
        age = 0.0 if oldest is None else (now - oldest.astimezone(UTC)).total_seconds()
        self.outbox_oldest.set(max(0.0, age))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # ------------------------------------------------------------ wrappers

    def timed_listener(
        self, kind: str, name: str, listener: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """The listener, counted and timed."""

        def observe(seconds: float, outcome: str) -> None:
            self.listener_seconds.labels(kind, name).observe(seconds)
            self.listener_calls.labels(kind, name, outcome).inc()

        return _observed(listener, observe)

    def timed_job(
        self, name: str, job: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """The job, counted and timed."""

        def observe(seconds: float, outcome: str) -> None:
            self.job_seconds.labels(name).observe(seconds)
            self.job_runs.labels(name, outcome).inc()

        return _observed(job, observe)


def _observed(
    func: Callable[..., Awaitable[Any]], observe: Callable[[float, str], None]
) -> Callable[..., Awaitable[Any]]:
    """`func`, reporting each call's duration and outcome (ok or error). Bolt reads
    a listener's parameters to know what to pass: functools.wraps keeps them."""

    @functools.wraps(func)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await func(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            observe(time.perf_counter() - started, outcome)

    return timed


class _DeliveryCollector:
    """The worker's DeliveryStats as counters, read at scrape time."""

    def __init__(self, stats: DeliveryStats) -> None:
        self._stats = stats

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        stats = self._stats
        sent = CounterMetricFamily(
            "mspbot_deliveries",
            "Outbox items by outcome (sent, failed, retried).",
            labels=["outcome", "detail"],
        )
        for kind, count in stats.sent.items():
            sent.add_metric(["sent", kind], count)
        for reason, count in stats.failed.items():
            sent.add_metric(["failed", reason], count)
        for reason, count in stats.retried.items():
            sent.add_metric(["retried", reason], count)
        limited = CounterMetricFamily(
            "mspbot_deliveries_rate_limited", "Sends Slack answered with 429."
        )
        limited.add_metric([], stats.rate_limited)
        merged = GaugeMetricFamily(
            "mspbot_deliveries_merged", "Messages merged into digests by this process."
        )
        merged.add_metric([], stats.coalesced)
        return [sent, limited, merged]
