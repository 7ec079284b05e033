"""`GET /healthz` (the process is alive) and `GET /readyz` (it can do its job:
the database answers and is at the latest migration)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from storage.engine import Database
from storage.migrate import current_revision, head_revision

READINESS_TIMEOUT_S = 2.0
logger = logging.getLogger(__name__)


def health_routes(db: Database) -> list[web.RouteDef]:
    head = head_revision()

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        try:
            current = await asyncio.wait_for(current_revision(db.engine), READINESS_TIMEOUT_S)
        except Exception as error:  # any failure means "not ready", never a 500
            logger.warning("readiness check: database unavailable (%s)", type(error).__name__)
            return web.json_response(
                {"status": "unavailable", "reason": "database unavailable"}, status=503
            )
        if current != head:
            return web.json_response(
                {
                    "status": "unavailable",
                    "reason": "database not migrated",
                    "revision": current,
                    "expected": head,
                },
                status=503,
            )
        return web.json_response({"status": "ready", "revision": current})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
