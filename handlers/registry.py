"""Registers listeners on the Bolt app, tracked for graceful shutdown and answered
in time (handlers/ack_deadline.py), and keeps a list of what was registered (the
manifest test compares it with app-manifest.yml)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_bolt.async_app import AsyncApp

from bot.inflight import InFlight
from bot.metrics import Metrics
from handlers.ack_deadline import answered_in_time

ListenerKind = Literal["command", "event", "action", "view", "shortcut", "options"]
Listener = Callable[..., Awaitable[Any]]


@dataclass
class Listeners:
    app: AsyncApp
    in_flight: InFlight
    metrics: Metrics | None = None  # each listener counted and timed on /metrics
    registered: list[tuple[ListenerKind, str]] = field(default_factory=list)

    def command(self, name: str, listener: Listener) -> None:
        self._add("command", name, self.app.command(name))(listener)

    def event(self, name: str, listener: Listener) -> None:
        self._add("event", name, self.app.event(name))(listener)

    def action(self, action_id: str, listener: Listener) -> None:
        self._add("action", action_id, self.app.action(action_id))(listener)

    def view(self, callback_id: str, listener: Listener) -> None:
        self._add("view", callback_id, self.app.view(callback_id))(listener)

    def shortcut(self, callback_id: str, listener: Listener) -> None:
        self._add("shortcut", callback_id, self.app.shortcut(callback_id))(listener)

    def options(self, action_id: str, listener: Listener) -> None:
        self._add("options", action_id, self.app.options(action_id))(listener)

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
