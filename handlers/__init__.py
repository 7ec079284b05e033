"""Slack listeners: parse the payload, call a service, render a view, ack.

One module per feature area, each with `register(listeners, deps)`.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import (
    ack_deadline,
    alerts,
    customers,
    dashboard,
    errors,
    home,
    installs,
    licence,
    middleware,
    msp_command,
    requests,
    subscriptions,
)
from handlers.deps import Deps
from handlers.registry import Listeners


def register_all(app: AsyncApp, deps: Deps) -> Listeners:
    ack_deadline.register(app)  # first: every request's answer is due within 3 s
    middleware.register(app, deps)
    errors.register(app, deps)
    listeners = Listeners(app=app, in_flight=deps.in_flight, metrics=deps.metrics)
    for feature in (
        msp_command,
        home,
        dashboard,
        customers,
        licence,
        requests,
        subscriptions,
        alerts,
        installs,
    ):
        feature.register(listeners, deps)
    return listeners
