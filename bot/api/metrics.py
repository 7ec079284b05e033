"""`GET /metrics` in Prometheus' text format, and the middleware that counts and
times every HTTP request (Slack's among them: their ack latency).

With MSPBOT_METRICS_TOKEN set, a scrape must send it as a bearer token; without
it the endpoint is open, for a scraper on a private network (docs/OPERATIONS.md).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from bot import log_context
from bot.metrics import CONTENT_TYPE, Metrics
from bot.services import outbox_upkeep
from storage.engine import Database

METRICS_PATH = "/metrics"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def metrics_routes(db: Database, metrics: Metrics, *, token: str | None) -> list[web.RouteDef]:
    async def scrape(request: web.Request) -> web.Response:
        if token is not None and not _bearer_matches(request, token):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            async with db.unit_of_work() as session:
                backlog = await outbox_upkeep.backlog(session)
            metrics.set_outbox(backlog.waiting, backlog.oldest, now=datetime.now(UTC))
        except Exception:  # the counters are still worth serving when the database is down
            metrics.outbox_depth.set(float("nan"))
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    return [web.get(METRICS_PATH, scrape)]


def _bearer_matches(request: web.Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def timing_middleware(metrics: Metrics):  # type: ignore[no-untyped-def]
    @web.middleware
    async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route(request)
        log_context.start_request()
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            metrics.http_seconds.labels(route).observe(time.perf_counter() - started)
            metrics.http_requests.labels(route, f"{status // 100}xx").inc()

    return timed


def _route(request: web.Request) -> str:
    """The route's path pattern, never the raw path (no unbounded label values)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"
