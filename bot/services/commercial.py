"""Commercial figures (plan, licences, term, contract start, renewal date, price per
licence, past due) set by their owners: the MSP's billing system over the API
(`update_accounts`, all or nothing) and an owner's correction with a reason in
Slack (`correct_billing`). Everyone else changes them by request.

Each changed account gets one audit event with the figures before and after (only
those that changed), its account number and who changed it; a change that changes
nothing is not written or audited, so a billing system may resend freely."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.commercial import (
    Applied,
    Commercial,
    CommercialChange,
    CommercialRefused,
    apply,
)
from bot.domain.customers import Plan, Status, cents, from_cents
from bot.domain.terms import Term
from bot.errors import ItemProblem, ItemsRejected, NotAllowed, NotFound
from bot.results.customers import CustomerCard
from bot.services import audit
from bot.services.api_customers import customers_named
from bot.services.customers import (
    CORRECT_BILLING,
    StaleEdit,
    card_of,
    today_for,
    visible_customer,
)
from bot.services.tenancy import Requester
from storage.models import Customer, Msp
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import msps as msp_repo

MAX_ACCOUNTS = 1000


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """One account's figures from the billing system. `customer` is an account
    number or the customer's exact name (case-insensitive)."""

    customer: str
    change: CommercialChange


AccountProblem = ItemProblem


class AccountsRejected(ItemsRejected):
    """Some updates cannot be accepted, so none were written."""

    def __init__(self, problems: list[ItemProblem]) -> None:
        super().__init__("Nothing was changed: some updates cannot be accepted.", problems)


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    account_number: str
    name: str
    result: str  # "changed" or "unchanged"
    before: dict[str, Any]  # only the figures that changed
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Corrected:
    card: CustomerCard
    changed: bool


@dataclass(frozen=True, slots=True)
class AccountsResult:
    changed: int
    unchanged: int
    accounts: list[AccountOutcome]


def commercial_of(customer: Customer) -> Commercial:
    return Commercial(
        plan=Plan(customer.plan),
        licences=customer.licences,
        term=Term(customer.term) if customer.term else None,
        contract_start=customer.contract_start,
        renewal_date=customer.renewal_date,
        unit_price=from_cents(customer.unit_price_cents),
        past_due=customer.past_due,
    )


def _write(customer: Customer, applied: Applied, now: datetime) -> None:
    after = applied.after
    customer.plan = after.plan.value
    customer.licences = after.licences
    customer.term = after.term.value if after.term else None
    customer.contract_start = after.contract_start
    customer.renewal_date = after.renewal_date
    customer.unit_price_cents = cents(after.unit_price)
    customer.past_due = after.past_due
    customer.updated_at = now


async def update_accounts(
    session: AsyncSession,
    *,
    msp_id: int,
    updates: Sequence[AccountUpdate],
    actor: str,
    now: datetime,
) -> AccountsResult:
    """Apply the billing system's figures, all or nothing: raises AccountsRejected
    naming every bad update, and then nothing is written."""
    msp = await session.get(Msp, msp_id)
    if msp is None:
        raise NotFound("This token's MSP no longer exists.")
    # Written first, so this transaction holds SQLite's write lock before it reads
    # (PostgreSQL locks the customers' rows instead); rolled back with a refusal.
    await msp_repo.mark_home_stale(session, msp_id=msp_id, now=now)
    named = await customers_named(
        session, msp_id=msp_id, references=[update.customer for update in updates]
    )
    problems: list[AccountProblem] = []
    found: dict[int, int] = {}  # customer id -> index of the update naming it
    for index, update in enumerate(updates):
        customer = named.find(update.customer)
        if customer is None:
            problems.append(
                AccountProblem(index, "customer", f"No customer {update.customer} in this MSP.")
            )
        elif customer.id in found:
            problems.append(
                AccountProblem(
                    index,
                    "customer",
                    f"accounts[{found[customer.id]}] already updates {customer.account_number}: "
                    "send one update per account.",
                )
            )
        else:
            found[customer.id] = index
    rows = await customer_repo.by_ids(session, msp_id=msp_id, customer_ids=set(found))
    today = today_for(msp, now)
    planned: list[tuple[Customer, Applied]] = []
    for customer_id, index in found.items():
        customer = rows[customer_id]
        try:
            applied = apply(
                commercial_of(customer),
                updates[index].change,
                status=Status(customer.status),
                today=today,
            )
        except CommercialRefused as refused:
            problems += [AccountProblem(index, p.field.value, p.message) for p in refused.problems]
            continue
        planned.append((customer, applied))
    if problems:
        raise AccountsRejected(sorted(problems, key=lambda problem: problem.index))
    outcomes: dict[int, AccountOutcome] = {}
    for customer, applied in planned:
        if applied.changed:
            _write(customer, applied, now)
            # An Edit or correction form opened before this change is now stale.
            customer.version += 1
        outcomes[found[customer.id]] = AccountOutcome(
            account_number=customer.account_number,
            name=customer.name,
            result="changed" if applied.changed else "unchanged",
            before=applied.before_json,
            after=applied.after_json,
        )
    await session.flush()
    changes = [
        (customer.account_number, applied.before_json, applied.after_json)
        for customer, applied in planned
        if applied.changed
    ]
    if changes:
        await audit_repo.append_each(
            session,
            msp_id=msp_id,
            actor=actor,
            action=audit.AuditAction.CUSTOMER_BILLING_UPDATED,
            entity_type="customer",
            changes=changes,
            at=now,
        )
    accounts = [outcomes[index] for index in sorted(outcomes)]
    changed = sum(1 for outcome in accounts if outcome.result == "changed")
    return AccountsResult(changed=changed, unchanged=len(accounts) - changed, accounts=accounts)


async def correct_billing(
    session: AsyncSession,
    *,
    requester: Requester,
    customer_id: int,
    expected_version: int,
    change: CommercialChange,
    reason: str,
    now: datetime,
) -> Corrected:
    """An owner's correction of the figures, with the reason (audited). Raises
    CommercialRefused naming each figure that cannot be, StaleEdit when the account
    changed since the form was opened."""
    if not CORRECT_BILLING.allows(requester):  # anyone else, on staff or not, is told so
        raise NotAllowed(CORRECT_BILLING.refusal)
    customer = await visible_customer(session, requester=requester, customer_id=customer_id)
    msp = await session.get(Msp, requester.msp_id)
    assert msp is not None, "a customer's MSP exists"
    today = today_for(msp, now)
    if customer.version != expected_version:
        raise StaleEdit(
            f"{customer.name} was changed after you opened this form. "
            "Close it and open Correct billing data again to see the changes."
        )
    applied = apply(commercial_of(customer), change, status=Status(customer.status), today=today)
    if applied.changed:
        if not await customer_repo.bump_version(
            session, customer_id=customer.id, expected_version=expected_version, now=now
        ):
            raise StaleEdit(f"{customer.name} was changed by someone else just now: try again.")
        customer.version = expected_version + 1
        _write(customer, applied, now)
        await session.flush()
        await audit_repo.append(
            session,
            msp_id=requester.msp_id,
            actor=requester.user_id,
            action=audit.AuditAction.CUSTOMER_BILLING_CORRECTED,
            entity_type="customer",
            entity_id=customer.account_number,
            before=applied.before_json,
            after=applied.after_json,
            at=now,
            note=reason,
        )
    card = await card_of(session, requester, customer, today)
    return Corrected(card=card, changed=bool(applied.changed))
