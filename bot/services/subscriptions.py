"""Subscriptions: channels and people asking for alerts and notices, with filters.

Owners and admins subscribe channels; anyone on staff subscribes themselves. A
member only ever hears about the customers assigned to them: their subscription
without customers names those customers explicitly, so what it covers is stored,
not worked out again at delivery time. Every change is audited (R22).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role
from bot.domain.subscriptions import EXAMPLE, HERE, ME, SubscriptionSpec, is_channel_id
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.results.subscriptions import SubscriptionFilters, SubscriptionList, SubscriptionRow
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.tenancy import STAFF, Permission, Requester
from storage.models import AlertSubscription
from storage.repositories import audit as audit_repo
from storage.repositories import subscriptions as repo

NOT_STAFF = "Only the MSP's staff can subscribe."

CHANNEL, PERSON = "channel", "person"
CHANNELS_FOR_MANAGERS = (
    "Only owners and admins can subscribe a channel. To get these yourself: "
    "/msp subscribe me alerts"
)

# Who may route what: anyone on staff subscribes themselves; owners and admins
# route channels and see and remove everyone's subscriptions.
SUBSCRIBE = Permission(STAFF, NOT_STAFF, NOT_STAFF)
MANAGE = Permission(frozenset({Role.OWNER, Role.ADMIN}), CHANNELS_FOR_MANAGERS, NOT_STAFF)


@dataclass(frozen=True, slots=True)
class Picked:
    """Customers chosen by id (the modal's type-ahead) rather than typed by name."""

    include: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()


def _target(requester: Requester, spec: SubscriptionSpec, here: str) -> tuple[str, str]:
    """`me`, or `here` typed in a DM (which is the person's own), go to the person."""
    if spec.target == ME or (spec.target == HERE and (not here or here.startswith("D"))):
        return requester.user_id, PERSON
    channel = here if spec.target == HERE else spec.target
    MANAGE.check(requester)
    if not is_channel_id(channel):
        raise InvalidInput(f"Subscribe a channel, or me. {EXAMPLE}")
    return channel, CHANNEL


async def _customer_id(
    session: AsyncSession, requester: Requester, name: str, now: datetime
) -> int:
    try:
        found = await customer_service.find_one(
            session, requester=requester, query=name, now=now, example="subscribe customer="
        )
    except NotFound:
        raise InvalidInput(f"No customer you can see is called “{name[:80]}”. {EXAMPLE}") from None
    return found.id


async def _ids(
    session: AsyncSession, requester: Requester, names: tuple[str, ...], now: datetime
) -> list[int]:
    return [await _customer_id(session, requester, name, now) for name in names]


async def _check_picked(session: AsyncSession, requester: Requester, picked: Picked) -> None:
    wanted = {*picked.include, *picked.exclude}
    seen = await repo.visible_ids(
        session,
        msp_id=requester.msp_id,
        customer_ids=wanted,
        assigned_to=customer_service.assigned_filter(requester),
    )
    if seen != wanted:
        raise NotFound("One of those customers does not exist, or is not assigned to you.")


async def _customers(
    session: AsyncSession,
    requester: Requester,
    spec: SubscriptionSpec,
    picked: Picked | None,
    now: datetime,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Included and excluded ids, sorted. A member's "all customers" is their own."""
    if picked is not None:
        await _check_picked(session, requester, picked)
        included, excluded = list(picked.include), list(picked.exclude)
    else:
        included = await _ids(session, requester, spec.include, now)
        excluded = await _ids(session, requester, spec.exclude, now)
    if set(included) & set(excluded):
        raise InvalidInput(f"A customer cannot be both included and excluded. {EXAMPLE}")
    if not included and SUBSCRIBE.check(requester) == Role.MEMBER:
        included = await repo.assigned_ids(
            session, msp_id=requester.msp_id, user_id=requester.user_id
        )
        if not included:
            raise NotAllowed(
                "No customers are assigned to you yet, so there is nothing to subscribe to. "
                "Ask an admin to assign you some."
            )
    return tuple(sorted(set(included))), tuple(sorted(set(excluded)))


async def _resolve(
    session: AsyncSession,
    requester: Requester,
    spec: SubscriptionSpec,
    here: str,
    now: datetime,
    picked: Picked | None = None,
    person_timezone: str | None = None,
) -> SubscriptionFilters:
    target, kind = _target(requester, spec, here)
    if kind == CHANNEL and spec.quiet_start is not None:
        raise InvalidInput(f"Quiet hours are for people, not channels. {EXAMPLE}")
    included, excluded = await _customers(session, requester, spec, picked, now)
    return SubscriptionFilters(
        target=target,
        target_kind=kind,
        topics=tuple(sorted(spec.topics)),
        min_severity=spec.min_severity,
        customers_included=included,
        customers_excluded=excluded,
        kinds=tuple(sorted(spec.kinds)),
        quiet_start=spec.quiet_start,
        quiet_end=spec.quiet_end,
        quiet_timezone=person_timezone if spec.quiet_start is not None else None,
        group_by=spec.grouping.by.value,
        group_minutes=spec.grouping.minutes,
    )


def _resolved_of(subscription: AlertSubscription) -> SubscriptionFilters:
    """A stored subscription in the same normal form, to compare filters."""
    return _filters_of(
        {field.name: getattr(subscription, field.name) for field in fields(SubscriptionFilters)}
    )


def _same_filters(first: SubscriptionFilters, second: SubscriptionFilters) -> bool:
    """Quiet hours and grouping are when and how, not what: they do not make a
    second subscription."""
    return _what(first) == _what(second)


def filters_key(resolved: SubscriptionFilters) -> str:
    """What the database's unique index compares, so two people subscribing the
    same thing at the same moment make one subscription, not two. The same form
    as migration 0018 computes for the rows it found."""
    what = [
        resolved.target,
        *(list(part) if isinstance(part, tuple) else part for part in _what(resolved)),
    ]
    return hashlib.sha256(json.dumps(what, separators=(",", ":")).encode()).hexdigest()


def _what(resolved: SubscriptionFilters) -> tuple[object, ...]:
    return (
        resolved.topics,
        resolved.min_severity,
        resolved.customers_included,
        resolved.customers_excluded,
        resolved.kinds,
    )


async def _existing(
    session: AsyncSession, requester: Requester, wanted: SubscriptionFilters
) -> AlertSubscription | None:
    rows = await repo.listing(session, msp_id=requester.msp_id, target=wanted.target)
    return next((row for row in rows if _same_filters(_resolved_of(row), wanted)), None)


def _whom(resolved: SubscriptionFilters) -> str:
    return "you" if resolved.target_kind == PERSON else "that channel"


async def subscribe(
    session: AsyncSession,
    *,
    requester: Requester,
    spec: SubscriptionSpec,
    here: str,
    now: datetime,
    picked: Picked | None = None,
    person_timezone: str | None = None,
) -> SubscriptionRow:
    """`here`: the conversation the person is in (what HERE means).
    `person_timezone`: the person's own zone (Slack's), which their quiet hours are
    read in; without it, the MSP's."""
    wanted = await _resolve(session, requester, spec, here, now, picked, person_timezone)
    duplicate = await _existing(session, requester, wanted)
    if duplicate is not None:
        raise InvalidInput(
            f"There already is a subscription with these filters for {_whom(wanted)} "
            f"(#{duplicate.id}), so nothing changed. /msp subscriptions lists them."
        )
    return await _create(session, requester, wanted, now)


async def _create(
    session: AsyncSession, requester: Requester, wanted: SubscriptionFilters, now: datetime
) -> SubscriptionRow:
    try:
        subscription = await repo.add(session, _new(requester, wanted, now))
    except IntegrityError:
        # Someone made the same one a moment ago (both passed the check above):
        # the unique index keeps one. The transaction is lost, so no number.
        raise InvalidInput(
            f"There already is a subscription with these filters for {_whom(wanted)}, "
            "made a moment ago, so nothing changed. /msp subscriptions lists them."
        ) from None
    row = await _row(session, requester, subscription)
    await _audit(session, requester, audit.AuditAction.SUBSCRIPTION_CREATED, row, now)
    return row


def _new(requester: Requester, wanted: SubscriptionFilters, now: datetime) -> AlertSubscription:
    return AlertSubscription(
        msp_id=requester.msp_id,
        created_by=requester.user_id,
        created_at=now,
        filters_key=filters_key(wanted),
        **wanted.columns(),
    )


async def unsubscribe(
    session: AsyncSession,
    *,
    requester: Requester,
    spec: SubscriptionSpec,
    here: str,
    now: datetime,
) -> SubscriptionRow:
    """The subscription with exactly these filters, for this target."""
    wanted = await _resolve(session, requester, spec, here, now)
    found = await _existing(session, requester, wanted)
    if found is None:
        raise NotFound(
            f"There is no subscription with those filters for {_whom(wanted)}. "
            "/msp subscriptions lists them, each with a Remove button."
        )
    return await _remove(session, requester, found, now)


async def remove(
    session: AsyncSession, *, requester: Requester, subscription_id: int, now: datetime
) -> SubscriptionRow:
    """By id (the list's Remove button, `/msp unsubscribe #ID`)."""
    found = await repo.get(session, msp_id=requester.msp_id, subscription_id=subscription_id)
    if found is None or not _may_remove(requester, found):
        raise NotFound(f"There is no subscription #{subscription_id} you can remove.")
    return await _remove(session, requester, found, now)


async def restore(
    session: AsyncSession, *, requester: Requester, subscription_id: int, now: datetime
) -> SubscriptionRow:
    """Undo a removal: the subscription made again with the filters it had, read from
    its removal's audit event. Allowed to whoever could have removed it; refused
    when one with the same filters is already back."""
    removed = await audit_repo.latest(
        session,
        msp_id=requester.msp_id,
        action=audit.AuditAction.SUBSCRIPTION_REMOVED,
        entity_type="subscription",
        entity_id=str(subscription_id),
    )
    if removed is None or not isinstance(removed.before, dict):
        raise NotFound(f"There is no removed subscription #{subscription_id} to bring back.")
    wanted = _filters_of(removed.before)
    if not _may_remove(requester, AlertSubscription(**wanted.columns())):
        raise NotFound(f"There is no removed subscription #{subscription_id} to bring back.")
    back = await _existing(session, requester, wanted)
    if back is not None:
        raise InvalidInput(f"It is back already, as #{back.id}. /msp subscriptions lists them.")
    return await _create(session, requester, wanted, now)


def _filters_of(stored: dict[str, object]) -> SubscriptionFilters:
    """SubscriptionFilters in their normal form (lists sorted) from plain values: a
    row's columns, or what an audit event keeps of them."""
    # An event from before a field existed lacks it: the field's default then.
    known = [field.name for field in fields(SubscriptionFilters)]
    values = {name: stored[name] for name in known if name in stored}
    return SubscriptionFilters(
        **{
            name: tuple(sorted(value)) if isinstance(value, list) else value
            for name, value in values.items()
        }
    )


async def _remove(
    session: AsyncSession, requester: Requester, found: AlertSubscription, now: datetime
) -> SubscriptionRow:
    row = await _row(session, requester, found)
    if not await repo.remove(session, msp_id=requester.msp_id, subscription_id=found.id):
        raise NotFound(f"Subscription #{found.id} was already removed.")
    await _audit(session, requester, audit.AuditAction.SUBSCRIPTION_REMOVED, row, now)
    return row


def _may_remove(requester: Requester, subscription: AlertSubscription) -> bool:
    SUBSCRIBE.check(requester)
    if MANAGE.allows(requester):
        return True
    return subscription.target_kind == PERSON and subscription.target == requester.user_id


async def list_subscriptions(session: AsyncSession, *, requester: Requester) -> SubscriptionList:
    """Owners and admins see the MSP's; everyone else their own."""
    SUBSCRIBE.check(requester)
    everyone = MANAGE.allows(requester)
    found = await repo.listing(
        session, msp_id=requester.msp_id, target=None if everyone else requester.user_id
    )
    names = await repo.customer_names(
        session,
        msp_id=requester.msp_id,
        customer_ids={
            i for row in found for i in (*row.customers_included, *row.customers_excluded)
        },
    )
    return SubscriptionList(
        rows=[_row_of(requester, row, names) for row in found],
        can_subscribe_channels=everyone,
        everyone=everyone,
    )


def _customer_ids(subscription: AlertSubscription) -> set[int]:
    return {*subscription.customers_included, *subscription.customers_excluded}


async def _row(
    session: AsyncSession, requester: Requester, subscription: AlertSubscription
) -> SubscriptionRow:
    names = await repo.customer_names(
        session,
        msp_id=requester.msp_id,
        customer_ids=_customer_ids(subscription),
    )
    return _row_of(requester, subscription, names)


def _row_of(
    requester: Requester, subscription: AlertSubscription, names: dict[int, str]
) -> SubscriptionRow:
    def named(ids: list[int]) -> tuple[str, ...]:
        return tuple(names.get(i, f"customer #{i} (deleted)") for i in ids)

    return SubscriptionRow(
        id=subscription.id,
        filters=_resolved_of(subscription),
        included=named(subscription.customers_included),
        excluded=named(subscription.customers_excluded),
        created_by=subscription.created_by,
        can_remove=_may_remove(requester, subscription),
    )


async def _audit(
    session: AsyncSession,
    requester: Requester,
    action: audit.AuditAction,
    row: SubscriptionRow,
    now: datetime,
) -> None:
    plain = {
        **row.filters.columns(),
        "included": list(row.included),
        "excluded": list(row.excluded),
    }
    created = action == audit.AuditAction.SUBSCRIPTION_CREATED
    await audit_repo.append(
        session,
        msp_id=requester.msp_id,
        actor=requester.user_id,
        action=action,
        entity_type="subscription",
        entity_id=str(row.id),
        before=None if created else plain,
        after=plain if created else None,
        at=now,
    )
