"""Every Slack request is answered in time, even when what comes before its ack
cannot finish.

Slack waits 3 seconds for the HTTP answer (then the person sees "dispatch_failed"),
and Bolt's listener runner gives up on its own 3 seconds after starting a listener
that has not acked: it logs "<listener> didn't call ack()" and answers 404, even if
the answer is ready a moment later. What runs before the ack (the tenant lookup,
a listener's reads and writes before it acks with their result) had no deadline:
a SQLite write waited up to the 5 s busy timeout behind a long import, a pool
checkout or a PostgreSQL lock as long as they took. And Bolt (1.x asyncio runner)
sets the ack's answer back to None once the error handler of a listener that
raised after acking returns: the answer was lost when Bolt had not looked yet.

So, for every request (`register` adds the first middleware):
- it gets a deadline ACK_BUDGET_S after it arrives, leaving time to send the answer;
- SQLite lock waits before the ack end ANSWER_MARGIN_S before that deadline
  (storage.engine.wait_for_locks_until), so a held lock becomes "database is
  locked", which the error handler answers with the database message;
- work that is still running at the deadline without having acked is cancelled
  (its transaction rolls back) and NoAnswerInTime goes to the error handler, which
  answers in the ack (`answered_in_time`, `before_the_deadline`); the cancelled work
  finishes unwinding on its own, after the answer;
- its ack is a KeptAck, whose answer, once given, stays given.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.deadlines import NotInTime, finished_by
from storage.engine import wait_for_locks_until

# Slack's 3 s, less the time to build and send the answer (and some network).
ACK_BUDGET_S = 2.5
# Lock waits end this long before the deadline, so the error handler answers with
# the database message rather than the deadline's.
ANSWER_MARGIN_S = 0.5

T = TypeVar("T")
Listener = Callable[..., Awaitable[Any]]

_deadline: ContextVar[float | None] = ContextVar("ack_deadline", default=None)
_ack: ContextVar[KeptAck | None] = ContextVar("kept_ack", default=None)


class NoAnswerInTime(Exception):
    """The work before a request's ack did not end in time, and was cancelled."""

    def __init__(self, budget_s: float) -> None:
        super().__init__(f"no answer within {budget_s:.1f} s")
        self.budget_s = budget_s


class KeptAck(AsyncAck):
    """An ack whose answer, once given, stays given, and which says when it was.

    Bolt's runner sets `ack.response = None` after the error handler of a listener
    that raised after acking; its dispatcher, which looks for the answer every
    10 ms, then found none and answered 404 after 3 s."""

    def __init__(self) -> None:
        self._answer: BoltResponse | None = None
        self.answered = asyncio.Event()
        super().__init__()

    @property  # type: ignore[override]
    def response(self) -> BoltResponse | None:
        return self._answer

    @response.setter
    def response(self, answer: BoltResponse | None) -> None:
        if answer is None:
            return  # nothing to take back: the answer given is the one Slack gets
        self._answer = answer
        if not self.answered.is_set():
            self.answered.set()
            # What comes after the ack has no deadline: lock waits as long as usual.
            wait_for_locks_until(None)


def register(app: AsyncApp) -> None:
    """Start each request's clock: the first middleware."""

    async def start_the_clock(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        deadline = time.monotonic() + ACK_BUDGET_S
        ack = KeptAck()
        context["ack"] = ack  # what Bolt's runner and the listener use
        _ack.set(ack)
        _deadline.set(deadline)
        wait_for_locks_until(deadline - ANSWER_MARGIN_S)
        await next()

    app.middleware(start_the_clock)


def answered_in_time(listener: Listener) -> Listener:
    """`listener`, cancelled if it has neither acked nor finished by the request's
    deadline (NoAnswerInTime then goes to the error handler). What it does after
    acking runs to its end. functools.wraps keeps the parameters Bolt reads."""

    @functools.wraps(listener)
    async def in_time(*args: Any, **kwargs: Any) -> Any:
        ack, deadline = _ack.get(), _deadline.get()
        if ack is None or deadline is None or ack.answered.is_set():
            return await listener(*args, **kwargs)
        return await _until(deadline, listener(*args, **kwargs), answered=ack.answered)

    return in_time


async def before_the_deadline(work: Coroutine[Any, Any, T]) -> T:
    """`work` (done before a request's ack, e.g. in a middleware), cancelled with
    NoAnswerInTime if it is not done by the request's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return await work
    result: T = await _until(deadline, work, answered=None)
    return result


async def _until(
    deadline: float, work: Coroutine[Any, Any, Any], *, answered: asyncio.Event | None
) -> Any:
    try:
        return await finished_by(deadline, work, answered=answered)
    except NotInTime:
        raise NoAnswerInTime(ACK_BUDGET_S) from None
