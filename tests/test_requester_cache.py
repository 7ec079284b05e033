"""The short-lived cache of resolved staff that keeps the per-request lookup cheap."""

from __future__ import annotations

from bot.domain.roles import Role
from bot.services.tenancy import Requester, RequesterCache


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _requester(user: str = "U1", role: Role | None = Role.ADMIN) -> Requester:
    return Requester(msp_id=1, team_id="T1", user_id=user, role=role)


def test_staff_are_remembered_until_the_ttl_passes():
    ticker = Ticker()
    cache = RequesterCache(ttl_seconds=10, monotonic=ticker)
    cache.remember(_requester())
    ticker.now += 9.9
    assert cache.get("T1", "U1") == _requester()
    ticker.now += 0.1
    assert cache.get("T1", "U1") is None


def test_strangers_are_never_cached_so_a_grant_works_at_once():
    cache = RequesterCache(ttl_seconds=10)
    cache.remember(_requester(role=None))
    assert cache.get("T1", "U1") is None


def test_forget_and_zero_ttl():
    cache = RequesterCache(ttl_seconds=10)
    cache.remember(_requester())
    cache.forget("T1", "U1")
    assert cache.get("T1", "U1") is None
    disabled = RequesterCache(ttl_seconds=0)
    disabled.remember(_requester())
    assert disabled.get("T1", "U1") is None


def test_the_cache_stays_bounded():
    cache = RequesterCache(ttl_seconds=10, max_entries=3)
    for n in range(10):
        cache.remember(_requester(user=f"U{n}"))
    assert sum(cache.get("T1", f"U{n}") is not None for n in range(10)) <= 3
    assert cache.get("T1", "U9") is not None


def test_workspaces_do_not_share_entries():
    cache = RequesterCache(ttl_seconds=10)
    cache.remember(_requester())
    assert cache.get("T2", "U1") is None
