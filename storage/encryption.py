"""Slack tokens encrypted at rest with Fernet (AES-128-CBC and HMAC-SHA256).

The keys come from MSPBOT_ENCRYPTION_KEY, a comma-separated list: the first one
encrypts, every one of them decrypts, so a key is replaced by putting the new one
first, re-encrypting (`msp-bot secrets rotate`), then dropping the old one.

A stored value is recognised as encrypted by its shape (a Fernet token: URL-safe
base64 of a 0x80 version byte, a timestamp, an IV, whole cipher blocks and a MAC),
which no Slack token (`xox...`) or URL has. Plain text is read as it is, so rows
stored before encryption was on keep working until they are encrypted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_VERSION = 0x80
_OVERHEAD = 1 + 8 + 16 + 32  # version, timestamp, IV, HMAC
_BLOCK = 16
_URLSAFE_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


class UnreadableToken(Exception):
    """A stored token was encrypted with a key that is not in MSPBOT_ENCRYPTION_KEY."""

    def __init__(self, where: str = "a stored Slack token") -> None:
        super().__init__(
            f"{where} cannot be decrypted with any key in MSPBOT_ENCRYPTION_KEY: it was "
            "encrypted with another key. Put that key back in the list (after the new one) "
            "and run `msp-bot secrets rotate` before removing it."
        )


def invalid_keys(setting: str) -> list[str]:
    """Which keys of a comma-separated list are not Fernet keys, by position
    ("key 2 of 3"); empty when all are good. Never quotes a key."""
    keys = split_keys(setting)
    if not keys:
        return ["none given"]
    bad = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            bad.append(f"key {position} of {len(keys)}")
    return bad


def split_keys(setting: str) -> list[str]:
    return [part.strip() for part in setting.split(",") if part.strip()]


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def looks_encrypted(value: str) -> bool:
    """True for a Fernet token; a Slack token or a URL never has this shape."""
    if not value or not set(value) <= _URLSAFE_BASE64:
        return False
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, binascii.Error):
        return False
    body = len(raw) - _OVERHEAD
    return raw[0] == _VERSION and body >= _BLOCK and body % _BLOCK == 0


class TokenCipher:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._primary = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_setting(cls, setting: str) -> TokenCipher:
        return cls(split_keys(setting))

    def encrypt(self, value: str) -> str:
        return self._all.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, value: str) -> str:
        """The plain text of a stored value (plain text as it is)."""
        if not looks_encrypted(value):
            return value
        try:
            return self._all.decrypt(value.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise UnreadableToken() from None

    def readable(self, value: str) -> bool:
        try:
            self.decrypt(value)
        except UnreadableToken:
            return False
        return True

    def with_first_key(self, value: str) -> str | None:
        """`value` encrypted with the first key, or None when it already is."""
        if not looks_encrypted(value):
            return self.encrypt(value)
        try:
            self._primary.decrypt(value.encode("ascii"))
        except InvalidToken:
            pass
        else:
            return None
        try:
            return self._all.rotate(value.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise UnreadableToken() from None


class EncryptedText(TypeDecorator[str]):
    """A text column written encrypted and read decrypted."""

    impl = Text
    cache_ok = True

    def __init__(self, cipher: TokenCipher) -> None:
        super().__init__()
        self.cipher = cipher

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.cipher.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.cipher.decrypt(value)
