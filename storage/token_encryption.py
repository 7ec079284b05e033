"""Bringing the stored Slack tokens to the configured keys: encrypting the ones
stored in plain text (after an upgrade; `msp-bot run` and `msp-bot db upgrade` do it
right after migrating), and re-encrypting the others with the first key
(`msp-bot secrets rotate`).

Row by row, each in its own short transaction, and only over the values that are
still the ones read: the bot may keep serving on other replicas meanwhile, and a
token one of them rotates in between is left as that replica saved it (it is
encrypted already). Before anything is written, every encrypted value is checked
to decrypt with the keys given, so a wrong key changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table

from storage.encryption import TokenCipher, UnreadableToken, looks_encrypted
from storage.engine import Database
from storage.models import SLACK_BOTS, SLACK_INSTALLATIONS
from storage.repositories import installs as repo

TABLES = (SLACK_BOTS, SLACK_INSTALLATIONS)
# A row whose token a replica keeps rotating while we look: give up on it after this
# many tries (its new value was saved by a replica, so encrypted already).
_TRIES = 5

Rewrite = Callable[[str], str | None]  # the value to store instead; None: leave it


async def encrypt_plaintext_tokens(db: Database, cipher: TokenCipher) -> int:
    """Encrypt every token stored in plain text; encrypted ones are left as they are.
    Returns how many values were encrypted (0 when run again)."""

    def encrypt_if_plain(value: str) -> str | None:
        return None if looks_encrypted(value) else cipher.encrypt(value)

    return await _rewrite_all(db, cipher, encrypt_if_plain)


async def reencrypt_tokens(db: Database, cipher: TokenCipher) -> int:
    """Encrypt every stored token with the first key (decrypting it with any), those in
    plain text included. Returns how many values were rewritten (0 when run again)."""
    return await _rewrite_all(db, cipher, cipher.with_first_key)


@dataclass(frozen=True, slots=True)
class TokenSurvey:
    encrypted: int  # and readable with the keys given
    plain: int
    unreadable: int  # encrypted with a key that is not given


async def survey_tokens(db: Database, cipher: TokenCipher) -> TokenSurvey:
    encrypted = plain = unreadable = 0
    for table in TABLES:
        for row_id in await _row_ids(db, table):
            async with db.unit_of_work() as session:
                stored = await repo.stored_secrets(session, table, row_id)
            for value in stored.values():
                if not looks_encrypted(value):
                    plain += 1
                elif cipher.readable(value):
                    encrypted += 1
                else:
                    unreadable += 1
    return TokenSurvey(encrypted=encrypted, plain=plain, unreadable=unreadable)


def refuse_unreadable(survey: TokenSurvey) -> None:
    if survey.unreadable:
        raise UnreadableToken(f"{survey.unreadable} stored Slack token(s)")


async def _rewrite_all(db: Database, cipher: TokenCipher, rewrite: Rewrite) -> int:
    refuse_unreadable(await survey_tokens(db, cipher))
    rewritten = 0
    for table in TABLES:
        for row_id in await _row_ids(db, table):
            rewritten += await _rewrite_row(db, table, row_id, rewrite)
    return rewritten


async def _row_ids(db: Database, table: Table) -> list[int]:
    async with db.unit_of_work() as session:
        return await repo.row_ids(session, table)


async def _rewrite_row(db: Database, table: Table, row_id: int, rewrite: Rewrite) -> int:
    for _ in range(_TRIES):
        async with db.unit_of_work() as session:
            stored = await repo.stored_secrets(session, table, row_id)
            changes = {
                name: new for name, value in stored.items() if (new := rewrite(value)) is not None
            }
            if not changes:
                return 0
            if await repo.replace_secrets(session, table, row_id, was=stored, now=changes):
                return len(changes)
    return 0
