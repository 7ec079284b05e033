"""Work someone waits for with a deadline (Slack's 3 s, an API sender's patience):
answered at the deadline, not when the work has finished unwinding."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class NotInTime(Exception):
    """The work did not end by its deadline, and was cancelled."""


async def finished_by(
    deadline: float,
    work: Coroutine[Any, Any, Any],
    *,
    answered: asyncio.Event | None = None,
    cancel_late: bool = True,
) -> Any:
    """`work`'s result, or NotInTime if it has not ended by `deadline`
    (time.monotonic()) and `answered` (if given: the work has given its answer and
    may go on) is not set.

    The work runs in a task of its own, so that at the deadline the caller does not
    wait for it to unwind: cancelled in the middle of a statement, its rollback
    waits behind that statement (a SQLite lock wait, up to the busy timeout).
    `cancel_late=False` leaves late work to end on its own (its waits are bounded
    otherwise), never cancelled in the middle of a statement."""
    task = asyncio.ensure_future(work)
    waiters: set[asyncio.Future[Any]] = {task}
    if answered is not None:
        waiters.add(asyncio.ensure_future(answered.wait()))
    try:
        await asyncio.wait(
            waiters,
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        for waiter in waiters - {task}:
            waiter.cancel()
    if task.done() or (answered is not None and answered.is_set()):
        return await task
    if cancel_late:
        task.cancel()
    task.add_done_callback(_report_unwinding)
    raise NotInTime


def _report_unwinding(task: asyncio.Task[Any]) -> None:
    """Work cancelled at its deadline normally ends cancelled; anything else it
    raised (while unwinding, or left to end on its own) is logged, as nobody awaits
    it any more."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning(
            "work cancelled at its answer's deadline failed while unwinding",
            exc_info=task.exception(),
        )
