"""The delivery worker: claims the head of each lane, sends it, records the outcome.

Claiming is a short transaction that marks items `sending` with a lease; sending
happens outside any transaction; recording is another short transaction. If the
process dies after Slack accepted a message but before the outcome was recorded,
the lease runs out and the message is sent again: at most one duplicate of each
message in flight (`concurrency` of them), never a lost message (docs/DELIVERY.md).
A process that lives on while the database is away (a restart) keeps the outcomes
it could not record and records them first when the database answers again, so the
message is not sent twice unless another replica claimed it in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackTokenRotationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.delivery.limits import DeliveryLimits, TierLimiter, gcra
from bot.delivery.outbox import THREAD_KEY, THREAD_ONLY, Kind
from bot.delivery.sender import (
    COULD_NOT_CONNECT,
    Failed,
    JoinAndRetry,
    Outcome,
    Retry,
    Sender,
    Sent,
)
from bot.delivery.tokens import BotTokens
from bot.net_guard import Destinations
from storage.engine import Database, is_database_unavailable
from storage.models import Msp, OutboxItem
from storage.repositories import outbox as outbox_repo

logger = logging.getLogger(__name__)
PACED_KINDS = frozenset({Kind.POST, Kind.UPDATE, Kind.EPHEMERAL, Kind.UPLOAD})
NOT_INSTALLED = "not_installed"
# Slack refused the token itself: whatever this replica remembers of it is stale.
REFUSED_TOKEN_ERRORS = frozenset({"invalid_auth", "token_revoked", "token_expired"})
WORKSPACE_RECHECK_SECONDS = 5.0
# Recording an outcome is retried for up to half the lease, from 0.1 s to 2 s apart.
RECORD_RETRY_FIRST_S, RECORD_RETRY_MAX_S, RECORD_RETRY_LEASE_SHARE = 0.1, 2.0, 0.5
# The one payload a run of coalescible payloads queued in a lane becomes: given the
# lane's channel and their payloads, the digest's. What it says is not the worker's
# to decide, so it is handed in (bot.notify.digest.digest_payload).
Digest = Callable[[str, list[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Workspace:
    team_id: str
    disabled: bool
    until: float  # monotonic: read again after this


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeliveryStats:
    """This process's counters (queue depth and age come from the database)."""

    sent: Counter[str] = field(default_factory=Counter)  # by kind
    failed: Counter[str] = field(default_factory=Counter)  # by reason
    retried: Counter[str] = field(default_factory=Counter)  # by reason
    rate_limited: int = 0
    coalesced: int = 0


class DeliveryWorker:
    def __init__(
        self,
        *,
        db: Database,
        sender: Sender,
        limits: DeliveryLimits,
        digest: Digest,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        tokens: BotTokens | None = None,
    ) -> None:
        self.db = db
        self.sender = sender
        self.digest = digest
        # None: every message goes with the sender's client's own token (tests).
        self.tokens = tokens
        self._workspaces: dict[int, _Workspace] = {}
        self.limits = limits
        self.clock = clock
        self.stats = DeliveryStats()
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._busy = 0  # claimed and not yet recorded (at most `concurrency`)
        # item id -> (the claim it was sent under, its outcome): sent, not yet recorded.
        self._unrecorded: dict[int, tuple[int, Outcome]] = {}

    @classmethod
    def build(  # type: ignore[no-untyped-def]
        cls,
        *,
        db: Database,
        client,
        limits: DeliveryLimits,
        digest: Digest,
        tokens: BotTokens,
        webhook_secret: str | None = None,
        webhook_destinations: Destinations | None = None,
    ) -> DeliveryWorker:
        sender = Sender(
            client,
            TierLimiter(limits.per_minute),
            webhook_secret=webhook_secret,
            webhook_destinations=webhook_destinations,
        )
        return cls(db=db, sender=sender, limits=limits, digest=digest, tokens=tokens)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (called after a commit)."""
        self._wake.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; let the sends in flight finish and be recorded."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=timeout)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self.run_once()
            except Exception:  # the worker must outlive a bad round (e.g. database down)
                logger.exception("delivery round failed; retrying shortly")
                claimed = 0
            if claimed == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.limits.poll_seconds)

    # ------------------------------------------------------------ one round

    async def run_once(self) -> int:
        """Claim what is due and start sending it; returns how many were claimed."""
        # Claim no more than can be sent now: an item claimed but waiting for a send
        # slot could outlive its lease and be claimed (and sent) a second time.
        free = self.limits.concurrency - self._busy
        if free <= 0:
            return 0
        await self._record_remembered()
        claimed = await self._claim(free)
        self._busy += len(claimed)
        for item in claimed:
            task = asyncio.create_task(self._deliver(item))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(claimed)

    async def drain(self, timeout: float = 30.0) -> None:
        """Run rounds until the outbox has nothing left to send (tests, benchmarks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            claimed = await self.run_once()
            if self._in_flight:
                await asyncio.wait(set(self._in_flight), timeout=1.0)
                continue
            if claimed == 0:
                async with self.db.unit_of_work() as session:
                    waiting, _oldest = await outbox_repo.depth_and_oldest(session)
                if waiting == 0:
                    return
                await asyncio.sleep(self.limits.poll_seconds)
        raise TimeoutError("the outbox did not drain in time")

    async def _claim(self, free: int) -> list[OutboxItem]:
        """Claim up to `free` items among a batch of lane heads: heads whose lane
        must wait are postponed, so looking at a whole batch keeps the slots busy
        with lanes that may go now."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.limits.lease_seconds)
        claimed: list[OutboxItem] = []
        async with self.db.unit_of_work() as session:
            heads = await outbox_repo.claimable_heads(session, now=now, limit=self.limits.batch)
            for item in heads:
                if len(claimed) >= free:
                    break  # the rest stay due, untouched, for the next round
                if Kind(item.kind) in PACED_KINDS and not await self._pace(session, item, now):
                    continue
                session.expunge(item)  # from here on, only the conditional UPDATE writes it
                if not await outbox_repo.claim(
                    session, item=item, now=now, lease_until=lease_until
                ):
                    continue  # another replica got there first
                item.status, item.attempts = "sending", item.attempts + 1
                # A retried digest is not merged again: it already stands for its
                # run, and merging it would replace the digest with a digest of it.
                if item.coalescible and item.kind == Kind.POST and item.original_payload is None:
                    await self._maybe_coalesce(session, item, now)
                claimed.append(item)
        return claimed

    async def _pace(self, session, item: OutboxItem, now: datetime) -> bool:  # type: ignore[no-untyped-def]
        """Slack allows about one message a second per channel: hold the lane otherwise."""
        lane = await outbox_repo.lane_for_update(
            session, msp_id=item.msp_id, lane=item.lane, now=now
        )
        allowed, tat, allow_at = gcra(
            tat=lane.tat,
            now=now,
            per_second=self.limits.channel_per_second,
            burst=self.limits.channel_burst,
            margin=self.limits.channel_margin_seconds,
        )
        if not allowed:
            await outbox_repo.postpone(session, item_id=item.id, until=allow_at)
            return False
        lane.tat = tat
        return True

    async def _maybe_coalesce(self, session, head: OutboxItem, now: datetime) -> None:  # type: ignore[no-untyped-def]
        """Merge the coalescible items queued behind `head` into it: posts in the
        channel right behind it, or replies to the same thread (whose digest stays
        in that thread)."""
        thread = head.payload.get(THREAD_KEY)
        followers = await outbox_repo.coalescible_run(
            session,
            msp_id=head.msp_id,
            lane=head.lane,
            from_id=head.id + 1,
            limit=self.limits.coalesce_max - 1,
            now=now,
            thread_key=thread,
        )
        if len(followers) + 1 < self.limits.coalesce_threshold:
            return
        payloads = [head.payload] + [item.payload for item in followers]
        merged = self.digest(head.lane, payloads)
        if thread is not None:
            merged |= {
                key: head.payload[key] for key in (THREAD_KEY, THREAD_ONLY) if key in head.payload
            }
        await outbox_repo.replace_payload(
            session, item_id=head.id, payload=merged, original=head.payload
        )
        head.original_payload, head.payload = head.payload, merged
        for item in followers:
            item.status = "coalesced"
            item.coalesced_into = head.id
            item.updated_at = now
        self.stats.coalesced += len(followers)

    # ------------------------------------------------------------ one item

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            async with self._slots:
                workspace = await self._workspace(item.msp_id)
                outcome = await self._send(item, workspace)
                if (
                    isinstance(outcome, Failed)
                    and outcome.reason in REFUSED_TOKEN_ERRORS
                    and workspace is not None
                    and self.tokens is not None
                ):
                    # A reinstall (or a rotation on another replica) may have replaced
                    # the token remembered here: the next item looks it up afresh.
                    self.tokens.forget(workspace.team_id)
                await self._record(item.id, item.attempts, outcome)
        finally:
            self._busy -= 1  # before the loop wakes (in _record), so it may claim again

    async def _send(self, item: OutboxItem, workspace: _Workspace | None) -> Outcome:
        if workspace is None:
            return Failed("msp_not_found")
        if workspace.disabled and item.kind != Kind.WEBHOOK:
            # Uninstalled (or tokens revoked): nothing can reach that workspace. (A
            # webhook goes to the MSP's own systems, not to Slack: it still goes.)
            return Failed(NOT_INSTALLED)
        token: str | None = None
        if self.tokens is not None and item.kind != Kind.WEBHOOK:
            try:
                token = await self.tokens.token_for(workspace.team_id)
            except SlackTokenRotationError as error:  # refused, and nobody else rotated it
                code = error.api_error.response.get("error") if error.api_error else None
                return Retry(reason=f"token_rotation: {code}")
            if token is None:
                return Failed(NOT_INSTALLED)
        target = await self._target(item)
        try:
            outcome = await asyncio.wait_for(
                self.sender.send(item, token=token, target=target, team_id=workspace.team_id),
                self.limits.request_timeout_seconds * 4,
            )
        except TimeoutError:
            # A webhook says no more than the sender would (no socket detail).
            outcome = Retry(reason=COULD_NOT_CONNECT if item.kind == Kind.WEBHOOK else "timeout")
        if isinstance(outcome, JoinAndRetry):
            joined = await self.sender.join(outcome.channel, token=token)
            outcome = (
                Retry(reason="joined", after_seconds=0) if joined else Failed("not_in_channel")
            )
        return outcome

    async def _workspace(self, msp_id: int) -> _Workspace | None:
        """The item's workspace (its team id never changes; whether it is disabled is
        read again every few seconds, so an uninstall stops deliveries quickly, and
        at once while it is disabled, so a reinstall starts them at once)."""
        known = self._workspaces.get(msp_id)
        now = time.monotonic()
        if known is not None and known.until > now:
            return known
        async with self.db.unit_of_work() as session:
            row = (
                await session.execute(select(Msp.team_id, Msp.disabled_at).where(Msp.id == msp_id))
            ).first()
        if row is None:
            return None
        known = _Workspace(row[0], row[1] is not None, now + WORKSPACE_RECHECK_SECONDS)
        if not known.disabled:  # a disabled one is read again: it may install any moment
            self._workspaces[msp_id] = known
        return known

    async def _target(self, item: OutboxItem) -> OutboxItem | None:
        """An update's target message, or a reply's parent."""
        target_key = item.payload.get("target_key") if item.kind == Kind.UPDATE else None
        if item.kind == Kind.POST:
            target_key = item.payload.get(THREAD_KEY)
        if target_key is None:
            return None
        async with self.db.unit_of_work() as session:
            target = await outbox_repo.by_key(session, msp_id=item.msp_id, key=target_key)
            if (
                item.kind == Kind.POST
                and target is not None
                and target.status == "coalesced"
                and target.coalesced_into is not None
            ):
                # A reply whose parent was merged into a digest goes into the
                # digest's thread, which lists the parent.
                return await session.get(OutboxItem, target.coalesced_into)
            return target

    async def _record(self, item_id: int, claim: int, outcome: Outcome) -> None:
        """Write the outcome; while the database is away (a restart), keep trying for
        a good part of the lease, then remember it for the next round: an unrecorded
        send is claimed again when its lease runs out, and Slack would show that
        message twice (tests/resilience)."""
        delay, waited = RECORD_RETRY_FIRST_S, 0.0
        try:
            while True:
                try:
                    await self._write_outcome(item_id, claim, outcome)
                    return
                except Exception as error:
                    if not (is_database_unavailable(error) or isinstance(error, OperationalError)):
                        raise  # a bug, not the database being away (or busy)
                    if waited >= self.limits.lease_seconds * RECORD_RETRY_LEASE_SHARE:
                        logger.warning(
                            "could not record the delivery of outbox item %d (%s): it is "
                            "recorded when the database answers again",
                            item_id,
                            type(error).__name__,
                        )
                        self._unrecorded[item_id] = (claim, outcome)
                        return
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, RECORD_RETRY_MAX_S)
        finally:
            self._wake.set()  # the lane's next item may go now, not at the next poll

    async def _record_remembered(self) -> None:
        """Record the outcomes the database could not take when they came, before
        claiming: their items, whose leases may have run out, are then not sent again."""
        for item_id, (claim, outcome) in list(self._unrecorded.items()):
            try:
                await self._write_outcome(item_id, claim, outcome)
            except Exception as error:
                if is_database_unavailable(error) or isinstance(error, OperationalError):
                    return  # still away: the next round tries again
                raise
            del self._unrecorded[item_id]

    async def _write_outcome(self, item_id: int, claim: int, outcome: Outcome) -> None:
        """Record `outcome` of the send made under `claim` (the item's attempts once
        claimed), unless a later claim (another replica, after the lease ran out) has
        taken the item since: its own outcome is the one to keep."""
        now = self.clock()
        async with self.db.unit_of_work() as session:
            item = await session.get(OutboxItem, item_id)
            if item is None or item.status != "sending" or item.attempts != claim:
                return
            item.updated_at = now
            item.lease_until = None
            if isinstance(outcome, Sent):
                item.status = "sent"
                item.ts = outcome.ts
                item.sent_channel = outcome.channel
                item.sent_at = now
                item.last_error = None
                self.stats.sent[item.kind] += 1
            elif isinstance(outcome, Failed):
                self._fail(item, outcome.reason)
            elif isinstance(outcome, Retry):
                if outcome.reason == "joined":
                    item.join_tried = True
                await self._retry(session, item, outcome, now)

    def _fail(self, item: OutboxItem, reason: str) -> None:
        item.status = "failed"
        item.last_error = reason[:200]
        self.stats.failed[reason] += 1
        logger.warning("delivery of %s to %s failed for good: %s", item.key, item.lane, reason)

    async def _retry(self, session, item: OutboxItem, outcome: Retry, now: datetime) -> None:  # type: ignore[no-untyped-def]
        if outcome.reason != "joined" and item.attempts >= self.limits.max_attempts:
            self._fail(item, f"gave_up: {outcome.reason}")
            return
        self.stats.retried[outcome.reason] += 1
        if outcome.after_seconds is not None:
            delay = outcome.after_seconds
        else:
            base = self.limits.retry_base_seconds * 2 ** max(0, item.attempts - 1)
            delay = min(self.limits.retry_cap_seconds, base) * self._rng.uniform(0.5, 1.5)
        item.status = "pending"
        item.last_error = outcome.reason[:200]
        item.next_attempt_at = now + timedelta(seconds=delay)
        if outcome.rate_limited:
            self.stats.rate_limited += 1
            if Kind(item.kind) in PACED_KINDS:
                # Slack's own verdict on this channel: nothing goes there before it allows.
                lane = await outbox_repo.lane_for_update(
                    session, msp_id=item.msp_id, lane=item.lane, now=now
                )
                lane.tat = max(lane.tat, item.next_attempt_at)
            else:
                self.sender.tiers.pause("views.publish", delay)
