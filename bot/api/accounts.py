"""`POST /api/v1/accounts`: the MSP's billing system sets customers' commercial
figures (plan, licences, term, contract start, renewal date, price per licence,
past due), some or all of them (docs/API.md). Validated here for types, against
the rules by bot.services.commercial; all or nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.auth import ApiCaller
from bot.api.batch import record_batch
from bot.api.body import ApiModel
from bot.api.ingest import api_endpoint
from bot.clock import Clock
from bot.domain.commercial import CommercialChange, CommercialField
from bot.domain.customers import Plan
from bot.domain.terms import Term
from bot.services import commercial
from storage.engine import Database

ACCOUNTS_PATH = "/api/v1/accounts"


class AccountItem(ApiModel):
    """One account's figures; a figure left out (or null) is left as it is.
    Strict: 12 is a number of licences, "12" and 12.0 are not; dates are YYYY-MM-DD;
    the price per licence is a number or a string of dollars ("49.50")."""

    customer: Annotated[str, Field(min_length=1, max_length=100)]
    plan: Plan | None = None
    licences: int | None = None
    term: Term | None = None
    contract_start: date | None = None
    renewal_date: date | None = None
    unit_price: Decimal | None = None
    past_due: bool | None = None

    def to_update(self) -> commercial.AccountUpdate:
        figures = {name: getattr(self, name) for name in CommercialField}
        return commercial.AccountUpdate(customer=self.customer, change=CommercialChange(**figures))


class AccountsBody(ApiModel):
    accounts: Annotated[list[AccountItem], Field(min_length=1, max_length=commercial.MAX_ACCOUNTS)]


def accounts_routes(db: Database, clock: Clock) -> list[web.RouteDef]:
    async def record(session: AsyncSession, caller: ApiCaller, body: AccountsBody) -> Any:
        return await commercial.update_accounts(
            session,
            msp_id=caller.msp_id,
            updates=[item.to_update() for item in body.accounts],
            actor=caller.actor,
            now=clock(),
        )

    async def post_accounts(request: web.Request) -> web.StreamResponse:
        return await record_batch(
            request, db=db, clock=clock, model=AccountsBody, collection="accounts", record=record
        )

    return [web.post(ACCOUNTS_PATH, api_endpoint(post_accounts))]
