"""Seeding customers, usage and staff straight into the database, so dashboard tests
control every figure they check."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update

from bot.domain.roles import Role
from bot.ids import BlockId
from storage.engine import Database
from storage.models import (
    Customer,
    CustomerAssignment,
    CustomerLocation,
    CustomerUsage,
    Msp,
    StaffMember,
)
from tests.support import TEAM_ID, grant, post

_numbers = itertools.count(1)
SEEDED_AT = datetime(2026, 11, 1, tzinfo=UTC)


async def msp_id_of(db: Database, team_id: str = TEAM_ID) -> int:
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == team_id))
    assert msp_id is not None, "grant someone a role first: that creates the MSP"
    return int(msp_id)


async def set_msp(db: Database, team_id: str = TEAM_ID, **values: Any) -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).where(Msp.team_id == team_id).values(**values))


async def seed_customer(
    db: Database,
    *,
    name: str,
    status: str = "paid",
    team_id: str = TEAM_ID,
    users: int = 0,
    trial_end: date | None = None,
    agents: tuple[int, int] = (0, 0),  # (reporting, total)
    locations: int = 0,
    mau: int | None = None,
    month: date = date(2026, 11, 1),
    assigned: list[str] | None = None,
    max_mau: int | None = None,  # R20: None never blocks
    **columns: Any,
) -> int:
    """A customer with its figures; `mau` adds a usage row for `month`; `columns`
    sets any other column (plan, licences, renewal_date, past_due...)."""
    number = next(_numbers)
    plan = {"active_trial": "trial", "expired_trial": "free", "free": "free"}.get(
        status, "essentials"
    )
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == team_id))
        customer = Customer(
            msp_id=msp_id,
            account_number=f"T{number:03d}-{number:04d}"[:9],
            name=name,
            name_key=name.casefold(),
            admin_email=f"admin{number}@example.com",
            admin_email_key=f"admin{number}@example.com",
            plan=plan,
            status=status,
            trial_end=trial_end,
            users=users,
            max_mau_threshold=max_mau,
            agents_reporting=agents[0],
            agents_total=agents[1],
            created_by="U0001",
            created_at=SEEDED_AT,
            updated_at=SEEDED_AT,
        )
        for column, value in columns.items():
            setattr(customer, column, value)
        session.add(customer)
        await session.flush()
        for position in range(locations):
            session.add(
                CustomerLocation(
                    customer_id=customer.id, position=position, name=f"Site {position}"
                )
            )
        for user_id in assigned or []:
            session.add(CustomerAssignment(customer_id=customer.id, slack_user_id=user_id))
        if mau is not None:
            session.add(
                CustomerUsage(
                    msp_id=msp_id,
                    customer_id=customer.id,
                    month=month,
                    mau=mau,
                    users=users,
                    agents_total=agents[1],
                    agents_reporting=agents[0],
                    data_gb=0.0,
                    reported_at=SEEDED_AT,
                )
            )
        return customer.id


async def staff_with_home_open(
    db: Database, roles: dict[str, Role], *, opened_at: datetime | None
) -> None:
    """Grant roles; `opened_at` marks them as having opened the Home tab then."""
    for user_id, role in roles.items():
        await grant(db, user_id, role)
    async with db.unit_of_work() as session:
        await session.execute(
            update(StaffMember)
            .where(StaffMember.slack_user_id.in_(list(roles)))
            .values(home_opened_at=opened_at)
        )


async def share_dashboard(client, slack, **where: Any) -> None:
    """`/msp dashboard share`, then a click on the preview's "Post in this channel"
    (`where`: user_id, channel_id, team_id, as for both requests)."""
    command = {key: value for key, value in where.items() if key != "channel_id"}
    channel = where.get("channel_id", "C0001")
    reply = await post(
        client, slack.slash_command("dashboard share", channel_id=channel, **command)
    )
    [offer] = [b for b in reply.json["blocks"] if b.get("block_id") == BlockId.DASHBOARD_ACTIONS]
    button = offer["accessory"]
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"], value=button["value"], channel_id=channel, **command
        ),
    )
