"""What the listeners need, handed over by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.delivery.worker import DeliveryWorker
from bot.home_workspace import HomeWorkspace
from bot.inflight import InFlight
from bot.metrics import Metrics
from bot.net_guard import Destinations
from bot.notify.notifiers import Notifiers
from bot.services.tenancy import RequesterCache
from handlers.time_zones import PersonTimeZones
from storage.engine import Database


@dataclass(frozen=True, slots=True)
class Deps:
    db: Database
    clock: Clock
    in_flight: InFlight
    bootstrap_owners: frozenset[str]
    default_timezone: str
    requesters: RequesterCache
    delivery: DeliveryWorker
    notifiers: Notifiers  # what the services tell people, queued in the outbox
    webhooks_enabled: bool = False  # MSPBOT_WEBHOOK_SECRET is set, so webhooks can be signed
    metrics: Metrics = field(default_factory=Metrics)
    time_zones: PersonTimeZones = field(default_factory=PersonTimeZones)  # users.info, cached
    # One-workspace mode: the workspace of SLACK_BOT_TOKEN, the only one served.
    # None in distribution mode, where the installs decide.
    home_workspace: HomeWorkspace | None = None
    # Where webhooks may go (public addresses, and MSPBOT_WEBHOOK_ALLOW_HOSTS).
    webhook_destinations: Destinations = field(default_factory=Destinations)
