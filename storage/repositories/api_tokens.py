"""API tokens of an MSP. Only the SHA-256 of a token is ever stored or looked up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken


async def add(
    session: AsyncSession,
    *,
    msp_id: int,
    name: str,
    prefix: str,
    token_hash: str,
    created_by: str,
    now: datetime,
) -> ApiToken:
    token = ApiToken(
        msp_id=msp_id,
        name=name,
        prefix=prefix,
        token_hash=token_hash,
        created_by=created_by,
        created_at=now,
    )
    session.add(token)
    await session.flush()
    return token


async def active_by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    """The unrevoked token with this hash (found on its unique index), of any MSP:
    the token is what tells which MSP is calling."""
    return await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )


async def mark_used(
    session: AsyncSession, *, token_id: int, now: datetime, not_since: datetime
) -> None:
    """Record a use, unless one after `not_since` is already recorded (by a request
    on another replica, say): most requests then write nothing."""
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= not_since),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


async def list_for_msp(session: AsyncSession, *, msp_id: int) -> Sequence[ApiToken]:
    return (
        await session.scalars(
            select(ApiToken).where(ApiToken.msp_id == msp_id).order_by(ApiToken.id)
        )
    ).all()


async def get(session: AsyncSession, *, msp_id: int, token_id: int) -> ApiToken | None:
    return await session.scalar(
        select(ApiToken).where(ApiToken.msp_id == msp_id, ApiToken.id == token_id)
    )


async def with_prefix(session: AsyncSession, *, msp_id: int, prefix: str) -> Sequence[ApiToken]:
    return (
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.msp_id == msp_id, ApiToken.prefix == prefix)
            .order_by(ApiToken.id)
        )
    ).all()


async def revoke(session: AsyncSession, *, token_id: int, now: datetime) -> bool:
    """True when this call revoked it (it was not revoked already)."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
