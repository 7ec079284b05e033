"""Track the listener work still running after Slack got its ack.

Bolt acks over HTTP and then finishes the listener in a task of its own, which
aiohttp does not know about. On shutdown we wait for these tasks, so a SIGTERM
never cuts a half-done interaction short.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)


class InFlight:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def track(self, func: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        """Wrap a listener so the task running it is tracked until it returns.

        functools.wraps keeps the signature Bolt inspects to inject arguments.
        """

        @functools.wraps(func)
        async def tracked(*args: P.args, **kwargs: P.kwargs) -> T:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                return await func(*args, **kwargs)
            finally:
                if task is not None:
                    self._tasks.discard(task)

        return tracked

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background, tracked (and kept from being garbage collected)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        pending = {task for task in self._tasks if task is not asyncio.current_task()}
        if not pending:
            return
        logger.info("waiting for %d in-flight interaction(s) to finish", len(pending))
        _done, still_running = await asyncio.wait(pending, timeout=timeout)
        for task in still_running:
            task.cancel()
        if still_running:
            logger.warning(
                "cancelled %d interaction(s) still running after %.0fs", len(still_running), timeout
            )
