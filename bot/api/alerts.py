"""`POST /api/v1/alerts`: other systems (RMM, PSA, the SaaS vendor) report alerts
about customers (docs/API.md). Validated here; recorded by bot.services.alerts,
all or nothing."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, Field, field_validator

from bot.api.auth import authenticate_request
from bot.api.body import ApiModel, FreeText
from bot.api.ingest import api_endpoint, items_refused, read_json, recorded
from bot.clock import Clock
from bot.domain.alerts import (
    MAX_DEDUP_KEY,
    MAX_DETAILS,
    MAX_KIND,
    MAX_LINK_LABEL,
    MAX_LINK_URL,
    MAX_LINKS,
    MAX_TITLE,
    ReportedStatus,
    Severity,
    is_link_url,
)
from bot.metrics import Metrics
from bot.services import alerts
from bot.services.alert_routing import AlertNotifier
from storage.engine import Database

ALERTS_PATH = "/api/v1/alerts"
# A batch of 500 short alerts fits; a sender with long details sends smaller batches.
MAX_ALERTS_BODY_BYTES = 256 * 1024


class LinkItem(ApiModel):
    url: Annotated[str, Field(min_length=1, max_length=MAX_LINK_URL)]
    label: Annotated[str, Field(min_length=1, max_length=MAX_LINK_LABEL)]

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: str) -> str:
        if not is_link_url(value):
            raise ValueError("Give a link starting with https:// or http://.")
        return value


class AlertItem(ApiModel):
    """One alert. Strict: "high" is a severity, "HIGH" and 3 are not."""

    customer: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Annotated[str, Field(min_length=1, max_length=MAX_KIND)]
    severity: Severity
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    details: Annotated[str, Field(max_length=MAX_DETAILS), FreeText()] = ""
    dedup_key: Annotated[str, Field(min_length=1, max_length=MAX_DEDUP_KEY)] | None = None
    status: ReportedStatus = ReportedStatus.FIRING
    occurred_at: AwareDatetime | None = None
    links: Annotated[list[LinkItem], Field(max_length=MAX_LINKS)] = []

    def to_report(self) -> alerts.AlertReport:
        return alerts.AlertReport(
            customer=self.customer,
            kind=self.kind,
            severity=self.severity,
            title=self.title,
            details=self.details,
            dedup_key=self.dedup_key,
            status=self.status,
            occurred_at=self.occurred_at,
            links=tuple(alerts.AlertLink(link.url, link.label) for link in self.links),
        )


class AlertsBody(ApiModel):
    alerts: Annotated[list[AlertItem], Field(min_length=1, max_length=alerts.MAX_ALERTS)]


def alerts_routes(
    db: Database, clock: Clock, metrics: Metrics, *, notifier: AlertNotifier
) -> list[web.RouteDef]:
    async def post_alerts(request: web.Request) -> web.StreamResponse:
        caller = await authenticate_request(request, db=db, clock=clock)
        body = await read_json(request, AlertsBody, now=clock(), limit=MAX_ALERTS_BODY_BYTES)
        items = [item.to_report() for item in body.alerts]
        try:
            async with db.unit_of_work() as session:
                result = await alerts.record_alerts(
                    session,
                    msp_id=caller.msp_id,
                    items=items,
                    source="api",
                    actor=caller.actor,
                    now=clock(),
                    notifier=notifier,
                )
        except alerts.AlertsRejected as rejected:
            raise items_refused("alerts", rejected.problems) from None
        metrics.alerts_ingested.labels("api").inc(result.accepted)
        return recorded(result)

    return [web.post(ALERTS_PATH, api_endpoint(post_alerts))]
