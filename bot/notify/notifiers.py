"""The notifiers a running bot (or a command) hands to the services, as one value to
pass down from the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.notify.alert_messages import OutboxAlertNotifier
from bot.notify.notice_messages import OutboxNoticeNotifier
from bot.notify.request_messages import OutboxRequestNotifier
from bot.services.alert_routing import AlertNotifier
from bot.services.notices import NoticeNotifier
from bot.services.request_records import RequestNotifier


@dataclass(frozen=True, slots=True)
class Notifiers:
    alerts: AlertNotifier
    notices: NoticeNotifier
    requests: RequestNotifier


def outbox_notifiers() -> Notifiers:
    """Notifiers that queue what the services tell people in the outbox, for the
    delivery worker to send. The composition roots (bot/app.py, bot/cli.py) call this
    once and hand the result down; a command's messages wait for the running bot."""
    alerts = OutboxAlertNotifier()
    notices = OutboxNoticeNotifier(alerts=alerts)
    return Notifiers(alerts=alerts, notices=notices, requests=OutboxRequestNotifier())
