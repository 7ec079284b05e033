"""`POST /api/v1/usage`: other systems report each customer's monthly usage
(docs/API.md). Validated here; recorded by bot.services.usage, all or nothing."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.auth import ApiCaller
from bot.api.batch import record_batch
from bot.api.body import ApiModel
from bot.api.ingest import api_endpoint
from bot.clock import Clock
from bot.domain.usage import parse_month
from bot.services import usage
from bot.services.alert_routing import AlertNotifier
from storage.engine import Database

USAGE_PATH = "/api/v1/usage"
# Counts are stored as 32-bit integers; a billion is far past any real customer.
MAX_COUNT = 1_000_000_000
MAX_DATA_GB = 1_000_000_000.0

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class UsageItem(ApiModel):
    """One customer's figures for one month, all or some of them (a figure left out
    is left as it is). Strict: 5 is a count, "5" and 5.0 are not."""

    customer: Annotated[str, Field(min_length=1, max_length=100)]
    month: str
    mau: Count | None = None
    users: Count | None = None
    agents_total: Count | None = None
    agents_reporting: Count | None = None  # declared after agents_total, so its check sees it
    data_gb: Annotated[float, Field(ge=0, le=MAX_DATA_GB, allow_inf_nan=False)] | None = None

    @field_validator("month")
    @classmethod
    def _month_is_yyyy_mm(cls, value: str) -> str:
        if parse_month(value) is None:
            raise ValueError("Give the month as YYYY-MM, like 2026-11.")
        return value

    @field_validator("agents_reporting")
    @classmethod
    def _no_more_reporting_than_installed(
        cls, value: int | None, info: ValidationInfo
    ) -> int | None:
        total = info.data.get("agents_total")
        if total is not None and value is not None and value > total:
            raise ValueError(f"Cannot be more than agents_total ({total}).")
        return value

    def to_report(self) -> usage.UsageReport:
        month = parse_month(self.month)
        assert month is not None  # checked by the validator
        return usage.UsageReport(
            customer=self.customer,
            month=month,
            mau=self.mau,
            users=self.users,
            agents_total=self.agents_total,
            agents_reporting=self.agents_reporting,
            data_gb=self.data_gb,
        )


class UsageBody(ApiModel):
    usage: Annotated[list[UsageItem], Field(min_length=1, max_length=usage.MAX_REPORTS)]


def usage_routes(db: Database, clock: Clock, *, notifier: AlertNotifier) -> list[web.RouteDef]:
    async def record(session: AsyncSession, caller: ApiCaller, body: UsageBody) -> Any:
        return await usage.record_usage(
            session,
            msp_id=caller.msp_id,
            reports=[item.to_report() for item in body.usage],
            actor=caller.actor,
            now=clock(),
            notifier=notifier,
        )

    async def post_usage(request: web.Request) -> web.StreamResponse:
        return await record_batch(
            request, db=db, clock=clock, model=UsageBody, collection="usage", record=record
        )

    return [web.post(USAGE_PATH, api_endpoint(post_usage))]
