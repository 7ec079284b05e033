"""Customers as the API names them: by account number (typed loosely) or by exact
name (case-insensitively), found for a whole batch in one query."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.customers import name_key, stored_account_number
from storage.repositories import usage as usage_repo
from storage.repositories.usage import NamedCustomer


@dataclass(frozen=True, slots=True)
class NamedCustomers:
    """The customers a batch names, looked up by what each item says."""

    by_account: dict[str, NamedCustomer]
    by_name: dict[str, NamedCustomer]

    def find(self, reference: str) -> NamedCustomer | None:
        """An account number first, then an exact name."""
        account = stored_account_number(reference)
        found = self.by_account.get(account) if account else None
        return found or self.by_name.get(name_key(reference))


async def customers_named(
    session: AsyncSession, *, msp_id: int, references: Collection[str]
) -> NamedCustomers:
    """The MSP's live customers these references name (locked on PostgreSQL: see
    usage_repo.customers_named)."""
    found = await usage_repo.customers_named(
        session,
        msp_id=msp_id,
        account_numbers={
            account for reference in references if (account := stored_account_number(reference))
        },
        name_keys={name_key(reference) for reference in references},
    )
    return NamedCustomers(
        by_account={customer.account_number: customer for customer in found},
        by_name={customer.name_key: customer for customer in found},
    )
