"""What the batch endpoints that write customers (usage, accounts) share: the
token, the body read into its model, the service's work in one transaction, and
its refusal of some items answered as a 422 naming each by its path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.auth import ApiCaller, authenticate_request
from bot.api.body import ApiModel
from bot.api.ingest import items_refused, read_json, recorded
from bot.clock import Clock
from bot.errors import ItemsRejected
from storage.engine import Database

Body = TypeVar("Body", bound=ApiModel)


async def record_batch(
    request: web.Request,
    *,
    db: Database,
    clock: Clock,
    model: type[Body],
    collection: str,
    record: Callable[[AsyncSession, ApiCaller, Body], Awaitable[Any]],
) -> web.Response:
    """Authenticate, read the body as `model`, `record` it in one transaction and
    answer its result (a dataclass); a refusal of some items (ItemsRejected) is a
    422 naming each as `collection[N].field`, and nothing is written."""
    caller = await authenticate_request(request, db=db, clock=clock)
    body = await read_json(request, model, now=clock())
    try:
        async with db.unit_of_work() as session:
            result = await record(session, caller, body)
    except ItemsRejected as rejected:
        raise items_refused(collection, rejected.problems) from None
    return recorded(result)
