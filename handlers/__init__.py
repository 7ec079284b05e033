"""Slack listeners: parse the payload, call a service, render a view, ack.

One module per feature area. Its listeners are module-level functions that take
`deps` as a keyword, listed at the bottom of the module in a route table
(`ROUTES`: kind, id, listener) that `register_all` hands to `Listeners.route`
(handlers/registry.py), which binds `deps`. What the features share (subcommand
calls, clicks, refusals, redrawing a modal, one service call in its own unit of
work) is in handlers/kit.py; the payload fields they read are typed in
handlers/payload_types.py.
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

FEATURES = (
    msp_command,
    home,
    dashboard,
    customers,
    licence,
    requests,
    subscriptions,
    alerts,
    installs,
)


def register_all(app: AsyncApp, deps: Deps) -> Listeners:
    ack_deadline.register(app)  # first: every request's answer is due within 3 s
    middleware.register(app, deps)
    errors.register(app, deps)
    listeners = Listeners(app=app, in_flight=deps.in_flight, metrics=deps.metrics)
    for feature in FEATURES:
        listeners.route(feature.ROUTES, deps)
    return listeners
