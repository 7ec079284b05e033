"""Writing the audit log (R22) in one shape for every service."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories import audit as audit_repo

# Actors that are not Slack users.
OPERATOR_ACTOR = "operator:cli"
BOOTSTRAP_ACTOR = "operator:MSPBOT_OWNERS"
SYSTEM_ACTOR = "system"


class AuditAction(StrEnum):
    MSP_CREATED = "msp.created"
    ROLE_GRANTED = "role.granted"
    ROLE_CHANGED = "role.changed"
    ROLE_REVOKED = "role.revoked"


async def record(
    session: AsyncSession,
    *,
    msp_id: int,
    actor: str,
    action: AuditAction,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> None:
    await audit_repo.append(
        session,
        msp_id=msp_id,
        actor=actor,
        action=action.value,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        at=at,
    )
