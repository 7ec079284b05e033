"""What a replica remembers for a while about people of a workspace, though another
place owns it (their role in the database, their time zone in Slack): each entry
is forgotten `ttl_seconds` after it was put."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class PersonCache(Generic[V]):
    """One value per person (team id, user id), kept `ttl_seconds` (0: nothing is
    kept), at most `max_entries` of them (when full, all are dropped: crude but
    bounded, and refilled within one TTL)."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: dict[tuple[str, str], tuple[float, V]] = {}

    def get(self, team_id: str, user_id: str) -> V | None:
        entry = self._entries.get((team_id, user_id))
        if entry is None:
            return None
        expires, value = entry
        if self._monotonic() >= expires:
            del self._entries[(team_id, user_id)]
            return None
        return value

    def put(self, team_id: str, user_id: str, value: V) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[(team_id, user_id)] = (self._monotonic() + self.ttl_seconds, value)

    def forget(self, team_id: str, user_id: str) -> None:
        self._entries.pop((team_id, user_id), None)
