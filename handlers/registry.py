"""Registers listeners on the Bolt app, tracked for graceful shutdown and answered
in time (handlers/ack_deadline.py), and keeps a list of what was registered (the
manifest test compares it with app-manifest.yml).

Each handler module ends with a route table, a tuple of `Route`s, that its
`register` hands to `Listeners.route`. A routed listener is a module-level function
that takes what Bolt passes by name (`ack`, `body`, `context`, ...) and `deps` as a
keyword-only parameter: the route table binds it when registering, so no listener
is a closure over the dependencies."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from slack_bolt.async_app import AsyncApp

from bot.inflight import InFlight
from bot.metrics import Metrics
from handlers.ack_deadline import answered_in_time
from handlers.deps import Deps

ListenerKind = Literal["command", "event", "action", "view", "shortcut", "options"]
Listener = Callable[..., Awaitable[Any]]


class Route(NamedTuple):
    """One row of a route table: the kind of request, its name (the command, event
    type, action id or callback id) and the listener that answers it, which takes
    `deps` as a keyword."""

    kind: ListenerKind
    name: str
    listener: Listener


@dataclass
class Listeners:
    app: AsyncApp
    in_flight: InFlight
    metrics: Metrics | None = None  # each listener counted and timed on /metrics
    registered: list[tuple[ListenerKind, str]] = field(default_factory=list)

    def route(self, routes: Iterable[Route], deps: Deps) -> None:
        """Register a handler module's route table, each listener given `deps`."""
        for kind, name, listener in routes:
            self.add(kind, name, with_deps(listener, deps))

    def add(self, kind: ListenerKind, name: str, listener: Listener) -> None:
        on_app = {
            "command": self.app.command,
            "event": self.app.event,
            "action": self.app.action,
            "view": self.app.view,
            "shortcut": self.app.shortcut,
            "options": self.app.options,
        }[kind]
        self._add(kind, name, on_app(name))(listener)

    def command(self, name: str, listener: Listener) -> None:
        self.add("command", name, listener)

    def event(self, name: str, listener: Listener) -> None:
        self.add("event", name, listener)

    def action(self, action_id: str, listener: Listener) -> None:
        self.add("action", action_id, listener)

    def view(self, callback_id: str, listener: Listener) -> None:
        self.add("view", callback_id, listener)

    def shortcut(self, callback_id: str, listener: Listener) -> None:
        self.add("shortcut", callback_id, listener)

    def options(self, action_id: str, listener: Listener) -> None:
        self.add("options", action_id, listener)

    def names(self, kind: ListenerKind) -> set[str]:
        return {name for registered_kind, name in self.registered if registered_kind == kind}

    def _add(
        self, kind: ListenerKind, name: str, decorator: Callable[[Listener], Any]
    ) -> Callable[[Listener], Any]:
        self.registered.append((kind, str(name)))

        def wrap(listener: Listener) -> Any:
            if self.metrics is not None:
                listener = self.metrics.timed_listener(kind, str(name), listener)
            return decorator(answered_in_time(self.in_flight.track(listener)))

        return wrap


def with_deps(listener: Listener, deps: Deps) -> Listener:
    """`listener` with `deps` passed as its keyword. Bolt passes a listener the
    arguments its positional parameters name, read through functools.wraps;
    `deps` is keyword-only, so Bolt does not look for it and leaves it to us."""

    @functools.wraps(listener)
    async def given_deps(*args: Any, **kwargs: Any) -> Any:
        return await listener(*args, deps=deps, **kwargs)

    return given_deps
