"""API tokens: the bearer tokens other systems (RMM, PSA, the vendor) use to send
usage and alerts to one MSP over the HTTP API.

A token is shown once, when it is created; only its SHA-256 is stored, with its
first characters (`prefix`) so people can tell tokens apart. A token leaked from
the database is therefore useless, and a lost token is revoked and replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInput, NotFound
from bot.services import audit
from bot.services.tenancy import ensure_msp
from storage.models import ApiToken
from storage.repositories import api_tokens as token_repo
from storage.repositories import audit as audit_repo
from storage.repositories import msps as msp_repo

TOKEN_MARK = "mspbot_"
PREFIX_LENGTH = 12  # "mspbot_" and 5 random characters
MAX_NAME_LENGTH = 100
# Tokens we issue are 50 characters; anything much longer is not worth hashing.
MAX_TOKEN_LENGTH = 200
# A token used many times a second would otherwise write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created. `token` is the secret: show it once, never store it."""

    id: int
    name: str
    prefix: str
    token: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as people may see it: no secret, no hash."""

    id: int
    name: str
    prefix: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who is calling the API: the MSP a valid token belongs to, and that token."""

    msp_id: int
    token_id: int

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"api:token:{self.token_id}"


@dataclass(frozen=True, slots=True)
class RevokedToken:
    token: TokenInfo
    already_revoked: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", name).strip()
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(f"A token's name can be at most {MAX_NAME_LENGTH} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in cleaned):
        raise InvalidInput("A token's name cannot contain control characters or line breaks.")
    return cleaned


async def create_token(
    session: AsyncSession,
    *,
    team_id: str,
    name: str,
    timezone: str,
    created_by: str,
    now: datetime,
) -> NewToken:
    """A new token for a workspace's MSP (created if needed), audited without its secret."""
    cleaned = _clean_name(name)
    msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    token = TOKEN_MARK + secrets.token_urlsafe(32)
    row = await token_repo.add(
        session,
        msp_id=msp_id,
        name=cleaned,
        prefix=token[:PREFIX_LENGTH],
        token_hash=hash_token(token),
        created_by=created_by,
        now=now,
    )
    await _audit(
        session,
        msp_id=msp_id,
        token=_info(row),
        action=audit.AuditAction.API_TOKEN_CREATED,
        actor=created_by,
        before=None,
        now=now,
    )
    return NewToken(id=row.id, name=row.name, prefix=row.prefix, token=token)


async def authenticate(session: AsyncSession, *, token: str, now: datetime) -> ApiCaller | None:
    """The caller a token stands for, or None if it is unknown or revoked."""
    if not token.startswith(TOKEN_MARK) or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    row = await token_repo.active_by_hash(session, digest)
    # The lookup is by an index on the hash (which a guesser cannot steer); the
    # constant-time comparison is a second line of defence, should that change.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        await token_repo.mark_used(
            session, token_id=row.id, now=now, not_since=now - LAST_USED_PRECISION
        )
    return ApiCaller(msp_id=row.msp_id, token_id=row.id)


async def list_tokens(session: AsyncSession, *, team_id: str) -> list[TokenInfo]:
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        return []
    return [_info(row) for row in await token_repo.list_for_msp(session, msp_id=msp.id)]


async def revoke_token(
    session: AsyncSession, *, team_id: str, which: str, revoked_by: str, now: datetime
) -> RevokedToken:
    """Revoke a token named by its id or its prefix. Revoking twice is harmless."""
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        raise NotFound(f"Workspace {team_id} has no MSP, so no API tokens.")
    row = await _find(session, msp_id=msp.id, which=which.strip(), team_id=team_id)
    before = _info(row)
    # The conditional update, not the read above, decides: of two revocations at
    # once, one revokes and the other finds it done.
    if row.revoked_at is not None or not await token_repo.revoke(session, token_id=row.id, now=now):
        return RevokedToken(token=before, already_revoked=True)
    after = replace(before, revoked_at=now)
    await _audit(
        session,
        msp_id=msp.id,
        token=after,
        action=audit.AuditAction.API_TOKEN_REVOKED,
        actor=revoked_by,
        before=before,
        now=now,
    )
    return RevokedToken(token=after, already_revoked=False)


async def _find(session: AsyncSession, *, msp_id: int, which: str, team_id: str) -> ApiToken:
    if which.isdigit():
        row = await token_repo.get(session, msp_id=msp_id, token_id=int(which))
        if row is None:
            raise NotFound(f"{team_id} has no API token with id {which}.")
        return row
    rows = (
        await token_repo.with_prefix(session, msp_id=msp_id, prefix=which)
        if len(which) == PREFIX_LENGTH
        else []
    )
    if not rows:
        raise NotFound(
            f"{team_id} has no API token with prefix {which!r}. "
            "Give the id or the 12-character prefix that `msp-bot tokens list` shows."
        )
    if len(rows) > 1:
        ids = ", ".join(str(row.id) for row in rows)
        raise InvalidInput(f"Several tokens have the prefix {which} (ids {ids}): give the id.")
    return rows[0]


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _public(token: TokenInfo) -> dict[str, Any]:
    """What the audit log may know of a token: never the secret or its hash."""
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


async def _audit(
    session: AsyncSession,
    *,
    msp_id: int,
    token: TokenInfo,
    action: audit.AuditAction,
    actor: str,
    before: TokenInfo | None,
    now: datetime,
) -> None:
    await audit_repo.append(
        session,
        msp_id=msp_id,
        actor=actor,
        action=action,
        entity_type="api_token",
        entity_id=str(token.id),
        before=_public(before) if before else None,
        after=_public(token),
        at=now,
    )
